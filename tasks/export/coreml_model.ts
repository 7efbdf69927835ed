// Running a CoreML export (`<stem>.mlpackage`) through the engine, as AutoBackend runs it with
// coremltools: the image input takes 0-255 pixels (the program scales by 1/255), the block output
// is (1, 4 + nc + K * ndim, A). ./coreml_format.ts decodes and checks the package; each MIL op then
// runs as the engine op it names, in float32 (a FLOAT16 program's casts are kept as identities: its
// fp16 weights are widened, the arithmetic stays float32).
//
// Imports: engine, ./coreml_format, ./metadata, ./ncnn_model (session glue).
import { existsSync, statSync } from 'node:fs';
import * as E from '../../engine/index.js';
import type { Device, Tensor } from '../../engine/index.js';
import { readMlPackage, type MlPackage } from './coreml_format.js';
import { readMetadata } from './metadata.js';
import { poseModelOf, type ExportedSession } from './ncnn_model.js';
import type { OnnxPoseModel } from './onnx_model.js';

export const isMlPackage = (p: string) => /\.mlpackage\/?$/i.test(p) && existsSync(p) && statSync(p).isDirectory();

export class CoreMlSession implements ExportedSession {
  readonly proto: ExportedSession['proto'];
  readonly inputNames: string[];
  readonly inputDims: Map<string, (number | string)[]>;
  readonly pkg: MlPackage;
  private readonly consts = new Map<string, Tensor>();

  constructor(
    readonly file: string,
    readonly device: Device,
  ) {
    this.pkg = readMlPackage(file);
    this.inputNames = [this.pkg.input.name];
    this.inputDims = new Map([[this.pkg.input.name, this.pkg.input.dims]]);
    this.proto = { metadata_props: this.pkg.metadata };
    readMetadata(this.pkg.metadata, this.pkg.specFile);
    const dims = new Map(this.pkg.ops.flatMap((o) => o.outputs.map((x) => [x.name, x.dims] as const)));
    for (const [k, v] of this.pkg.consts) this.consts.set(k, E.tensor(v, dims.get(k)!, { device }));
  }

  /** feeds: the predictor's [0, 1] images; the image input takes 0-255 pixels. */
  run(feeds: Record<string, Tensor>): Tensor[] {
    return E.tidy(() => {
      const v = new Map<string, Tensor>(this.consts);
      v.set(this.pkg.input.name, E.mul(feeds[this.pkg.input.name], 255));
      for (const op of this.pkg.ops) {
        const t = (p: string, j = 0) => v.get(op.inputs[p][j] as string)!;
        const n = (p: string) => op.inputs[p][0] as number[];
        const operand = (p: string) => (typeof op.inputs[p][0] === 'string' ? t(p) : n(p)[0]);
        const pair = (p: string) => [n(p)[0], n(p)[2]] as [number, number]; // pad [top, bottom, left, right]
        let outs: Tensor[];
        switch (op.type) {
          case 'const':
          case 'constexpr_lut_to_dense':
            continue; // values decoded (dequantized) by readMlPackage
          case 'mul':
            outs = [E.mul(t('x'), operand('y'))];
            break;
          case 'add':
            outs = [E.add(t('x'), operand('y'))];
            break;
          case 'sub':
            outs = [E.sub(t('x'), operand('y'))];
            break;
          case 'real_div':
            outs = [E.div(t('x'), operand('y'))];
            break;
          case 'cast':
            outs = [t('x')];
            break;
          case 'conv':
            outs = [
              E.conv2d(t('x'), t('weight'), op.inputs.bias ? t('bias') : null, {
                stride: n('strides') as [number, number],
                padding: pair('pad'),
                dilation: n('dilations') as [number, number],
                groups: n('groups')[0],
              }),
            ];
            break;
          case 'silu':
            outs = [E.silu(t('x'))];
            break;
          case 'sigmoid':
            outs = [E.sigmoid(t('x'))];
            break;
          case 'softmax':
            outs = [E.softmax(t('x'), n('axis')[0])];
            break;
          case 'concat':
            outs = [
              E.concat(
                op.inputs.values.map((_, j) => t('values', j)),
                n('axis')[0],
              ),
            ];
            break;
          case 'split': {
            let at = 0;
            outs = n('split_sizes').map((s) => E.narrow(t('x'), n('axis')[0], (at += s) - s, s));
            break;
          }
          case 'slice_by_index': {
            const b = n('begin'),
              e = n('end');
            let y = t('x');
            b.forEach((s, ax) => {
              if (s !== 0 || e[ax] !== y.shape[ax]) y = E.narrow(y, ax, s, e[ax] - s);
            });
            outs = [y];
            break;
          }
          case 'max_pool':
            outs = [
              E.maxPool2d(t('x'), {
                kernelSize: n('kernel_sizes') as [number, number],
                stride: n('strides') as [number, number],
                padding: pair('pad'),
              }),
            ];
            break;
          case 'upsample_nearest_neighbor':
            outs = [E.upsampleNearest2d(t('x'), [n('scale_factor_height')[0], n('scale_factor_width')[0]])];
            break;
          case 'reshape':
            outs = [E.reshape(E.contiguous(t('x')), n('shape'))];
            break;
          case 'transpose':
            outs = [E.permute(t('x'), n('perm'))];
            break;
          default:
            throw new Error(`${this.file}: MIL op '${op.type}' cannot run`);
        }
        op.outputs.forEach((o, j) => v.set(o.name, outs[j]));
      }
      return [v.get(this.pkg.output.name)!];
    }) as unknown as Tensor[];
  }

  dispose() {
    for (const t of this.consts.values()) t.dispose();
  }
}

export function loadCoreMlModel(file: string, device: Device): OnnxPoseModel {
  return poseModelOf(new CoreMlSession(file, device), file, 'CoreML');
}
