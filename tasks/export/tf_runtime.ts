// Running exported TensorFlow-family models through the engine, as Ultralytics' AutoBackend runs
// them with TensorFlow: a `_web_model/` folder (model.json + shards), a frozen `.pb`, or a
// `_saved_model/` folder. Each becomes the same GraphDef JSON + weights (./tfjs.ts readTfjsModel,
// ./tf_proto.ts graphToTfjs), which TfSession executes node by node with engine ops. TF's NHWC
// images and convolutions are run as the engine's NCHW ops between permutes.
//
// TfPoseModel is the predictor/validator's view of it (OnnxPoseModel's letterbox, batching and
// metadata handling over a TfSession): `YOLO('x_web_model')`, `yolo pose predict model=x.pb`.
//
// Imports: engine, ./tfjs, ./tf_proto, ./onnx_model, ./metadata.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  Tensor,
  add,
  clamp,
  concat,
  conv2d,
  div,
  maxPool2d,
  mul,
  narrow,
  permute,
  reshape,
  round,
  sigmoid,
  softmax,
  sub,
  tensor,
  tidy,
  upsampleNearest2d,
  type Device,
} from '../../engine/index.js';
import { decodeTfjsWeight, readTfjsModel, type WeightSpec } from './tfjs.js';
import { decodeGraphDef, decodeSavedModel, graphToTfjs } from './tf_proto.js';
import { tfliteMetadata, tfliteToTfjs } from './tflite_import.js';
import { OnnxPoseModel } from './onnx_model.js';
import { metadataProps, type ExportMetadata } from './metadata.js';

interface JsonNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, any>;
}
interface Artifacts {
  modelTopology: { node: JsonNode[] };
  weightSpecs: WeightSpec[];
  weightData: ArrayBuffer;
}

const str = (a: any) => (a?.s !== undefined ? Buffer.from(a.s, 'base64').toString('utf8') : undefined);
const ints = (a: any): number[] => (a?.list?.i ?? []).map(Number);

/** A TF graph (GraphDef JSON + weights) executed with engine ops. */
export class TfSession {
  readonly inputNames: string[];
  readonly inputDims = new Map<string, number[]>();
  readonly proto: { metadata_props: { key: string; value: string }[] };
  private readonly consts = new Map<string, { shape: number[]; data: Float32Array | Int32Array }>();
  private readonly device_: Device;
  private readonly nodes: JsonNode[];
  private readonly uploads = new Map<string, Tensor>();

  constructor(
    a: Artifacts,
    device: Device,
    readonly file: string,
    metadata: ExportMetadata | null,
  ) {
    this.device_ = device;
    this.nodes = a.modelTopology.node;
    let off = 0;
    for (const w of a.weightSpecs) {
      const { data, bytes } = decodeTfjsWeight(w, a.weightData, off, file); // float32/int32, or float16/uint8-quantized (tfjs half/int8)
      this.consts.set(w.name, { shape: w.shape, data });
      off += bytes;
    }
    const inputs = this.nodes.filter((n) => n.op === 'Placeholder');
    this.inputNames = inputs.map((n) => n.name);
    for (const n of inputs) {
      const dims: number[] = (n.attr?.shape?.shape?.dim ?? []).map((d: any) => Number(d.size));
      if (dims.length !== 4 || dims[3] !== 3)
        throw new Error(
          `${file}: expected an NHWC (B, H, W, 3) image input, found '${n.name}' with shape [${dims.join(', ')}]`,
        );
      this.inputDims.set(n.name, [dims[0], 3, dims[1], dims[2]]); // as the NCHW caller sees it
    }
    this.proto = { metadata_props: metadata ? metadataProps(metadata) : [] };
    // device copies of the constants, made once here (run() is one tidy scope): conv filters as OIHW
    for (const n of this.nodes) {
      if (n.op === 'Const' || n.op === 'Placeholder') continue;
      (n.input ?? []).forEach((name, k) => {
        const c = this.consts.get(name);
        if (!c || !(c.data instanceof Float32Array)) return;
        if (n.op === 'Conv2D' && k === 1) {
          const [kh, kw, ci, co] = c.shape;
          const o = new Float32Array(c.data.length);
          for (let y0 = 0; y0 < kh; y0++)
            for (let x0 = 0; x0 < kw; x0++)
              for (let i = 0; i < ci; i++)
                for (let oc = 0; oc < co; oc++)
                  o[((oc * ci + i) * kh + y0) * kw + x0] = c.data[((y0 * kw + x0) * ci + i) * co + oc];
          this.uploads.set(`${name}#oihw`, tensor(o, [co, ci, kh, kw], { device }));
        } else if (!this.uploads.has(name)) this.uploads.set(name, tensor(c.data, c.shape, { device }));
      });
    }
  }

  get device() {
    return this.device_;
  }

  private dev(name: string): Tensor {
    const t = this.uploads.get(name);
    if (!t) throw new Error(`${this.file}: '${name}' has no value`);
    return t;
  }

