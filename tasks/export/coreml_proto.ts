// The parts of Core ML's model schema an ML Program pose model uses (coremltools mlmodel/format:
// Model.proto, FeatureTypes.proto, MIL.proto; proto3, so repeated scalars are packed), as tables
// for engine/io/protobuf.ts. Maps are repeated {key = 1, value = 2} entries, as protobuf encodes them.
//
// Imports: engine/io (protobuf).
import type { Schema } from '../../engine/io/protobuf.js';

/** MIL DataType */
export const MIL = {
  BOOL: 1,
  STRING: 2,
  FLOAT16: 10,
  FLOAT32: 11,
  INT32: 23,
  INT64: 24,
  UINT8: 31,
  UINT32: 33,
} as const;
/** ArrayFeatureType.ArrayDataType */
export const ARRAY_FLOAT32 = 65568,
  ARRAY_FLOAT16 = 65552;
/** ImageFeatureType.ColorSpace */
export const COLOR_RGB = 20;

const map = (value: string) => [
  { num: 1, name: 'key', type: 'string' },
  { num: 2, name: 'value', type: value },
];

export const COREML_SCHEMA: Schema = {
  Model: [
    { num: 1, name: 'specificationVersion', type: 'int32' },
    { num: 2, name: 'description', type: 'ModelDescription' },
    { num: 10, name: 'isUpdatable', type: 'int32' },
    { num: 502, name: 'mlProgram', type: 'Program' },
  ],
  ModelDescription: [
    { num: 1, name: 'input', type: 'FeatureDescription', repeated: true },
    { num: 10, name: 'output', type: 'FeatureDescription', repeated: true },
    { num: 100, name: 'metadata', type: 'Metadata' },
  ],
  FeatureDescription: [
    { num: 1, name: 'name', type: 'string' },
    { num: 2, name: 'shortDescription', type: 'string' },
    { num: 3, name: 'type', type: 'FeatureType' },
  ],
  FeatureType: [
    { num: 4, name: 'imageType', type: 'ImageFeatureType' },
    { num: 5, name: 'multiArrayType', type: 'ArrayFeatureType' },
    { num: 1000, name: 'isOptional', type: 'int32' },
  ],
  ImageFeatureType: [
    { num: 1, name: 'width', type: 'int64' },
    { num: 2, name: 'height', type: 'int64' },
    { num: 3, name: 'colorSpace', type: 'int32' },
  ],
  ArrayFeatureType: [
    { num: 1, name: 'shape', type: 'int64', repeated: true, packed: true },
    { num: 2, name: 'dataType', type: 'int32' },
  ],
  Metadata: [
    { num: 1, name: 'shortDescription', type: 'string' },
    { num: 2, name: 'versionString', type: 'string' },
    { num: 3, name: 'author', type: 'string' },
    { num: 4, name: 'license', type: 'string' },
    { num: 100, name: 'userDefined', type: 'StringEntry', repeated: true },
  ],
  StringEntry: map('string'),
  // MIL.proto
  Program: [
    { num: 1, name: 'version', type: 'int64' },
    { num: 2, name: 'functions', type: 'FunctionEntry', repeated: true },
    { num: 3, name: 'docString', type: 'string' },
  ],
  FunctionEntry: map('Function'),
  Function: [
    { num: 1, name: 'inputs', type: 'NamedValueType', repeated: true },
    { num: 2, name: 'opset', type: 'string' },
    { num: 3, name: 'block_specializations', type: 'BlockEntry', repeated: true },
  ],
  BlockEntry: map('Block'),
  Block: [
    { num: 1, name: 'inputs', type: 'NamedValueType', repeated: true },
    { num: 2, name: 'outputs', type: 'string', repeated: true },
    { num: 3, name: 'operations', type: 'Operation', repeated: true },
  ],
  Operation: [
    { num: 1, name: 'type', type: 'string' },
    { num: 2, name: 'inputs', type: 'ArgumentEntry', repeated: true },
    { num: 3, name: 'outputs', type: 'NamedValueType', repeated: true },
    { num: 5, name: 'attributes', type: 'ValueEntry', repeated: true },
  ],
  ArgumentEntry: map('Argument'),
  ValueEntry: map('Value'),
  Argument: [{ num: 1, name: 'arguments', type: 'Binding', repeated: true }],
  Binding: [
    { num: 1, name: 'name', type: 'string' },
    { num: 2, name: 'value', type: 'Value' },
  ],
  NamedValueType: [
    { num: 1, name: 'name', type: 'string' },
    { num: 2, name: 'type', type: 'ValueType' },
  ],
  ValueType: [{ num: 1, name: 'tensorType', type: 'TensorType' }],
  TensorType: [
    { num: 1, name: 'dataType', type: 'int32' },
    { num: 2, name: 'rank', type: 'int64' },
    { num: 3, name: 'dimensions', type: 'Dimension', repeated: true },
  ],
  Dimension: [{ num: 1, name: 'constant', type: 'ConstantDimension' }],
  ConstantDimension: [{ num: 1, name: 'size', type: 'uint64' }],
  Value: [
    { num: 1, name: 'docString', type: 'string' },
    { num: 2, name: 'type', type: 'ValueType' },
    { num: 3, name: 'immediateValue', type: 'ImmediateValue' },
    { num: 5, name: 'blobFileValue', type: 'BlobFileValue' },
  ],
  ImmediateValue: [{ num: 1, name: 'tensor', type: 'TensorValue' }],
  BlobFileValue: [
    { num: 1, name: 'fileName', type: 'string' },
    { num: 2, name: 'offset', type: 'uint64' },
  ],
  TensorValue: [
    { num: 1, name: 'floats', type: 'RepeatedFloats' },
    { num: 2, name: 'ints', type: 'RepeatedInts' },
    { num: 3, name: 'bools', type: 'RepeatedInts' },
    { num: 4, name: 'strings', type: 'RepeatedStrings' },
    { num: 7, name: 'bytes', type: 'RepeatedBytes' },
  ],
  RepeatedBytes: [{ num: 1, name: 'values', type: 'bytes' }],
  RepeatedFloats: [{ num: 1, name: 'values', type: 'float', repeated: true, packed: true }],
  RepeatedInts: [{ num: 1, name: 'values', type: 'int32', repeated: true, packed: true }],
  RepeatedStrings: [{ num: 1, name: 'values', type: 'string', repeated: true }],
};

/** storage_header / blob_metadata (MILBlob StorageFormat.hpp): 64-byte records, data 64-byte aligned. */
export const BLOB_SENTINEL = 0xdeadbeef;
export const BLOB_FLOAT16 = 1,
  BLOB_FLOAT32 = 2,
  BLOB_UINT8 = 3;
export const WEIGHT_FILE = '@model_path/weights/weight.bin';
