// User settings, as Ultralytics' SettingsManager keeps them: one file in the user's config folder
// ($YOLO_CONFIG_DIR, else $XDG_CONFIG_HOME/yolo-ts, else ~/.config/yolo-ts), created with defaults
// on first use and checked on every read. `yolo settings`, `yolo settings key=value`,
// `yolo settings reset`. And `yolo cfg` / `yolo copy-cfg` for default.yaml.
//
//   datasets_dir  where `download:` datasets are fetched to and bare dataset paths resolve
//   weights_dir   recorded as Ultralytics does; checkpoints download beside the working folder
//   runs_dir      the root of runs/<task>/<mode>N output folders
//
// Imports: ./train/args (default.yaml and its helpers), node.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, unlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DEFAULT_CFG, argsToYaml, closeMatches, fmt } from './train/args.js';
import { parseValue } from './cfg.js';

export const SETTINGS_VERSION = '0.0.1';

export interface Settings {
  settings_version: string;
  datasets_dir: string;
  weights_dir: string;
  runs_dir: string;
  uuid: string;
}

/** The user's config folder (Ultralytics' USER_CONFIG_DIR, with YOLO_CONFIG_DIR honoured). */
export function userConfigDir(): string {
  if (process.env.YOLO_CONFIG_DIR) return resolve(process.env.YOLO_CONFIG_DIR);
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'yolo-ts');
}

export const settingsFile = () => join(userConfigDir(), 'settings.json');

/** Defaults made when the file is first written: folders under the working folder, a fresh uuid. */
export function defaultSettings(): Settings {
  return {
    settings_version: SETTINGS_VERSION,
    datasets_dir: resolve('datasets'),
    weights_dir: 'weights',
    runs_dir: 'runs',
    uuid: randomUUID(),
  };
}

function write(file: string, s: Settings) {
  mkdirSync(userConfigDir(), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n');
  renameSync(tmp, file);
}

/**
 * The settings, created with defaults if the file is missing. A file that is not valid JSON, or
 * whose keys or value types differ from the defaults', is reset with Ultralytics' warning.
 */
export function loadSettings(log: (s: string) => void = console.warn): Settings {
  const file = settingsFile();
  const def = defaultSettings();
  if (!existsSync(file)) {
    write(file, def);
    return def;
  }
  let s: Record<string, unknown> | null = null;
  try {
    s = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    /* reset below */
  }
  const ok =
    s &&
    typeof s === 'object' &&
    Object.keys(def).every((k) => typeof s![k] === typeof (def as unknown as Record<string, unknown>)[k]) &&
    Object.keys(s).every((k) => k in def);
  if (!ok) {
    log(
      `WARNING ⚠️ yolo-ts settings reset to default values. This may be due to a possible problem with your settings or a recent package update. \nView settings with 'yolo settings' or at '${file}'\nUpdate settings with 'yolo settings key=value', i.e. 'yolo settings runs_dir=path/to/dir'.`,
    );
    write(file, def);
    return def;
  }
  return s as unknown as Settings;
}

/** Updates some settings; keys must exist and keep their type (strings here). */
export function updateSettings(updates: Record<string, unknown>): Settings {
  const s = loadSettings();
  for (const [k, v] of Object.entries(updates)) {
    if (!(k in s)) {
      const m = closeMatches(k, Object.keys(s));
      throw new Error(
        `'${k}' is not a valid yolo-ts setting.${m.length ? ` Similar settings are i.e. ${m.join(', ')}.` : ''} Valid settings are ${Object.keys(s).join(', ')}`,
      );
    }
    if (k === 'settings_version') throw new Error('settings_version is written by yolo-ts and cannot be set');
    if (typeof v !== 'string' && typeof v !== 'number')
      throw new Error(`settings: ${k}=${fmt(v)} must be a path or text`);
    (s as unknown as Record<string, unknown>)[k] = String(v);
  }
  write(settingsFile(), s);
  return s;
}

export function resetSettings(): Settings {
  const file = settingsFile();
  if (existsSync(file)) unlinkSync(file);
  return loadSettings();
}

/** `yolo settings [reset] [key=value ...]` */
export function settingsCli(argv: string[], log: (s: string) => void = console.log): number {
  const updates: Record<string, unknown> = {};
  let reset = false;
  for (const a of argv) {
    const eq = a.indexOf('=');
    if (a === 'reset') reset = true;
    else if (eq > 0) updates[a.slice(0, eq)] = parseValue(a.slice(eq + 1));
    else throw new Error(`yolo settings: '${a}' is neither 'reset' nor a key=value pair`);
  }
  if (reset) {
    resetSettings();
    log('Settings reset successfully');
  }
  if (Object.keys(updates).length) {
    updateSettings(updates);
    log('💡 Settings updated successfully');
  }
  const s = loadSettings();
  log(`Printing '${settingsFile()}'\n\n${JSON.stringify(s, null, 2)}`);
  return 0;
}

/** `yolo cfg`: default.yaml, as the checks and args.yaml read it. */
export function cfgCli(log: (s: string) => void = console.log): number {
  log(`Printing default.yaml (Ultralytics 8.2.82's keys and defaults)\n\n${argsToYaml(DEFAULT_CFG)}`);
  return 0;
}

/** `yolo copy-cfg`: default_copy.yaml in the working folder, to edit and pass as cfg=. */
export function copyCfgCli(log: (s: string) => void = console.log): number {
  const file = resolve('default_copy.yaml');
  writeFileSync(file, argsToYaml(DEFAULT_CFG));
  log(
    `default.yaml copied to ${file}\nExample YOLO command with this new custom cfg:\n    yolo cfg='${file}' imgsz=320 batch=8`,
  );
  return 0;
}
