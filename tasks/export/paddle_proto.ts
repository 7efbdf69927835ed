// Paddle's static-graph model schema (paddle/fluid/framework/framework.proto, proto2: repeated
// scalars unpacked) as tables for engine/io/protobuf.ts, and the pdiparams tensor stream.
//
// model.pdiparams (save_combine): the persistable variables sorted by name, each a serialized
// LoDTensor: uint32 version 0, uint64 LoD level count (0), then the tensor: uint32 version 0,
// int32 byte length of a VarType.TensorDesc, that TensorDesc, the raw little-endian data.
//
// Imports: engine/io (protobuf).
import type { Schema } from '../../engine/io/protobuf.js';

/** AttrType */
export const ATTR = {
  INT: 0,
  FLOAT: 1,
  STRING: 2,
  INTS: 3,
  FLOATS: 4,
  STRINGS: 5,
  BOOLEAN: 6,
  BOOLEANS: 7,
  BLOCK: 8,
  LONG: 9,
  BLOCKS: 10,
  LONGS: 11,
} as const;
/** VarType.Type */
export const VT = {
  BOOL: 0,
  INT16: 1,
  INT32: 2,
  INT64: 3,
  FP16: 4,
  FP32: 5,
  FP64: 6,
  LOD_TENSOR: 7,
  FEED_MINIBATCH: 9,
  FETCH_LIST: 10,
} as const;

// bools are varints (int32 here)
export const PADDLE_SCHEMA: Schema = {
  ProgramDesc: [
    { num: 1, name: 'blocks', type: 'BlockDesc', repeated: true },
    { num: 3, name: 'op_compatible_map', type: 'OpCompatibleMap' },
    { num: 4, name: 'version', type: 'Version' },
  ],
  Version: [{ num: 1, name: 'version', type: 'int64' }],
  OpCompatibleMap: [{ num: 2, name: 'default_required_version', type: 'string' }],
  BlockDesc: [
    { num: 1, name: 'idx', type: 'int32' },
    { num: 2, name: 'parent_idx', type: 'int32' },
    { num: 3, name: 'vars', type: 'VarDesc', repeated: true },
    { num: 4, name: 'ops', type: 'OpDesc', repeated: true },
    { num: 5, name: 'forward_block_idx', type: 'int32' },
  ],
  VarDesc: [
    { num: 1, name: 'name', type: 'string' },
    { num: 2, name: 'type', type: 'VarType' },
    { num: 3, name: 'persistable', type: 'int32' },
    { num: 4, name: 'need_check_feed', type: 'int32' },
  ],
  VarType: [
    { num: 1, name: 'type', type: 'int32' },
    { num: 3, name: 'lod_tensor', type: 'LoDTensorDesc' },
  ],
  LoDTensorDesc: [
    { num: 1, name: 'tensor', type: 'TensorDesc' },
    { num: 2, name: 'lod_level', type: 'int32' },
  ],
  TensorDesc: [
    { num: 1, name: 'data_type', type: 'int32' },
    { num: 2, name: 'dims', type: 'int64', repeated: true },
  ],
  OpDesc: [
    { num: 1, name: 'inputs', type: 'OpVar', repeated: true },
    { num: 2, name: 'outputs', type: 'OpVar', repeated: true },
    { num: 3, name: 'type', type: 'string' },
    { num: 4, name: 'attrs', type: 'OpAttr', repeated: true },
    { num: 5, name: 'is_target', type: 'int32' },
  ],
  OpVar: [
    { num: 1, name: 'parameter', type: 'string' },
    { num: 2, name: 'arguments', type: 'string', repeated: true },
  ],
  OpAttr: [
    { num: 1, name: 'name', type: 'string' },
    { num: 2, name: 'type', type: 'int32' },
    { num: 3, name: 'i', type: 'int32' },
    { num: 4, name: 'f', type: 'float' },
    { num: 5, name: 's', type: 'string' },
    { num: 6, name: 'ints', type: 'int32', repeated: true },
    { num: 7, name: 'floats', type: 'float', repeated: true },
    { num: 8, name: 'strings', type: 'string', repeated: true },
    { num: 10, name: 'b', type: 'int32' },
    { num: 13, name: 'l', type: 'int64' },
    { num: 15, name: 'longs', type: 'int64', repeated: true },
  ],
};
