// Running an ncnn export (`<stem>_ncnn_model/` with model.ncnn.param, model.ncnn.bin, metadata.yaml)
// through the engine, as Ultralytics' AutoBackend runs it with pyncnn: one image at a time, the
// `in0` blob (3, H, W) in, the output blob (4 + nc + K * ndim, A) out. Each ncnn layer is the engine
// op it names (./ncnn_format.ts decodes and checks the files first). The session is what
// OnnxPoseModel drives (metadata, input name and dims, run), so predict/val use it unchanged.
//
// Imports: engine, ./ncnn_format, ./folder_metadata, ./onnx_model.
import { readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import type { Device, Tensor } from '../../engine/index.js';
import { readNcnn, PERMUTE_AXES, type NcnnModel } from './ncnn_format.js';
import { readMetadataYaml } from './folder_metadata.js';
import { readMetadata } from './metadata.js';
import { OnnxPoseModel } from './onnx_model.js';
import type { OnnxSession } from './onnx_runtime.js';

/** The session interface OnnxPoseModel reads (a structural subset of OnnxSession). */
export interface ExportedSession {
  proto: { metadata_props: { key: string; value: string }[] };
  inputNames: string[];
  inputDims: Map<string, (number | string)[]>;
  device: Device;
  run(feeds: Record<string, Tensor>): Tensor[];
  dispose(): void;
}

/** An exported pose model driven by OnnxPoseModel through a non-ONNX session. */
export function poseModelOf(session: ExportedSession, file: string, label: string): OnnxPoseModel {
  const m = new OnnxPoseModel(session as unknown as OnnxSession, file);
  m.info = (_s, opts = {}) => {
    const line = `Loading ${file} for ${label} inference through the engine (${session.device.type})...`;
    if (opts.verbose ?? true) console.log(line);
    return { line };
  };
  return m;
}

export function isNcnnModel(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, 'model.ncnn.param'));
}

export class NcnnSession implements ExportedSession {
  readonly proto: ExportedSession['proto'];
  readonly inputNames = ['in0'];
  readonly inputDims: Map<string, (number | string)[]>;
  readonly model: NcnnModel;
  private readonly consts = new Map<string, Tensor[]>();

  constructor(
    readonly dir: string,
    readonly device: Device,
  ) {
    const paramFile = join(dir, 'model.ncnn.param'),
      binFile = join(dir, 'model.ncnn.bin');
    for (const f of [paramFile, binFile])
      if (!existsSync(f))
        throw new Error(
          `${dir}: no ${f.slice(dir.length + 1)} (an ncnn model folder holds model.ncnn.param and model.ncnn.bin)`,
        );
    const props = readMetadataYaml(join(dir, 'metadata.yaml'));
    this.proto = { metadata_props: props };
    const md = readMetadata(props, join(dir, 'metadata.yaml'));
    const imgsz = (md.imgsz as number[] | undefined) ?? [640, 640];
    this.inputDims = new Map([['in0', [1, 3, imgsz[0], imgsz[1]]]]);
    this.model = readNcnn(
      readFileSync(paramFile, 'utf8'),
      new Uint8Array(readFileSync(binFile)),
      [3, imgsz[0], imgsz[1]],
      paramFile,
    );
    for (const l of this.model.layers) {
      if (l.type === 'Convolution' || l.type === 'ConvolutionDepthWise') {
        const x = this.model.shapes.get(l.inputs[0])!,
          O = l.params.get(0) as number,
          kw = l.params.get(1) as number,
          kh = (l.params.get(11) as number) ?? kw;
        const g = l.type === 'Convolution' ? 1 : ((l.params.get(7) as number) ?? 1);
        this.consts.set(l.name, [
          E.tensor(l.weights[0], [O, x[0] / g, kh, kw], { device }),
          ...(l.weights[1] ? [E.tensor(l.weights[1], [O], { device })] : []),
        ]);
      } else if (l.type === 'MemoryData')
        this.consts.set(l.name, [E.tensor(l.weights[0], this.model.shapes.get(l.outputs[0])!, { device })]);
    }
  }

  /** (B, 3, H, W) -> [(B, C, A)]: each image through the layers, as pyncnn's extractor. */
  run(feeds: Record<string, Tensor>): Tensor[] {
    const x = feeds.in0;
    return E.tidy(() => {
      const outs: Tensor[] = [];
      for (let b = 0; b < x.shape[0]; b++) outs.push(this.runOne(E.narrow(x, 0, b, 1)));
      return [outs.length === 1 ? outs[0] : E.concat(outs, 0)];
    }) as unknown as Tensor[];
  }

