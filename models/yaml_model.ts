// A model yaml read from disk, as Ultralytics' yaml_model_load + parse_model read it: `nc`,
// `kpt_shape`, `scales` (the scale guessed from the file name, yolov8{n,s,m,l,x}...; else the first
// one) or depth_multiple/width_multiple, and the `backbone` + `head` layer lists. A file whose
// layers are the stock yolov8-pose[-p6] ones builds exactly today's model (same metadata, no
// table stored); any other table is stored in PoseYaml.cfg and built from there. Errors name the
// file and line: an unknown module, a malformed layer, a `from` that points forward.
//
// Imports: node, yaml, ./yolov8_pose.

import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { LineCounter, parseDocument, isSeq, type Node } from 'yaml';
import { InputError } from '../engine/errors.js';
import type { Device } from '../engine/index.js';
import {
  PoseModel,
  YOLOV8_POSE,
  YOLOV8_POSE_P6,
  type LayerSpec,
  type ModuleName,
  type PoseConfig,
  type PoseYaml,
  type Scale,
} from './yolov8_pose.js';

const MODULES: ModuleName[] = ['Conv', 'C2f', 'C2', 'SPPF', 'nn.Upsample', 'Concat', 'Pose'];
const SCALE_NAMES: Scale[] = ['n', 's', 'm', 'l', 'x'];

/** Ultralytics' guess_model_scale: the letter after yolov<digits> in the file's stem, or null. */
export function guessModelScale(file: string): Scale | null {
  const m = /yolov\d+([nslmx])/.exec(basename(file, extname(file)));
  return m ? (m[1] as Scale) : null;
}

/**
 * Reads a model yaml into the PoseYaml a PoseModel is built from. `nc`/`kptShape` override the
 * file's (a dataset's, in training), as Ultralytics' PoseModel(cfg, nc=..., data_kpt_shape=...).
 */
