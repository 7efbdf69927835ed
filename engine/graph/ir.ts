// The traced graph: values (SSA, each written once) and nodes (one engine op call each), in the
// order the forward ran them, which is a valid execution order. See engine/graph/README.md.
import type { Tensor } from '../tensor.js';
import type { DType, TypedArray } from '../dtype.js';
import type { AttrValue } from './hook.js';
import { Sym, dimString, evalDim, type Dim } from './sym.js';

export type ValueKind = 'input' | 'parameter' | 'buffer' | 'constant' | 'node';

export interface Value {
  /** index into graph.values */
  id: number;
  kind: ValueKind;
  /** numbers, or Syms of the input sizes (B, H, W...) in a symbolic trace */
  shape: Dim[];
  dtype: DType;
  /** input: its name; parameter/buffer: the state-dict name (`model.0.conv.weight`) */
  name?: string;
  /** parameter/buffer: the module's own tensor at trace time (read its values from here) */
  tensor?: Tensor;
  /** constant: the values (a tensor the forward made from host data: anchors, scalars) */
  data?: TypedArray;
  /** kind 'node': the node that writes it, and which of its outputs it is */
  producer?: number;
  index?: number;
}

/** A numeric attribute may be a Sym in a symbolic trace (a reshape target of B, say). */
export type GraphAttr = AttrValue | Sym | GraphAttr[];

export interface Node {
  /** index into graph.nodes */
  id: number;
  /** the engine op, as it names itself in its meta branch: conv2d, silu, add, narrow, reduce... */
  op: string;
  /** value ids, positional as the op takes them; null for an omitted optional input (a conv bias) */
  inputs: (number | null)[];
  outputs: number[];
  attrs: Record<string, GraphAttr>;
  /** the module whose forward ran the op (`model.2.m.0.cv1.conv`; '' for the root) and its class */
  module: string;
  moduleType: string;
  /** set by fuseElementwise: the index of the elementwise chain this node belongs to */
  fusion?: number;
}

/** A forward's output structure: a value id, or nested arrays of them (Pose eval: [pred, [feats, kpt]]). */
export type OutputTree = number | OutputTree[];

export class Graph {
  readonly values: Value[] = [];
  readonly nodes: Node[] = [];
  readonly inputs: number[] = [];
  outputs: OutputTree = [];
  /** the named input sizes and the values the example trace used ({} when all are fixed) */
  symbols: Record<string, number> = {};

  /** Output ids, flattened in order. */
  outputIds(): number[] {
    const out: number[] = [];
    const walk = (t: OutputTree) => (typeof t === 'number' ? out.push(t) : t.forEach(walk));
    walk(this.outputs);
    return out;
  }

  /** A value's shape as numbers for concrete sizes (default: the example trace's). */
  shapeOf(id: number, env: Record<string, number> = this.symbols): number[] {
    return this.values[id].shape.map((d) => evalDim(d, env));
  }

  /** For each value, the nodes that read it. */
  users(): number[][] {
    const u: number[][] = this.values.map(() => []);
    for (const n of this.nodes) for (const i of n.inputs) if (i !== null) u[i].push(n.id);
    return u;
  }

  /** Values with kind parameter/buffer/constant, by id. */
  constants(): Value[] {
    return this.values.filter((v) => v.kind === 'parameter' || v.kind === 'buffer' || v.kind === 'constant');
  }