  private runOne(x: Tensor): Tensor {
    const blobs = new Map<string, Tensor>(); // each (1, ...): the batch axis in front of ncnn's dims
    let last: Tensor = x;
    const output = this.model.layers.some((l) => l.outputs.includes('out0')) ? 'out0' : null;
    for (const l of this.model.layers) {
      const ins = l.inputs.map((b) => blobs.get(b)!);
      const p = (id: number, d: number) => (l.params.get(id) as number | undefined) ?? d;
      const arr = (id: number) => l.params.get(id) as number[];
      const ax = (a: number, rank: number) => ((a + rank) % rank) + 1; // ncnn axis -> torch axis (batch in front)
      const outShape = (k = 0) => [1, ...this.model.shapes.get(l.outputs[k])!];
      let outs: Tensor[];
      switch (l.type) {
        case 'Input':
          outs = [x];
          break;
        case 'Convolution':
        case 'ConvolutionDepthWise': {
          const [w, bias] = this.consts.get(l.name)!;
          const dw = p(2, 1),
            sw = p(3, 1),
            pl = p(4, 0);
          let y = E.conv2d(ins[0], w, bias ?? null, {
            stride: [p(13, sw), sw],
            padding: [p(14, pl), pl],
            dilation: [p(12, dw), dw],
            groups: l.type === 'Convolution' ? 1 : p(7, 1),
          });
          if (p(9, 0) === 4) y = E.sigmoid(y);
          outs = [y];
          break;
        }
        case 'Swish':
          outs = [E.silu(ins[0])];
          break;
        case 'Sigmoid':
          outs = [E.sigmoid(ins[0])];
          break;
        case 'Split':
          outs = l.outputs.map(() => ins[0]);
          break;
        case 'BinaryOp': {
          const fns = {
            0: E.add,
            1: E.sub,
            2: E.mul,
            3: E.div,
            7: (a: Tensor, b: any) => E.sub(b, a),
            8: (a: Tensor, b: any) => E.div(b, a),
          } as Record<number, (a: any, b: any) => Tensor>;
          const fn = fns[p(0, 0)];
          outs = [p(1, 0) ? fn(ins[0], p(2, 0)) : fn(ins[0], ins[1])];
          break;
        }
        case 'Concat':
          outs = [E.concat(ins, ax(p(0, 0), ins[0].ndim - 1))];
          break;
        case 'Slice': {
          const sizes = l.outputs.map((_, k) => this.model.shapes.get(l.outputs[k])!);
          const a = ax(p(1, 0), ins[0].ndim - 1);
          let start = 0;
          outs = sizes.map((s) => {
            const t = E.narrow(ins[0], a, start, s[a - 1]);
            start += s[a - 1];
            return t;
          });
          break;
        }
        case 'Crop':
          outs = [E.narrow(ins[0], ax(arr(11)[0], ins[0].ndim - 1), arr(9)[0], arr(10)[0] - arr(9)[0])];
          break;
        case 'Pooling': {
          const kw = p(1, 0),
            sw = p(2, 1),
            pl = p(3, 0);
          outs = [
            E.maxPool2d(ins[0], { kernelSize: [p(11, kw), kw], stride: [p(12, sw), sw], padding: [p(13, pl), pl] }),
          ];
          break;
        }
        case 'Interp':
          outs = [E.upsampleNearest2d(ins[0], [p(1, 1), p(2, 1)])];
          break;
        case 'Reshape':
          outs = [E.reshape(E.contiguous(ins[0]), outShape())];
          break;
        case 'Permute':
          outs = [E.permute(ins[0], [0, ...PERMUTE_AXES[ins[0].ndim - 1][p(0, 0)].map((a) => a + 1)])];
          break;
        case 'Softmax':
          outs = [E.softmax(ins[0], ax(p(0, 0), ins[0].ndim - 1))];
          break;
        case 'MemoryData':
          outs = this.consts.get(l.name)!;
          break; // no batch axis: broadcasts from the right
        default:
          throw new Error(`${this.dir}: layer type '${l.type}' cannot run`);
      }
      l.outputs.forEach((b, k) => blobs.set(b, outs[k]));
      last = outs[0];
    }
    return output ? blobs.get(output)! : last;
  }

  dispose() {
    for (const ts of this.consts.values()) for (const t of ts) t.dispose();
  }
}

export function loadNcnnModel(dir: string, device: Device): OnnxPoseModel {
  return poseModelOf(new NcnnSession(dir, device), dir, 'NCNN');
}
