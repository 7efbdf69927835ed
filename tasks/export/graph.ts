// A small ONNX graph builder: nodes named the way torch.onnx names them (`/model.2/cv1/conv/Conv`,
// outputs `<node>_output_<k>`), parameters as initializers under their state-dict names
// (`model.2.cv1.conv.weight`), small constants (shapes, scalars, split sizes) as Constant nodes.
// With `half`, every float initializer is stored as float16 and read through one Cast to float,
// so the graph computes in float32 while the file carries half-size weights.
//
// Imports: engine/io (the ONNX schema tables).

import {
  AttrType,
  DataType,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
} from '../../engine/io/onnx_proto.js';
import { f32ToF16 } from '../../engine/io/torch_pt.js';

/** An attribute value: pick the ONNX type explicitly (1 and 1.0 are the same JS number). */
export type Attr = { i: number } | { f: number } | { s: string } | { ints: number[] } | { floats: number[] };

function attribute(name: string, a: Attr): AttributeProto {
  if ('i' in a) return { name, type: AttrType.INT, i: a.i };
  if ('f' in a) return { name, type: AttrType.FLOAT, f: a.f };
  if ('s' in a) return { name, type: AttrType.STRING, s: new TextEncoder().encode(a.s) };
  if ('ints' in a) return { name, type: AttrType.INTS, ints: a.ints };
  return { name, type: AttrType.FLOATS, floats: a.floats };
}

const bytesOf = (a: Float32Array | BigInt64Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export function int64Tensor(values: readonly number[], dims: number[] = [values.length]): TensorProto {
  return { dims, data_type: DataType.INT64, raw_data: bytesOf(BigInt64Array.from(values, (v) => BigInt(v))) };
}

export function floatTensor(values: ArrayLike<number>, dims: number[]): TensorProto {
  return { dims, data_type: DataType.FLOAT, raw_data: bytesOf(Float32Array.from(values)) };
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly used = new Map<string, number>();

  constructor(readonly half = false) {}

  /**
   * Appends a node `${scope}/${op}` (torch adds _1, _2 ... when a scope repeats an op) and returns
   * its output names. An empty input name is an omitted optional input.
   */
  node(scope: string, op: string, inputs: string[], attrs: Record<string, Attr> = {}, nOutputs = 1): string[] {
    const base = `${scope}/${op}`;
    const n = this.used.get(base) ?? 0;
    this.used.set(base, n + 1);
    const name = n ? `${base}_${n}` : base;
    const output = Array.from({ length: nOutputs }, (_, k) => `${name}_output_${k}`);
    const list = Object.entries(attrs).map(([k, v]) => attribute(k, v));
    this.nodes.push({ name, op_type: op, input: inputs, output, ...(list.length ? { attribute: list } : {}) });
    return [...output]; // a copy: callers extend their lists (C2f) without touching the node
  }

  /** One-output node. */
  op(scope: string, op: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    return this.node(scope, op, inputs, attrs)[0];
  }

  /** A Constant node holding a small tensor (shape vectors, split sizes, scalars). */
  constant(scope: string, t: TensorProto): string {
    const [out] = this.node(scope, 'Constant', []);
    this.nodes[this.nodes.length - 1].attribute = [{ name: 'value', type: AttrType.TENSOR, t }];
    return out;
  }
  ints(scope: string, values: number[], dims: number[] = [values.length]): string {
    return this.constant(scope, int64Tensor(values, dims));
  }
  scalar(scope: string, v: number): string {
    return this.constant(scope, floatTensor([v], []));
  }

  /**
   * A float initializer called `name` (B, ...); returns the value name that carries it as float32
   * (with `half`, the output of its Cast).
   */
  weight(name: string, data: Float32Array, dims: number[]): string {
    if (!this.half) {
      this.initializers.push({ name, ...floatTensor(data, dims) });
      return name;
    }
    this.initializers.push({ name, dims, data_type: DataType.FLOAT16, raw_data: bytesOf(f32ToF16(data)) });
    return this.op(`/${name}`, 'Cast', [name], { to: { i: DataType.FLOAT } });
  }
}