export function readModelYaml(
  file: string,
  over: { nc?: number; kptShape?: [number, number]; log?: (s: string) => void } = {},
): PoseYaml {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(
      file,
      `cannot read the model yaml (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length) throw new InputError(file, `invalid YAML (${doc.errors[0].message.split('\n')[0]})`);
  const lineOf = (n: Node | null | undefined) => (n?.range ? lines.linePos(n.range[0]).line : 0);
  const at = (n: Node | null | undefined) => `${file}:${lineOf(n)}`;
  const d = doc.toJS() as Record<string, unknown> | null;
  if (!d || typeof d !== 'object' || Array.isArray(d))
    throw new InputError(file, 'a model yaml must be a mapping with backbone and head');

  // layers, each checked where it is written
  const layers: LayerSpec[] = [];
  for (const part of ['backbone', 'head'] as const) {
    const seq = doc.get(part, true) as Node | undefined;
    if (!seq || !isSeq(seq))
      throw new InputError(file, `'${part}:' missing or not a list of [from, repeats, module, args] layers`);
    for (const item of seq.items as Node[]) {
      const i = layers.length;
      const l = (item as Node & { toJSON(): unknown }).toJSON() as unknown[];
      const where = `${at(item)}: layer ${i}`;
      if (!Array.isArray(l) || l.length !== 4)
        throw new InputError(file, `${where}: expected [from, repeats, module, args], got ${JSON.stringify(l)}`);
      const [from, repeats, module, args] = l as [unknown, unknown, unknown, unknown];
      if (!MODULES.includes(module as ModuleName))
        throw new InputError(
          file,
          `${where}: unknown module '${String(module)}' (this toolkit builds ${MODULES.join(', ')})`,
        );
      const froms = Array.isArray(from) ? from : [from];
      if (
        !froms.length ||
        !froms.every((f) => Number.isInteger(f) && (f === -1 || ((f as number) >= 0 && (f as number) < i))) ||
        (i === 0 && froms.some((f) => f !== -1))
      )
        throw new InputError(
          file,
          `${where}: 'from' ${JSON.stringify(from)} must be -1 or earlier layer indices (0..${i - 1})`,
        );
      if (!Number.isInteger(repeats) || (repeats as number) < 1)
        throw new InputError(file, `${where}: repeats ${JSON.stringify(repeats)} must be a positive integer`);
      if (!Array.isArray(args)) throw new InputError(file, `${where}: args ${JSON.stringify(args)} must be a list`);
      if ((module === 'Concat' || module === 'Pose') && !Array.isArray(from))
        throw new InputError(file, `${where}: ${module} needs a list of inputs in 'from'`);
      if (
        ['Conv', 'C2f', 'C2', 'SPPF'].includes(module as string) &&
        !(Number.isInteger(args[0]) && (args[0] as number) > 0)
      )
        throw new InputError(
          file,
          `${where}: ${module} needs its output channels as the first arg, got ${JSON.stringify(args[0])}`,
        );
      if (module === 'nn.Upsample' && !(Number.isInteger(args[1]) && (args[1] as number) > 0))
        throw new InputError(file, `${where}: nn.Upsample needs an integer scale factor as its second arg`);
      layers.push([
        from as number | number[],
        repeats as number,
        module as ModuleName,
        (args as LayerSpec[3]).map((a) => (a === 'None' ? null : a)),
      ]);
    }
  }
  const nHead = (d.backbone as unknown[]).length;
  const last = layers[layers.length - 1];
  if (last[2] !== 'Pose')
    throw new InputError(
      file,
      `${at((doc.get('head', true) as { items: Node[] }).items.at(-1))}: the last layer must be Pose, got ${last[2]}`,
    );
  if (layers.slice(0, -1).some((l) => l[2] === 'Pose')) throw new InputError(file, 'only the last layer may be Pose');

  // nc, kpt_shape: the file's, unless overridden
  const nc = over.nc ?? d.nc;
  if (!Number.isInteger(nc) || (nc as number) < 1)
    throw new InputError(
      file,
      `${at(doc.get('nc', true) as Node)}: 'nc' must be a positive integer, got ${JSON.stringify(d.nc)}`,
    );
  const ks = over.kptShape ?? d.kpt_shape;
  if (!Array.isArray(ks) || ks.length !== 2 || !Number.isInteger(ks[0]) || ks[0] < 1 || (ks[1] !== 2 && ks[1] !== 3))
    throw new InputError(
      file,
      `${at(doc.get('kpt_shape', true) as Node)}: 'kpt_shape' must be [number of keypoints, 2 or 3], got ${JSON.stringify(d.kpt_shape)}`,
    );
  if (over.nc != null && d.nc != null && over.nc !== d.nc)
    over.log?.(`Overriding model.yaml nc=${d.nc} with nc=${over.nc}`);
  if (over.kptShape && Array.isArray(d.kpt_shape) && String(d.kpt_shape) !== String(over.kptShape))
    over.log?.(
      `Overriding model.yaml kpt_shape=${JSON.stringify(d.kpt_shape)} with kpt_shape=${JSON.stringify(over.kptShape)}`,
    );
  const ncN = nc as number;

  // scales: [depth, width, max_channels]
  let scale = guessModelScale(file) ?? (typeof d.scale === 'string' ? (d.scale as Scale) : null);
  const scales: Partial<Record<Scale, [number, number, number]>> = {};
  if (d.scales != null) {
    if (typeof d.scales !== 'object' || Array.isArray(d.scales))
      throw new InputError(
        file,
        `${at(doc.get('scales', true) as Node)}: 'scales' must map n/s/m/l/x to [depth, width, max_channels]`,
      );
    for (const [k, v] of Object.entries(d.scales as Record<string, unknown>)) {
      if (
        !SCALE_NAMES.includes(k as Scale) ||
        !Array.isArray(v) ||
        v.length !== 3 ||
        !v.every((x) => typeof x === 'number' && x > 0)
      )
        throw new InputError(
          file,
          `${at(doc.getIn(['scales', k], true) as Node)}: scale '${k}' must be one of n/s/m/l/x with [depth, width, max_channels], got ${JSON.stringify(v)}`,
        );
      scales[k as Scale] = v as [number, number, number];
    }
    const keys = Object.keys(scales) as Scale[];
    if (!keys.length) throw new InputError(file, "'scales' is empty");
    if (!scale || !scales[scale]) {
      const first = keys[0];
      over.log?.(`WARNING ⚠️ no model scale passed. Assuming scale='${first}'.`);
      scale = first;
    }
  } else {
    const dm = (d.depth_multiple ?? 1) as number,
      wm = (d.width_multiple ?? 1) as number;
    if (!(dm > 0 && wm > 0))
      throw new InputError(file, "'depth_multiple' and 'width_multiple' must be positive numbers");
    scale ??= 'n';
    scales[scale] = [dm, wm, 2 ** 31]; // Ultralytics: max_channels = inf
  }

  const p6 = (last[0] as number[]).length === 4;
  const stock = p6 ? YOLOV8_POSE_P6 : YOLOV8_POSE;
  const same =
    JSON.stringify(layers) === JSON.stringify([...stock.backbone, ...stock.head]) &&
    String(scales[scale!]) === String(stock.scales[scale!]);
  const yaml: PoseYaml = { yaml_file: basename(file), scale: scale!, nc: ncN, kpt_shape: [ks[0], ks[1]], p6 };
  if (!same)
    yaml.cfg = {
      nc: ncN,
      kpt_shape: yaml.kpt_shape,
      scales: scales as PoseConfig['scales'],
      backbone: layers.slice(0, nHead),
      head: layers.slice(nHead),
    };
  return yaml;
}

/** YOLO('path/to/model.yaml'): the model the file describes, randomly initialized. */
export function buildModelFromYaml(
  file: string,
  opts: { nc?: number; kptShape?: [number, number]; device?: Device; log?: (s: string) => void } = {},
): PoseModel {
  const yaml = readModelYaml(file, opts);
  try {
    return new PoseModel(yaml, opts.device);
  } catch (e) {
    if (e instanceof Error && e.constructor === Error) throw new InputError(file, e.message);
    throw e;
  }
}
