// TF.js graph model (format=tfjs): `<stem>_web_model/` with model.json (the TF graph as GraphDef
// JSON, the weights manifest, the signature), group1-shard{k}of{n}.bin (the Const nodes' values,
// 4 MiB shards, as tensorflowjs_converter writes them) and metadata.yaml (Ultralytics' metadata).
// `readTfjsModel(dir)` is the disk io handler's load(): it returns the ModelArtifacts that
// @tensorflow/tfjs's loadGraphModel({ load }) takes (and that our importer reads).
// Weight quantization as tensorflowjs_converter's --quantize_float16 / --quantize_uint8 (what
// Ultralytics passes for half / int8): every float32 weight stored as float16, or as uint8 with an
// affine min/scale whose range is nudged so 0.0 is exact (tfjs-converter quantization.py), the
// manifest entry keeping dtype 'float32' and gaining `quantization: {dtype, min, scale, original_dtype}`,
// which tfjs-core's io decodeWeights dequantizes on load. int32 weights stay as they are.
//
// Imports: node, engine (fp16), ./tf_lower (types).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { f32ToF16 } from '../../engine/io/torch_pt.js';
import { f16ToF32 } from '../../engine/io/safetensors.js';
import type { TfAttr, TfGraph, TfTensor } from './tf_lower.js';

export type TfjsQuantization = 'float16' | 'uint8';
export interface WeightQuantization {
  dtype: TfjsQuantization;
  min?: number;
  scale?: number;
  original_dtype: 'float32';
}
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: WeightQuantization;
}

/** numpy's round: halves to even */
const roundEven = (v: number) => {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 ? r - 1 : r;
};

/** tensorflowjs_converter's quantize_weights for one float32 tensor: the stored bytes and the manifest's quantization entry. */
export function quantizeWeight(
  data: Float32Array,
  dtype: TfjsQuantization,
): { bytes: Uint8Array; quantization: WeightQuantization } {
  if (dtype === 'float16')
    return { bytes: new Uint8Array(f32ToF16(data).buffer), quantization: { dtype, original_dtype: 'float32' } };
  let lo = Infinity,
    hi = -Infinity;
  for (const v of data) ((lo = Math.min(lo, v)), (hi = Math.max(hi, v)));
  if (lo === hi)
    return {
      bytes: new Uint8Array(data.length),
      quantization: { dtype, min: lo, scale: 1, original_dtype: 'float32' },
    }; // one value: all zeros
  const scale = (hi - lo) / 255;
  if (lo <= 0 && 0 <= hi) {
    // nudge the range so that 0.0 is a code: min = -round(-lo / scale) * scale
    lo = -roundEven(-lo / scale) * scale;
    hi = 255 * scale + lo;
  }
  const q = Uint8Array.from(data, (v) => roundEven((Math.min(hi, Math.max(lo, v)) - lo) / scale));
  return { bytes: q, quantization: { dtype, min: lo, scale, original_dtype: 'float32' } };
}

/** One manifest entry's values from its bytes (tfjs-core io decodeWeights' rules); returns them and the bytes read. */
export function decodeTfjsWeight(
  w: WeightSpec,
  buf: ArrayBuffer,
  off: number,
  file: string,
): { data: Float32Array | Int32Array; bytes: number } {
  const n = w.shape.reduce((s, d) => s * d, 1);
  const q = w.quantization;
  if (!q) {
    if (w.dtype !== 'float32' && w.dtype !== 'int32')
      throw new Error(`${file}: weight '${w.name}' is ${w.dtype}; this importer reads float32 and int32 weights`);
    return {
      data:
        w.dtype === 'float32'
          ? new Float32Array(buf.slice(off, off + 4 * n))
          : new Int32Array(buf.slice(off, off + 4 * n)),
      bytes: 4 * n,
    };
  }
  if (w.dtype !== 'float32')
    throw new Error(
      `${file}: weight '${w.name}' is ${w.dtype} quantized as ${q.dtype}; this importer dequantizes float32 weights`,
    );
  if (q.dtype === 'float16') return { data: f16ToF32(new Uint16Array(buf.slice(off, off + 2 * n))), bytes: 2 * n };
  if (q.dtype === 'uint8') {
    if (typeof q.min !== 'number' || typeof q.scale !== 'number')
      throw new Error(`${file}: weight '${w.name}' is uint8-quantized without min and scale`);
    const u = new Uint8Array(buf, off, n),
      { min, scale } = q;
    return { data: Float32Array.from(u, (v) => v * scale + min), bytes: n };
  }
  throw new Error(
    `${file}: weight '${w.name}' has the quantization dtype '${(q as { dtype: string }).dtype}' (float16 and uint8 are implemented)`,
  );
}