  /** NCHW (B, 3, H, W) -> the graph's output. `observe` sees every node's value (NHWC as TF has it): int8 calibration. */
  run(feeds: Record<string, Tensor>, observe?: (name: string, y: Tensor) => void): Tensor[] {
    return [
      tidy(() => {
        const env = new Map<string, Tensor>();
        const pads = new Map<string, number[]>(); // Pad nodes folded into the conv that reads them
        for (const [k, v] of Object.entries(feeds)) env.set(k, permute(v, [0, 2, 3, 1]));
        const val = (name: string) => {
          const key = name.replace(/:0$/, '');
          return env.get(key) ?? this.dev(key);
        };
        const host = (name: string) => {
          const c = this.consts.get(name.replace(/:0$/, ''));
          if (!c) throw new Error(`${this.file}: '${name}' must be a constant`);
          return Array.from(c.data);
        };
        let last = '';
        const nchw = (x: Tensor) => permute(x, [0, 3, 1, 2]),
          nhwc = (x: Tensor) => permute(x, [0, 2, 3, 1]);
        for (const n of this.nodes) {
          const ins = n.input ?? [],
            a = n.attr ?? {};
          let y: Tensor | undefined;
          switch (n.op) {
            case 'Placeholder':
            case 'Const':
              continue;
            case 'Pad': {
              const p = host(ins[1]);
              if (p[0] || p[1] || p[6] || p[7] || p[2] !== p[3] || p[4] !== p[5])
                throw new Error(`${this.file}: Pad '${n.name}': only symmetric spatial padding is supported`);
              pads.set(n.name, [p[2], p[4]]);
              env.set(n.name, val(ins[0]));
              observe?.(n.name, env.get(n.name)!);
              continue;
            }
            case 'Conv2D': {
              const c = this.consts.get(ins[1]);
              if (!c) throw new Error(`${this.file}: Conv2D '${n.name}': the filter must be a constant`);
              const [kh, kw] = c.shape; // HWIO
              const w = this.dev(`${ins[1]}#oihw`);
              const st = ints(a.strides),
                same = str(a.padding) === 'SAME';
              if (same && (st[1] !== 1 || st[2] !== 1 || kh % 2 === 0 || kw % 2 === 0))
                throw new Error(
                  `${this.file}: Conv2D '${n.name}': SAME padding is supported for stride 1 and odd kernels`,
                );
              const pad = pads.get(ins[0]) ?? (same ? [(kh - 1) / 2, (kw - 1) / 2] : [0, 0]);
              y = nhwc(
                conv2d(nchw(val(ins[0])), w, null, { stride: [st[1], st[2]], padding: pad as [number, number] }),
              );
              break;
            }
            case 'BiasAdd':
            case 'AddV2':
            case 'Add':
              y = add(val(ins[0]), val(ins[1]));
              break;
            case 'Sub':
              y = sub(val(ins[0]), val(ins[1]));
              break;
            case 'Mul':
              y = mul(val(ins[0]), val(ins[1]));
              break;
            case 'RealDiv':
              y = div(val(ins[0]), val(ins[1]));
              break;
            case 'Sigmoid':
              y = sigmoid(val(ins[0]));
              break;
            case 'FakeQuant': {
              // an int8 tensor of a quantized .tflite, read back: (clamp(round(x / s) + zp, -128, 127) - zp) * s
              const s = a.scale.f as number,
                zp = a.zero_point.i as number;
              y = mul(sub(clamp(add(round(div(val(ins[0]), s)), zp), -128, 127), zp), s);
              const pad = pads.get(ins[0]);
              if (pad) pads.set(n.name, pad); // a quantized Pad: zeros stay zeros (the zero point is exact)
              break;
            }
            case 'Softmax':
              y = softmax(val(ins[0]), -1);
              break;
            case 'Identity':
              y = val(ins[0]);
              break;
            case 'MaxPool': {
              const k = ints(a.ksize),
                st = ints(a.strides);
              if (str(a.padding) !== 'SAME' || st[1] !== 1)
                throw new Error(`${this.file}: MaxPool '${n.name}': SAME padding with stride 1 is supported`);
              y = nhwc(
                maxPool2d(nchw(val(ins[0])), {
                  kernelSize: [k[1], k[2]],
                  stride: 1,
                  padding: [(k[1] - 1) / 2, (k[2] - 1) / 2],
                }),
              );
              break;
            }
            case 'ResizeNearestNeighbor': {
              const x = val(ins[0]),
                [H, W] = host(ins[1]);
              y = nhwc(upsampleNearest2d(nchw(x), [H / x.shape[1], W / x.shape[2]]));
              break;
            }
            case 'ConcatV2': {
              const axis = host(ins[ins.length - 1])[0];
              const xs = ins.slice(0, -1).map(val);
              y = concat(xs, axis < 0 ? axis + xs[0].ndim : axis);
              break;
            }
            case 'Transpose':
              y = permute(val(ins[0]), host(ins[1]));
              break;
            case 'Reshape':
              y = reshape(val(ins[0]), host(ins[1]));
              break;
            case 'Slice': {
              let x = val(ins[0]);
              const begin = host(ins[1]),
                size = host(ins[2]);
              begin.forEach((b, ax) => {
                const len = size[ax] < 0 ? x.shape[ax] - b : size[ax];
                if (b !== 0 || len !== x.shape[ax]) x = narrow(x, ax, b, len);
              });
              y = x;
              break;
            }
            default:
              throw new Error(`${this.file}: the TF op '${n.op}' (node '${n.name}') is not supported by this importer`);
          }
          env.set(n.name, y);
          observe?.(n.name, y);
          last = n.name;
        }
        return env.get(last)!;
      }),
    ];
  }

