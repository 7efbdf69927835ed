// TensorFlow's GraphDef (format=pb, a frozen graph: every weight a Const) and SavedModel
// (format=saved_model) protobufs, written and read with engine/io/protobuf.ts from the field numbers
// of tensorflow/core/framework/{graph,node_def,attr_value,tensor,tensor_shape,types}.proto and
// tensorflow/core/protobuf/{saved_model,meta_graph}.proto. A map<K, V> field is a repeated entry
// message {key = 1, value = 2}. `graphToTfjs` turns a decoded GraphDef into the ModelArtifacts
// @tensorflow/tfjs runs (how the tests execute .pb files, and how our importer reads them).
//
// Imports: engine/io (protobuf), ./tf_lower (types).

import { decode, encode, type Schema } from '../../engine/io/protobuf.js';
import type { TfAttr, TfDType, TfGraph } from './tf_lower.js';

export const TF_SCHEMA: Schema = {
  GraphDef: [
    { num: 1, name: 'node', type: 'NodeDef', repeated: true },
    { num: 4, name: 'versions', type: 'VersionDef' },
  ],
  VersionDef: [
    { num: 1, name: 'producer', type: 'int32' },
    { num: 2, name: 'min_consumer', type: 'int32' },
  ],
  NodeDef: [
    { num: 1, name: 'name', type: 'string' },
    { num: 2, name: 'op', type: 'string' },
    { num: 3, name: 'input', type: 'string', repeated: true },
    { num: 4, name: 'device', type: 'string' },
    { num: 5, name: 'attr', type: 'AttrEntry', repeated: true },
  ],
  AttrEntry: [
    { num: 1, name: 'key', type: 'string' },
    { num: 2, name: 'value', type: 'AttrValue' },
  ],
  AttrValue: [
    { num: 1, name: 'list', type: 'ListValue' },
    { num: 2, name: 's', type: 'bytes' },
    { num: 3, name: 'i', type: 'int64' },
    { num: 4, name: 'f', type: 'float' },
    { num: 5, name: 'b', type: 'int32' },
    { num: 6, name: 'type', type: 'int32' },
    { num: 7, name: 'shape', type: 'TensorShapeProto' },
    { num: 8, name: 'tensor', type: 'TensorProto' },
  ],
  ListValue: [
    { num: 2, name: 's', type: 'bytes', repeated: true },
    { num: 3, name: 'i', type: 'int64', repeated: true, packed: true },
  ],
  TensorShapeProto: [{ num: 2, name: 'dim', type: 'Dim', repeated: true }],
  Dim: [{ num: 1, name: 'size', type: 'int64' }],
  TensorProto: [
    { num: 1, name: 'dtype', type: 'int32' },
    { num: 2, name: 'tensor_shape', type: 'TensorShapeProto' },
    { num: 4, name: 'tensor_content', type: 'bytes' },
    { num: 5, name: 'float_val', type: 'float', repeated: true, packed: true },
    { num: 7, name: 'int_val', type: 'int32', repeated: true, packed: true },
  ],
  // saved_model.proto / meta_graph.proto
  SavedModel: [
    { num: 1, name: 'saved_model_schema_version', type: 'int64' },
    { num: 2, name: 'meta_graphs', type: 'MetaGraphDef', repeated: true },
  ],
  MetaGraphDef: [
    { num: 1, name: 'meta_info_def', type: 'MetaInfoDef' },
    { num: 2, name: 'graph_def', type: 'GraphDef' },
    { num: 5, name: 'signature_def', type: 'SignatureEntry', repeated: true },
  ],
  MetaInfoDef: [
    { num: 4, name: 'tags', type: 'string', repeated: true },
    { num: 5, name: 'tensorflow_version', type: 'string' },
  ],
  SignatureEntry: [
    { num: 1, name: 'key', type: 'string' },
    { num: 2, name: 'value', type: 'SignatureDef' },
  ],
  SignatureDef: [
    { num: 1, name: 'inputs', type: 'TensorInfoEntry', repeated: true },
    { num: 2, name: 'outputs', type: 'TensorInfoEntry', repeated: true },
    { num: 3, name: 'method_name', type: 'string' },
  ],
  TensorInfoEntry: [
    { num: 1, name: 'key', type: 'string' },
    { num: 2, name: 'value', type: 'TensorInfo' },
  ],
  TensorInfo: [
    { num: 1, name: 'name', type: 'string' },
    { num: 2, name: 'dtype', type: 'int32' },
    { num: 3, name: 'tensor_shape', type: 'TensorShapeProto' },
  ],
};

/** types.proto DataType */
const DT: Record<TfDType, number> = { DT_FLOAT: 1, DT_INT32: 3 };
const DT_NAME: Record<number, TfDType> = { 1: 'DT_FLOAT', 3: 'DT_INT32' };
/** GraphDef producer version written (TF 2.x writes ~1200-1900; consumers check min_consumer). */
const PRODUCER = 1205;