const SHARD_BYTES = 4 * 1024 * 1024;

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const tensorShape = (dims: number[]) => (dims.length ? { dim: dims.map((d) => ({ size: String(d) })) } : {});

/** An attribute as protobuf's JSON mapping writes it (int64 as strings, bytes as base64). */
function jsonAttr(a: TfAttr): unknown {
  if ('type' in a) return { type: a.type };
  if ('i' in a) return { i: String(a.i) };
  if ('f' in a) return { f: a.f };
  if ('b' in a) return { b: a.b };
  if ('s' in a) return { s: b64(a.s) };
  if ('list' in a)
    return { list: { ...(a.list.i && { i: a.list.i.map(String) }), ...(a.list.s && { s: a.list.s.map(b64) }) } };
  if ('shape' in a) return { shape: tensorShape(a.shape) };
  return { tensor: { dtype: a.tensor.dtype, tensorShape: tensorShape(a.tensor.shape) } };
}

export interface TfjsModel {
  /** model.json's object */
  json: Record<string, unknown>;
  /** shard file name -> bytes */
  shards: Map<string, Uint8Array>;
}

/** model.json and the weight shards of a TF graph. */
export function buildTfjs(
  g: TfGraph,
  producer: string,
  userDefinedMetadata?: Record<string, unknown>,
  quantize?: TfjsQuantization,
): TfjsModel {
  const weights: WeightSpec[] = [];
  const blobs: Uint8Array[] = [];
  const node = g.nodes.map((n) => {
    const attr: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(n.attr)) attr[k] = jsonAttr(v);
    if (n.op === 'Const') {
      const t = (n.attr.value as { tensor: TfTensor }).tensor;
      if (quantize && t.dtype === 'DT_FLOAT') {
        const q = quantizeWeight(t.data as Float32Array, quantize);
        weights.push({ name: n.name, shape: t.shape, dtype: 'float32', quantization: q.quantization });
        blobs.push(q.bytes);
      } else {
        weights.push({ name: n.name, shape: t.shape, dtype: t.dtype === 'DT_FLOAT' ? 'float32' : 'int32' });
        blobs.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      }
    }
    return { name: n.name, op: n.op, ...(n.input.length && { input: n.input }), attr };
  });
  const total = blobs.reduce((s, b) => s + b.length, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const b of blobs) (all.set(b, off), (off += b.length));
  const count = Math.max(1, Math.ceil(total / SHARD_BYTES));
  const shards = new Map<string, Uint8Array>();
  for (let k = 0; k < count; k++)
    shards.set(
      `group1-shard${k + 1}of${count}.bin`,
      all.subarray(k * SHARD_BYTES, Math.min(total, (k + 1) * SHARD_BYTES)),
    );
  const sig = (name: string, dims: number[]) => ({
    [`${name}:0`]: { name: `${name}:0`, dtype: 'DT_FLOAT', tensorShape: tensorShape(dims) },
  });
  return {
    json: {
      format: 'graph-model',
      generatedBy: producer,
      convertedBy: producer,
      signature: { inputs: sig(g.input.name, g.input.shape), outputs: sig(g.output.name, g.output.shape) },
      ...(userDefinedMetadata && { userDefinedMetadata }),
      modelTopology: { node, library: {}, versions: {} },
      weightsManifest: [{ paths: [...shards.keys()], weights }],
    },
    shards,
  };
}

/** What a disk io handler's load() gives for `<dir>/model.json`: the ModelArtifacts of @tensorflow/tfjs. */
export function readTfjsModel(dir: string) {
  const file = join(dir, 'model.json');
  let json: any;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not a TF.js model.json (${(e as Error).message})`);
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest))
    throw new Error(`${file}: expected 'modelTopology' and 'weightsManifest' (a TF.js graph model)`);
  const parts: Uint8Array[] = [];
  const weightSpecs: unknown[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) parts.push(readFileSync(join(dir, p)));
    weightSpecs.push(...group.weights);
  }
  const data = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) (data.set(p, off), (off += p.length));
  return {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    signature: json.signature,
    userDefinedMetadata: json.userDefinedMetadata,
    weightSpecs,
    weightData: data.buffer,
  };
}