  /**
   * Drops the nodes in `remove`, then every value nothing reads (except inputs and outputs), and
   * renumbers node and value ids densely, in order. Passes edit in place and call this once.
   */
  compact(remove: Set<number> = new Set()): this {
    const nodes = this.nodes.filter((n) => !remove.has(n.id));
    const used = new Set<number>([...this.inputs, ...this.outputIds()]);
    for (const n of nodes) {
      for (const i of n.inputs) if (i !== null) used.add(i);
      for (const o of n.outputs) used.add(o);
    }
    const values = this.values.filter((v) => used.has(v.id));
    const vmap = new Map(values.map((v, i) => [v.id, i]));
    const nmap = new Map(nodes.map((n, i) => [n.id, i]));
    values.forEach((v, i) => {
      v.id = i;
      if (v.producer !== undefined) v.producer = nmap.get(v.producer);
    });
    nodes.forEach((n, i) => {
      n.id = i;
      n.inputs = n.inputs.map((x) => (x === null ? null : vmap.get(x)!));
      n.outputs = n.outputs.map((x) => vmap.get(x)!);
    });
    const remap = (t: OutputTree): OutputTree => (typeof t === 'number' ? vmap.get(t)! : t.map(remap));
    this.outputs = remap(this.outputs);
    this.inputs.splice(0, this.inputs.length, ...this.inputs.map((x) => vmap.get(x)!));
    this.values.splice(0, this.values.length, ...values);
    this.nodes.splice(0, this.nodes.length, ...nodes);
    return this;
  }

  /** Makes every reader of value `from` (nodes and outputs) read `to` instead. */
  replaceUses(from: number, to: number) {
    for (const n of this.nodes) n.inputs = n.inputs.map((x) => (x === from ? to : x));
    const remap = (t: OutputTree): OutputTree => (typeof t === 'number' ? (t === from ? to : t) : t.map(remap));
    this.outputs = remap(this.outputs);
  }

  /** Appends a value and returns its id. */
  addValue(v: Omit<Value, 'id'>): number {
    const id = this.values.length;
    this.values.push({ ...v, id } as Value);
    return id;
  }

  /** A deep copy of the structure (constants' data and module tensors are shared). */
  clone(): Graph {
    const g = new Graph();
    g.values.push(...this.values.map((v) => ({ ...v, shape: [...v.shape] })));
    g.nodes.push(
      ...this.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: cloneAttrs(n.attrs) })),
    );
    g.inputs.push(...this.inputs);
    g.outputs = JSON.parse(JSON.stringify(this.outputs));
    g.symbols = { ...this.symbols };
    return g;
  }

  /** One node a line: `%12 = conv2d(%0, model.0.conv.weight) stride=[2,2] ... -> f32[B,16,H/2,W/2]  # model.0.conv`. */
  toString(): string {
    const ref = (id: number | null) =>
      id === null
        ? '_'
        : this.values[id].kind === 'parameter' || this.values[id].kind === 'buffer'
          ? this.values[id].name!
          : `%${id}`;
    const ty = (id: number) => `${this.values[id].dtype}[${this.values[id].shape.map(dimString).join(',')}]`;
    const lines = [
      `graph(${this.inputs.map((i) => `%${i}: ${ty(i)}`).join(', ')})${Object.keys(this.symbols).length ? `  sizes ${JSON.stringify(this.symbols)}` : ''}`,
    ];
    for (const v of this.values) if (v.kind === 'constant') lines.push(`  %${v.id} = constant ${ty(v.id)}`);
    for (const n of this.nodes) {
      const attrs = Object.entries(n.attrs)
        .map(([k, v]) => `${k}=${attrString(v)}`)
        .join(' ');
      const outs = n.outputs.map((o) => `%${o}`).join(', ');
      lines.push(
        `  ${outs} = ${n.op}(${n.inputs.map(ref).join(', ')})${attrs ? ' ' + attrs : ''} -> ${n.outputs.map(ty).join(', ')}${n.module ? `  # ${n.module}` : ''}`,
      );
    }
    lines.push(`  return ${JSON.stringify(this.outputs).replace(/(\d+)/g, '%$1').replace(/"/g, '')}`);
    return lines.join('\n');
  }
}

/** A copy of attributes (Syms are immutable and shared). */
export function cloneAttrs(a: Record<string, GraphAttr>): Record<string, GraphAttr> {
  const c = (v: GraphAttr): GraphAttr =>
    Array.isArray(v)
      ? v.map(c)
      : v !== null && typeof v === 'object' && !(v instanceof Sym)
        ? ({ ...(v as object) } as GraphAttr)
        : v;
  return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, c(v)]));
}

export function attrString(v: GraphAttr): string {
  if (v instanceof Sym) return v.toString();
  if (Array.isArray(v)) return `[${v.map(attrString).join(',')}]`;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
