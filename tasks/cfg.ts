// Command-line arguments in Ultralytics' style: `yolo [task] mode key=value ...`.
import { DEFAULT_CFG } from './train/args.js';

export type CfgValue = string | number | boolean | null | CfgValue[];

export const TASKS = ['pose'] as const;
export const MODES = [
  'train',
  'val',
  'predict',
  'track',
  'export',
  'info',
  'demo',
  'app',
  'checks',
  'version',
  'settings',
  'cfg',
  'copy-cfg',
  'help',
] as const;

export interface ParsedArgs {
  task: string;
  mode: string;
  overrides: Record<string, CfgValue>;
}

/** Parses one value like Ultralytics' smart_value: numbers, true/false, None/null, [lists]. */
export function parseValue(v: string): CfgValue {
  const s = v.trim();
  const lower = s.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  if (lower === 'none' || lower === 'null') return null;
  if (/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(s)) return Number(s);
  if ((s.startsWith('[') && s.endsWith(']')) || (s.startsWith('(') && s.endsWith(')')))
    return s
      .slice(1, -1)
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)
      .map(parseValue);
  return s.replace(/^['"](.*)['"]$/, '$1');
}

export function parseArgs(argv: string[]): ParsedArgs {
  let task = 'pose',
    mode = '';
  const overrides: Record<string, CfgValue> = {};
  for (const arg of argv) {
    const eq = arg.indexOf('=');
    if (eq > 0) {
      const key = arg.slice(0, eq).replace(/^-+/, '').replace(/-/g, '_');
      overrides[key] = parseValue(arg.slice(eq + 1));
    } else if ((TASKS as readonly string[]).includes(arg)) task = arg;
    else if ((MODES as readonly string[]).includes(arg) || arg === '--help' || arg === '-h') {
      if (mode) throw new Error(`yolo: two modes given ('${mode}' and '${arg}'); expected one of ${MODES.join(', ')}`);
      mode = arg.startsWith('-') ? 'help' : arg;
    } else if (typeof (DEFAULT_CFG as Record<string, unknown>)[arg] === 'boolean') {
      overrides[arg] = true; // a bare boolean key, e.g. `yolo train resume`, as Ultralytics' entrypoint
    } else if (['detect', 'segment', 'classify', 'obb'].includes(arg)) {
      throw new Error(`yolo: task '${arg}' is not supported by this toolkit (it implements: ${TASKS.join(', ')})`);
    } else {
      throw new Error(
        `yolo: '${arg}' is not a valid mode or key=value pair; expected one of ${MODES.join(', ')} followed by key=value arguments`,
      );
    }
  }
  return { task, mode: mode || 'help', overrides };
}