const shapeProto = (dims: number[]) => ({ dim: dims.map((size) => ({ size })) });
const bytesOf = (a: Float32Array | Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function attrProto(a: TfAttr): Record<string, unknown> {
  if ('type' in a) return { type: DT[a.type] };
  if ('i' in a) return { i: a.i };
  if ('f' in a) return { f: a.f };
  if ('b' in a) return { b: a.b ? 1 : 0 };
  if ('s' in a) return { s: new TextEncoder().encode(a.s) };
  if ('list' in a)
    return {
      list: {
        ...(a.list.i && { i: a.list.i }),
        ...(a.list.s && { s: a.list.s.map((x) => new TextEncoder().encode(x)) }),
      },
    };
  if ('shape' in a) return { shape: shapeProto(a.shape) };
  return {
    tensor: {
      dtype: DT[a.tensor.dtype],
      tensor_shape: shapeProto(a.tensor.shape),
      tensor_content: bytesOf(a.tensor.data),
    },
  };
}

/** The GraphDef message of a TF graph (attributes sorted by name, as TF serializes maps). */
export function graphDefMessage(g: TfGraph) {
  return {
    node: g.nodes.map((n) => ({
      name: n.name,
      op: n.op,
      input: n.input,
      attr: Object.keys(n.attr)
        .sort()
        .map((key) => ({ key, value: attrProto(n.attr[key]) })),
    })),
    versions: { producer: PRODUCER, min_consumer: 12 },
  };
}

export const encodeGraphDef = (g: TfGraph) => encode(TF_SCHEMA, 'GraphDef', graphDefMessage(g));

/** saved_model.pb: one MetaGraphDef tagged 'serve' with the frozen graph and a serving_default signature. */
export function encodeSavedModel(g: TfGraph): Uint8Array {
  const info = (name: string, dims: number[]) => ({
    name: `${name}:0`,
    dtype: DT.DT_FLOAT,
    tensor_shape: shapeProto(dims),
  });
  return encode(TF_SCHEMA, 'SavedModel', {
    saved_model_schema_version: 1,
    meta_graphs: [
      {
        meta_info_def: { tags: ['serve'], tensorflow_version: '2.13.0' },
        graph_def: graphDefMessage(g),
        signature_def: [
          {
            key: 'serving_default',
            value: {
              inputs: [{ key: g.input.name, value: info(g.input.name, g.input.shape) }],
              outputs: [{ key: 'output_0', value: info(g.output.name, g.output.shape) }],
              method_name: 'tensorflow/serving/predict',
            },
          },
        ],
      },
    ],
  });
}

export const decodeGraphDef = (bytes: Uint8Array, file = '<pb>') => decode(TF_SCHEMA, 'GraphDef', bytes, file) as any;
export const decodeSavedModel = (bytes: Uint8Array, file = '<saved_model.pb>') =>
  decode(TF_SCHEMA, 'SavedModel', bytes, file) as any;

/**
 * A decoded GraphDef as @tensorflow/tfjs ModelArtifacts (modelTopology in the JSON mapping, every
 * Const's tensor_content as weight data): what tf.loadGraphModel({ load }) runs.
 */
export function graphToTfjs(gd: any, file = '<pb>') {
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
  const shapeJson = (s: any) => (s?.dim?.length ? { dim: s.dim.map((d: any) => ({ size: String(d.size ?? 0) })) } : {});
  const weightSpecs: { name: string; shape: number[]; dtype: string }[] = [];
  const parts: Uint8Array[] = [];
  const node = (gd.node as any[]).map((n) => {
    const attr: Record<string, unknown> = {};
    for (const { key, value: v } of n.attr) {
      if (v.list)
        attr[key] = {
          list: {
            ...(v.list.i.length && { i: v.list.i.map(String) }),
            ...(v.list.s.length && { s: v.list.s.map(b64) }),
          },
        };
      else if (v.tensor) {
        const t = v.tensor,
          dtype = DT_NAME[t.dtype];
        if (!dtype)
          throw new Error(`${file}: node '${n.name}': tensor dtype ${t.dtype} is not supported (float32 / int32)`);
        const shape = (t.tensor_shape?.dim ?? []).map((d: any) => Number(d.size ?? 0));
        const count = shape.reduce((a: number, b: number) => a * b, 1);
        let data: Uint8Array = t.tensor_content ?? new Uint8Array(0);
        if (!data.length) {
          // small tensors may be written as float_val / int_val (one value broadcast to the shape)
          const vals: number[] = dtype === 'DT_FLOAT' ? t.float_val : t.int_val;
          const arr = dtype === 'DT_FLOAT' ? new Float32Array(count) : new Int32Array(count);
          for (let i = 0; i < count; i++) arr[i] = vals[Math.min(i, vals.length - 1)] ?? 0;
          data = bytesOf(arr);
        }
        if (data.length !== count * 4)
          throw new Error(`${file}: node '${n.name}': ${data.length} bytes for shape [${shape}]`);
        weightSpecs.push({ name: n.name, shape, dtype: dtype === 'DT_FLOAT' ? 'float32' : 'int32' });
        parts.push(data);
        attr[key] = { tensor: { dtype, tensorShape: shapeJson(t.tensor_shape) } };
      } else if (v.shape) attr[key] = { shape: shapeJson(v.shape) };
      else if (v.s !== undefined) attr[key] = { s: b64(v.s) };
      else if (v.type !== undefined) attr[key] = { type: DT_NAME[v.type] ?? `DT_${v.type}` };
      else if (v.f !== undefined) attr[key] = { f: v.f };
      else if (v.i !== undefined) attr[key] = { i: String(v.i) };
      else if (v.b !== undefined) attr[key] = { b: !!v.b };
      else attr[key] = { list: {} };
    }
    return { name: n.name, op: n.op, ...(n.input.length && { input: n.input }), attr };
  });
  const data = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) (data.set(p, off), (off += p.length));
  return {
    modelTopology: { node, library: {}, versions: {} },
    format: 'graph-model',
    weightSpecs,
    weightData: data.buffer,
  };
}
