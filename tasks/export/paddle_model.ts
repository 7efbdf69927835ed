// Running a Paddle export (`<stem>_paddle_model/` with inference_model/model.pdmodel,
// model.pdiparams, and metadata.yaml, the layout x2paddle writes and AutoBackend globs) through the
// engine: ./paddle_format.ts decodes and checks the program, each op then runs as the engine op it names.
//
// Imports: engine, ./paddle_format, ./folder_metadata, ./metadata, ./ncnn_model (session glue).
import { readFileSync, existsSync, statSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import * as E from '../../engine/index.js';
import type { Device, Tensor } from '../../engine/index.js';
import { readPaddle, type PaddleModel } from './paddle_format.js';
import { readMetadataYaml } from './folder_metadata.js';
import { readMetadata } from './metadata.js';
import { poseModelOf, type ExportedSession } from './ncnn_model.js';
import type { OnnxPoseModel } from './onnx_model.js';

/** The first *.pdmodel under `dir` (AutoBackend: w.rglob('*.pdmodel')), or null. */
export function findPdmodel(dir: string): string | null {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return null;
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (e.endsWith('.pdmodel')) return p;
    if (statSync(p).isDirectory()) {
      const inner = findPdmodel(p);
      if (inner) return inner;
    }
  }
  return null;
}

export class PaddleSession implements ExportedSession {
  readonly proto: ExportedSession['proto'];
  readonly inputNames: string[];
  readonly inputDims: Map<string, (number | string)[]>;
  readonly model: PaddleModel;
  private readonly consts = new Map<string, Tensor>();

  constructor(
    readonly dir: string,
    readonly pdmodel: string,
    readonly device: Device,
  ) {
    const params = pdmodel.replace(/\.pdmodel$/, '.pdiparams');
    if (!existsSync(params)) throw new Error(`${pdmodel}: no ${params} beside it`);
    this.model = readPaddle(new Uint8Array(readFileSync(pdmodel)), new Uint8Array(readFileSync(params)), pdmodel);
    this.inputNames = [this.model.feed];
    this.inputDims = new Map([[this.model.feed, this.model.dims.get(this.model.feed)!]]);
    const md =
      [join(dir, 'metadata.yaml'), join(dirname(pdmodel), 'metadata.yaml')].find(existsSync) ??
      join(dir, 'metadata.yaml');
    this.proto = { metadata_props: readMetadataYaml(md) };
    readMetadata(this.proto.metadata_props, md);
    for (const [k, p] of this.model.params) this.consts.set(k, E.tensor(p.data, this.model.dims.get(k)!, { device }));
  }

  run(feeds: Record<string, Tensor>): Tensor[] {
    return E.tidy(() => {
      const v = new Map<string, Tensor>(this.consts);
      let result: Tensor | null = null;
      for (const op of this.model.ops) {
        const a = op.attrs as Record<string, any>;
        const x = (p = 'X') => v.get(op.inputs[p][0])!;
        const set = (p: string, ts: Tensor[]) => op.outputs[p].forEach((n, k) => v.set(n, ts[k]));
        const ew = (fn: (p: Tensor, q: Tensor) => Tensor) => {
          const p = x(),
            q = x('Y'),
            ax = a.axis ?? -1;
          const shape = ax === -1 ? q.shape : [...q.shape, ...Array(p.ndim - ax - q.ndim).fill(1)]; // Paddle's axis: align Y at `axis`
          set('Out', [fn(p, ax === -1 ? q : E.reshape(q, shape))]);
        };
        switch (op.type) {
          case 'feed':
            set('Out', [feeds[this.model.feed]]);
            break;
          case 'fetch':
            result = x();
            break;
          case 'conv2d':
            set('Output', [
              E.conv2d(x('Input'), x('Filter'), null, {
                stride: a.strides,
                padding: a.paddings,
                dilation: a.dilations,
                groups: a.groups,
              }),
            ]);
            break;
          case 'elementwise_add':
            ew(E.add);
            break;
          case 'elementwise_sub':
            ew(E.sub);
            break;
          case 'elementwise_mul':
            ew(E.mul);
            break;
          case 'elementwise_div':
            ew(E.div);
            break;
          case 'silu':
            set('Out', [E.silu(x())]);
            break;
          case 'sigmoid':
            set('Out', [E.sigmoid(x())]);
            break;
          case 'scale':
            set('Out', [
              a.bias_after_scale === false ? E.mul(E.add(x(), a.bias), a.scale) : E.add(E.mul(x(), a.scale), a.bias),
            ]);
            break;
          case 'softmax':
            set('Out', [E.softmax(x(), a.axis)]);
            break;
          case 'concat':
            set('Out', [
              E.concat(
                op.inputs.X.map((n) => v.get(n)!),
                (a.axis + x().ndim) % x().ndim,
              ),
            ]);
            break;
          case 'split': {
            let at = 0;
            set(
              'Out',
              (a.sections as number[]).map((n) => E.narrow(x(), a.axis, (at += n) - n, n)),
            );
            break;
          }
          case 'slice':
            set('Out', [
              E.narrow(x('Input'), a.axes[0], a.starts[0], this.model.dims.get(op.outputs.Out[0])![a.axes[0]]),
            ]);
            break;
          case 'pool2d':
            set('Out', [E.maxPool2d(x(), { kernelSize: a.ksize, stride: a.strides, padding: a.paddings })]);
            break;
          case 'nearest_interp_v2':
            set('Out', [E.upsampleNearest2d(x(), [a.scale[0], a.scale[1]])]);
            break;
          case 'reshape2':
            set('Out', [E.reshape(E.contiguous(x()), a.shape)]);
            break;
          case 'transpose2':
            set('Out', [E.permute(x(), a.axis)]);
            break;
          default:
            throw new Error(`${this.pdmodel}: op '${op.type}' cannot run`);
        }
      }
      if (!result) throw new Error(`${this.pdmodel}: no fetch op`);
      return [result];
    }) as unknown as Tensor[];
  }

  dispose() {
    for (const t of this.consts.values()) t.dispose();
  }
}

export function loadPaddleModel(dir: string, device: Device): OnnxPoseModel {
  return poseModelOf(new PaddleSession(dir, findPdmodel(dir)!, device), dir, 'PaddlePaddle');
}
