// ONNX's protobuf messages (onnx.proto, IR version 9 fields we use) as schema tables for
// engine/io/protobuf.ts, plus typed shapes of the plain objects they encode to and from.
import { decode, encode, type Schema } from './protobuf.js';

export const ONNX_SCHEMA: Schema = {
  ModelProto: [
    { num: 1, name: 'ir_version', type: 'int64' },
    { num: 8, name: 'opset_import', type: 'OperatorSetIdProto', repeated: true },
    { num: 2, name: 'producer_name', type: 'string' },
    { num: 3, name: 'producer_version', type: 'string' },
    { num: 4, name: 'domain', type: 'string' },
    { num: 5, name: 'model_version', type: 'int64' },
    { num: 6, name: 'doc_string', type: 'string' },
    { num: 7, name: 'graph', type: 'GraphProto' },
    { num: 14, name: 'metadata_props', type: 'StringStringEntryProto', repeated: true },
  ],
  OperatorSetIdProto: [
    { num: 1, name: 'domain', type: 'string' },
    { num: 2, name: 'version', type: 'int64' },
  ],
  StringStringEntryProto: [
    { num: 1, name: 'key', type: 'string' },
    { num: 2, name: 'value', type: 'string' },
  ],
  GraphProto: [
    { num: 1, name: 'node', type: 'NodeProto', repeated: true },
    { num: 2, name: 'name', type: 'string' },
    { num: 5, name: 'initializer', type: 'TensorProto', repeated: true },
    { num: 10, name: 'doc_string', type: 'string' },
    { num: 11, name: 'input', type: 'ValueInfoProto', repeated: true },
    { num: 12, name: 'output', type: 'ValueInfoProto', repeated: true },
    { num: 13, name: 'value_info', type: 'ValueInfoProto', repeated: true },
  ],
  NodeProto: [
    { num: 1, name: 'input', type: 'string', repeated: true },
    { num: 2, name: 'output', type: 'string', repeated: true },
    { num: 3, name: 'name', type: 'string' },
    { num: 4, name: 'op_type', type: 'string' },
    { num: 7, name: 'domain', type: 'string' },
    { num: 5, name: 'attribute', type: 'AttributeProto', repeated: true },
    { num: 6, name: 'doc_string', type: 'string' },
  ],
  AttributeProto: [
    { num: 1, name: 'name', type: 'string' },
    { num: 20, name: 'type', type: 'int32' },
    { num: 2, name: 'f', type: 'float' },
    { num: 3, name: 'i', type: 'int64' },
    { num: 4, name: 's', type: 'bytes' },
    { num: 5, name: 't', type: 'TensorProto' },
    { num: 6, name: 'g', type: 'GraphProto' },
    { num: 7, name: 'floats', type: 'float', repeated: true, packed: true },
    { num: 8, name: 'ints', type: 'int64', repeated: true, packed: true },
    { num: 9, name: 'strings', type: 'bytes', repeated: true },
  ],
  TensorProto: [
    { num: 1, name: 'dims', type: 'int64', repeated: true, packed: true },
    { num: 2, name: 'data_type', type: 'int32' },
    { num: 4, name: 'float_data', type: 'float', repeated: true, packed: true },
    { num: 5, name: 'int32_data', type: 'int32', repeated: true, packed: true },
    { num: 7, name: 'int64_data', type: 'int64', repeated: true, packed: true },
    { num: 8, name: 'name', type: 'string' },
    { num: 9, name: 'raw_data', type: 'bytes' },
    { num: 10, name: 'double_data', type: 'double', repeated: true, packed: true },
  ],
  ValueInfoProto: [
    { num: 1, name: 'name', type: 'string' },
    { num: 2, name: 'type', type: 'TypeProto' },
  ],
  TypeProto: [{ num: 1, name: 'tensor_type', type: 'TypeProtoTensor' }],
  TypeProtoTensor: [
    { num: 1, name: 'elem_type', type: 'int32' },
    { num: 2, name: 'shape', type: 'TensorShapeProto' },
  ],
  TensorShapeProto: [{ num: 1, name: 'dim', type: 'Dimension', repeated: true }],
  Dimension: [
    { num: 1, name: 'dim_value', type: 'int64' },
    { num: 2, name: 'dim_param', type: 'string' },
  ],
};

/** TensorProto.DataType values we use. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11 } as const;

/** AttributeProto.AttributeType values. */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

export interface TensorProto {
  name?: string;
  dims: number[];
  data_type: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: number[];
  double_data?: number[];
}
export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
}
export interface NodeProto {
  input: string[];
  output: string[];
  name?: string;
  op_type: string;
  domain?: string;
  attribute?: AttributeProto[];
}
export interface Dim {
  dim_value?: number;
  dim_param?: string;
}
export interface ValueInfoProto {
  name: string;
  type?: { tensor_type?: { elem_type: number; shape?: { dim: Dim[] } } };
}
export interface GraphProto {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  value_info?: ValueInfoProto[];
  doc_string?: string;
}
export interface ModelProto {
  ir_version: number;
  opset_import: { domain?: string; version: number }[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: number;
  doc_string?: string;
  graph: GraphProto;
  metadata_props?: { key: string; value: string }[];
}

export function encodeModel(m: ModelProto): Uint8Array {
  return encode(ONNX_SCHEMA, 'ModelProto', m as unknown as Record<string, unknown>);
}

/** Parses an .onnx file's bytes; `file` names it in errors. */
export function decodeModel(bytes: Uint8Array, file = '<onnx>'): ModelProto {
  const m = decode(ONNX_SCHEMA, 'ModelProto', bytes, file) as unknown as ModelProto;
  if (!m.graph || !m.ir_version) throw new Error(`${file}: not an ONNX model (no graph or ir_version)`);
  return m;
}