  dispose() {
    for (const t of this.uploads.values()) t.dispose();
    this.uploads.clear();
  }
}

/** What a path names, as AutoBackend tells formats apart: '_web_model' / '_saved_model' folders, '.pb' files. */
export function tfFormatOf(path: string): 'tfjs' | 'saved_model' | 'pb' | 'tflite' | null {
  const p = path.replace(/[\\/]+$/, '');
  if (p.toLowerCase().endsWith('.tflite')) return 'tflite';
  if (p.endsWith('_web_model')) return 'tfjs';
  if (p.endsWith('_saved_model')) return 'saved_model';
  if (p.toLowerCase().endsWith('.pb')) return 'pb';
  return null;
}

export class TfPoseModel extends OnnxPoseModel {
  constructor(
    session: TfSession,
    file: string,
    readonly format: 'tfjs' | 'saved_model' | 'pb' | 'tflite',
  ) {
    super(session as any, file);
  }

  static loadTf(path: string, device: Device): TfPoseModel {
    const fmt = tfFormatOf(path);
    if (!fmt) throw new Error(`${path}: not a TF.js (_web_model), SavedModel (_saved_model) or GraphDef (.pb) export`);
    if (!existsSync(path)) throw new Error(`${path}: no such ${fmt === 'pb' ? 'file' : 'folder'}`);
    let art: Artifacts;
    let metaFile: string;
    if (fmt === 'tflite') {
      const bytes = readFileSync(path);
      const meta = tfliteMetadata(bytes, path);
      const art = tfliteToTfjs(bytes, path) as Artifacts;
      return new TfPoseModel(new TfSession(art, device, path, meta ?? defaultMetadata(art)), path, fmt);
    }
    if (fmt === 'tfjs') {
      art = readTfjsModel(path) as Artifacts;
      metaFile = join(path, 'metadata.yaml');
    } else if (fmt === 'saved_model') {
      const sm = decodeSavedModel(readFileSync(join(path, 'saved_model.pb')), join(path, 'saved_model.pb'));
      const mg = sm.meta_graphs.find((m: any) => m.meta_info_def?.tags?.includes('serve')) ?? sm.meta_graphs[0];
      if (!mg?.graph_def) throw new Error(`${path}: saved_model.pb has no MetaGraph with a graph`);
      if (!mg.graph_def.node.some((n: any) => n.op === 'Conv2D'))
        throw new Error(
          `${path}: the SavedModel's graph has no Conv2D: variables are not read by this importer (a frozen graph is)`,
        );
      art = graphToTfjs(mg.graph_def, path) as Artifacts;
      metaFile = join(path, 'metadata.yaml');
    } else {
      if (statSync(path).isDirectory()) throw new Error(`${path}: a .pb must be a file`);
      art = graphToTfjs(decodeGraphDef(readFileSync(path), path), path) as Artifacts;
      metaFile = join(dirname(path), `${basename(path, '.pb')}_saved_model`, 'metadata.yaml'); // Ultralytics writes it with the SavedModel
    }
    const meta = existsSync(metaFile)
      ? (parseYaml(readFileSync(metaFile, 'utf8')) as ExportMetadata)
      : defaultMetadata(art);
    return new TfPoseModel(new TfSession(art, device, path, meta), path, fmt);
  }

  override info(_imgsz?: number | [number, number], opts: { verbose?: boolean } = {}): { line: string } {
    const what = {
      tfjs: 'TensorFlow.js',
      saved_model: 'TensorFlow SavedModel',
      pb: 'TensorFlow GraphDef',
      tflite: 'TensorFlow Lite',
    }[this.format];
    const line = `Loading ${this.file} for ${what} inference through the engine (${this.device.type})...`;
    if (opts.verbose ?? true) console.log(line);
    return { line };
  }
}

/** Without metadata.yaml (a lone .pb): one class and COCO's 17 keypoints, as the output's 56 channels say. */
function defaultMetadata(a: Artifacts): ExportMetadata {
  const input = a.modelTopology.node.find((n) => n.op === 'Placeholder');
  const dims: number[] = (input?.attr?.shape?.shape?.dim ?? []).map((d: any) => Number(d.size));
  return {
    stride: 32,
    task: 'pose',
    batch: dims[0] ?? 1,
    imgsz: [dims[1] ?? 640, dims[2] ?? 640],
    names: { 0: 'person' },
    kpt_shape: [17, 3],
  } as unknown as ExportMetadata;
}
