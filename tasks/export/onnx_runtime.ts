// Runs an ONNX model through the engine's ops, on either device: the importer behind
// YOLO('model.onnx').
//
//   const s = OnnxSession.load('yolov8n-pose.onnx', device);
//   const [y] = s.run({ images: x });          // x (B, 3, H, W) float32 Tensor -> (B, 56, A)
//
// Loading checks the file as far as running it needs (clear errors naming the file for truncated
// or corrupt bytes, unknown ops, undefined inputs), then plans the run once:
//   - constant folding: nodes fed only by initializers / Constant nodes are computed at load
//     (the Casts of a half export, anchor arithmetic) and kept as host values;
//   - fusion: Conv -> Sigmoid -> Mul (torch's SiLU) becomes one conv with the SiLU epilogue;
//   - lifetimes: each device tensor is freed right after its last reader has run.
// Constants a device op reads are uploaded once and kept until dispose().
//
// Imports: engine, ./onnx_ops.

import { InputError } from '../../engine/errors.js';
import { readFileSync } from 'node:fs';
import { Tensor, keep, noGrad, tensor, type Device } from '../../engine/index.js';
import { decodeModel, type ModelProto, type NodeProto } from '../../engine/io/onnx_proto.js';
import { Attrs, HostTensor, OPS, SUPPORTED_OPS, fromProto, type Value } from './onnx_ops.js';

interface Step {
  node: NodeProto;
  op: string;
  attrs: Attrs;
  /** value names whose device tensors die after this step */
  free: string[];
}

export class OnnxSession {
  readonly opset: number;
  readonly inputNames: string[];
  readonly outputNames: string[];
  /** declared input dims: a number, or a name for a symbolic dimension */
  readonly inputDims: Map<string, (number | string)[]>;
  private readonly consts = new Map<string, HostTensor>();
  /** device copies of constants, kept for the session's life */
  private readonly uploads = new Map<HostTensor, Tensor>();
  /** device copies of host values computed during the current run, freed at its end */
  private runUploads = new Map<HostTensor, Tensor>();
  private constSet = new Set<HostTensor>();
  private readonly steps: Step[] = [];

  constructor(
    readonly proto: ModelProto,
    readonly device: Device,
    readonly file = '<onnx>',
  ) {
    const g = proto.graph;
    const op = proto.opset_import.find((o) => !o.domain || o.domain === 'ai.onnx');
    if (!op) throw new Error(`${file}: no default-domain opset import`);
    this.opset = Number(op.version);
    for (const t of g.initializer) {
      if (!t.name) throw new Error(`${file}: an initializer has no name (corrupt file)`);
      this.consts.set(t.name, fromProto(t, `${file}: initializer '${t.name}'`));
    }
    this.inputNames = g.input.map((i) => i.name).filter((n) => !this.consts.has(n));
    this.outputNames = g.output.map((o) => o.name);
    this.inputDims = new Map(
      g.input.map((i) => [
        i.name,
        (i.type?.tensor_type?.shape?.dim ?? []).map((d) => (d.dim_param ? d.dim_param : Number(d.dim_value ?? 0))),
      ]),
    );
    this.plan(g.node);
  }

