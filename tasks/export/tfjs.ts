// TF.js graph model (format=tfjs): `<stem>_web_model/` with model.json (the TF graph as GraphDef
// JSON, the weights manifest, the signature), group1-shard{k}of{n}.bin (the Const nodes' values,
// 4 MiB shards, as tensorflowjs_converter writes them) and metadata.yaml (Ultralytics' metadata).
// `readTfjsModel(dir)` is the disk io handler's load(): it returns the ModelArtifacts that
// @tensorflow/tfjs's loadGraphModel({ load }) takes (and that our importer reads).
//
// Imports: node, ./tf_lower (types).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TfAttr, TfGraph, TfTensor } from './tf_lower.js';

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
  if ('list' in a) return { list: { ...(a.list.i && { i: a.list.i.map(String) }), ...(a.list.s && { s: a.list.s.map(b64) }) } };
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
export function buildTfjs(g: TfGraph, producer: string, userDefinedMetadata?: Record<string, unknown>): TfjsModel {
  const weights: { name: string; shape: number[]; dtype: string }[] = [];
  const blobs: Uint8Array[] = [];
  const node = g.nodes.map((n) => {
    const attr: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(n.attr)) attr[k] = jsonAttr(v);
    if (n.op === 'Const') {
      const t = (n.attr.value as { tensor: TfTensor }).tensor;
      weights.push({ name: n.name, shape: t.shape, dtype: t.dtype === 'DT_FLOAT' ? 'float32' : 'int32' });
      blobs.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
    return { name: n.name, op: n.op, ...(n.input.length && { input: n.input }), attr };
  });
  const total = blobs.reduce((s, b) => s + b.length, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const b of blobs) (all.set(b, off), (off += b.length));
  const count = Math.max(1, Math.ceil(total / SHARD_BYTES));
  const shards = new Map<string, Uint8Array>();
  for (let k = 0; k < count; k++) shards.set(`group1-shard${k + 1}of${count}.bin`, all.subarray(k * SHARD_BYTES, Math.min(total, (k + 1) * SHARD_BYTES)));
  const sig = (name: string, dims: number[]) => ({ [`${name}:0`]: { name: `${name}:0`, dtype: 'DT_FLOAT', tensorShape: tensorShape(dims) } });
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
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) throw new Error(`${file}: expected 'modelTopology' and 'weightsManifest' (a TF.js graph model)`);
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