  /** Reads and plans `file`; every failure names the file. */
  static load(file: string, device: Device): OnnxSession {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      throw new InputError(
        file,
        `cannot read the ONNX model (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      );
    }
    if (!bytes.length) throw new InputError(file, 'empty file, not an ONNX model');
    let proto: ModelProto;
    try {
      proto = decodeModel(bytes, file);
    } catch (e) {
      if (!(e instanceof Error) || e.constructor !== Error) throw e; // a bug in the reader, not bad input
      const msg = e.message;
      throw new InputError(file, msg.startsWith(file) ? `${msg} — the file is truncated or not an ONNX model` : msg);
    }
    try {
      return new OnnxSession(proto, device, file);
    } catch (e) {
      if (!(e instanceof Error) || e.constructor !== Error) throw e; // a bug in the reader, not bad input
      throw new InputError(file, e.message);
    }
  }

  private plan(nodes: NodeProto[]) {
    const defined = new Set<string>([...this.consts.keys(), ...this.inputNames, '']);
    const unknown = [
      ...new Set(
        nodes
          .filter((n) => !(n.op_type in OPS) || (n.domain && n.domain !== 'ai.onnx'))
          .map((n) => (n.domain ? `${n.domain}.` : '') + n.op_type),
      ),
    ];
    if (unknown.length)
      throw new Error(
        `${this.file}: unsupported ONNX op${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (this runtime covers ${SUPPORTED_OPS.join(', ')})`,
      );
    // ONNX requires nodes in topological order: an undefined input means a corrupt or cut graph
    for (const n of nodes) {
      for (const i of n.input)
        if (!defined.has(i))
          throw new Error(
            `${this.file}: node '${n.name ?? n.op_type}' reads '${i}', which nothing defines (corrupt or truncated graph)`,
          );
      for (const o of n.output) defined.add(o);
    }
    for (const o of this.outputNames)
      if (!defined.has(o))
        throw new Error(`${this.file}: graph output '${o}' is never computed (corrupt or truncated graph)`);

    // constant folding, in order
    const live: NodeProto[] = [];
    for (const n of nodes) {
      const folded = HOST_OPS.has(n.op_type) && n.input.every((i) => i === '' || this.consts.has(i));
      if (folded) {
        const outs = this.exec(
          n,
          n.op_type,
          this.attrsOf(n),
          n.input.map((i) => (i ? this.consts.get(i) : undefined)),
        );
        outs.forEach((v, k) => {
          if (!(v instanceof HostTensor)) throw new Error(`node '${n.name}' folded to a device tensor`);
          this.consts.set(n.output[k], v);
        });
      } else live.push(n);
    }

    // Conv -> Sigmoid -> Mul  ==>  ConvSiLU; Sigmoid -> Mul on the same x ==> SiLU
    const readers = new Map<string, NodeProto[]>();
    for (const n of live) for (const i of n.input) readers.set(i, [...(readers.get(i) ?? []), n]);
    const isOutput = (v: string) => this.outputNames.includes(v);
    const dropped = new Set<NodeProto>();
    const rewritten = new Map<NodeProto, { op: string; node: NodeProto }>();
    for (const n of live) {
      if (n.op_type !== 'Sigmoid' || dropped.has(n)) continue;
      const x = n.input[0],
        s = n.output[0];
      const r = readers.get(s) ?? [],
        rx = readers.get(x) ?? [];
      const m =
        r.length === 1 && r[0].op_type === 'Mul' && r[0].input.includes(x) && r[0].input.includes(s) ? r[0] : null;
      if (!m || isOutput(s)) continue;
      const prod = live.find((p) => p.output.includes(x));
      if (prod && prod.op_type === 'Conv' && rx.length === 2 && !isOutput(x) && !rewritten.has(prod)) {
        dropped.add(prod).add(n);
        rewritten.set(m, { op: 'ConvSiLU', node: { ...prod, output: m.output } });
      } else {
        dropped.add(n);
        rewritten.set(m, { op: 'SiLU', node: { ...m, input: [x] } });
      }
    }
    const order = live.filter((n) => !dropped.has(n)).map((n) => rewritten.get(n) ?? { op: n.op_type, node: n });

    // lifetimes: free each value after its last reader (graph outputs and constants never)
    const last = new Map<string, number>();
    order.forEach((s, k) => s.node.input.forEach((i) => last.set(i, k)));
    const freeAt: string[][] = order.map(() => []);
    for (const [v, k] of last)
      if (!isOutput(v) && !this.consts.has(v) && !this.inputNames.includes(v)) freeAt[k].push(v);
    order.forEach((s, k) => this.steps.push({ node: s.node, op: s.op, attrs: this.attrsOf(s.node), free: freeAt[k] }));
    this.constSet = new Set(this.consts.values());
  }

  /** The planned op sequence (after folding and fusion), e.g. for tests. */
  get ops(): string[] {
    return this.steps.map((s) => s.op);
  }

  private attrsOf(n: NodeProto) {
    return new Attrs(n.attribute, `${n.op_type} '${n.name ?? ''}'`);
  }

  private exec(n: NodeProto, op: string, attrs: Attrs, ins: (Value | undefined)[]): Value[] {
    const outs = OPS[op](ins, attrs, { device: this.device, opset: this.opset, dev: (v, what) => this.dev(v, what) });
    if (outs.length < n.output.length)
      throw new Error(`${attrs.op}: produced ${outs.length} outputs, the graph expects ${n.output.length}`);
    return outs;
  }

  /** A value on the device; host constants are uploaded once. */
  private dev(v: Value | undefined, what: string): Tensor {
    if (!v) throw new Error(`${what}: a required input is missing`);
    if (v instanceof Tensor) return v;
    const cache = this.constSet.has(v) ? this.uploads : this.runUploads; // constants live on, run values die with the run
    let t = cache.get(v);
    if (!t) cache.set(v, (t = keep(upload(v, this.device))));
    return t;
  }

  /**
   * Runs the graph on the given inputs (device tensors); returns the outputs in graph order.
   * `observe` sees every value's name and shape as it is computed (tests compare them with other runtimes).
   */
  run(
    inputs: Record<string, Tensor>,
    opts: { observe?: (name: string, shape: readonly number[]) => void } = {},
  ): Tensor[] {
    for (const n of this.inputNames) if (!inputs[n]) throw new Error(`${this.file}: missing input '${n}'`);
    return noGrad(() => {
      const env = new Map<string, Value>(Object.entries(inputs));
      const get = (name: string) => (name ? (env.get(name) ?? this.consts.get(name)) : undefined);
      const owned = new Set<Tensor>(); // tensors this run created (only these are freed)
      try {
        for (const s of this.steps) {
          let outs: Value[];
          try {
            outs = this.exec(s.node, s.op, s.attrs, s.node.input.map(get));
          } catch (e) {
            throw new Error(`${this.file}: ${(e as Error).message}`);
          }
          s.node.output.forEach((o, k) => {
            env.set(o, outs[k]);
            opts.observe?.(o, outs[k].shape);
            if (outs[k] instanceof Tensor && !this.isShared(outs[k] as Tensor, inputs)) owned.add(outs[k] as Tensor);
          });
          for (const f of s.free) {
            const t = env.get(f);
            env.delete(f);
            if (t instanceof Tensor && owned.delete(t) && !this.stillUsed(t, env)) t.dispose();
          }
        }
        const results = this.outputNames.map((o) => {
          const v = env.get(o) ?? this.consts.get(o);
          return v instanceof Tensor ? v : upload(v as HostTensor, this.device);
        });
        for (const t of owned) if (!results.includes(t)) t.dispose();
        return results;
      } catch (e) {
        for (const t of owned) t.dispose();
        throw e;
      } finally {
        for (const t of this.runUploads.values()) t.dispose();
        this.runUploads.clear();
      }
    });
  }

  /** Tensors a run must not free: its inputs and uploaded constants or run values (an op may return an input as is). */
  private isShared(t: Tensor, inputs: Record<string, Tensor>) {
    for (const m of [this.uploads, this.runUploads]) for (const u of m.values()) if (u === t) return true;
    return Object.values(inputs).includes(t);
  }
  /** An op may return one of its inputs (Identity, a no-op reshape): keep a tensor some live value still is. */
  private stillUsed(t: Tensor, env: Map<string, Value>) {
    for (const v of env.values()) if (v === t) return true;
    return false;
  }

  /** Frees the uploaded constants. */
  dispose() {
    for (const t of this.uploads.values()) t.dispose();
    this.uploads.clear();
  }
}

/** Ops with a host path: folded at load when all their inputs are constants. */
const HOST_OPS = new Set([
  'Identity',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Concat',
  'Reshape',
  'Slice',
  'Gather',
  'Shape',
  'Cast',
  'Unsqueeze',
  'Squeeze',
  'Range',
  'Expand',
  'ConstantOfShape',
  'Constant',
]);

function upload(v: HostTensor, device: Device): Tensor {
  return v.dtype === 'float'
    ? tensor(v.data, [...v.shape], { dtype: 'f32', device })
    : tensor(Int32Array.from(v.data), [...v.shape], { dtype: 'i32', device });
}
