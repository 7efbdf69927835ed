// The tracer: runs a Module's real forward on the meta device (shapes only, no memory, no kernels)
// and records every engine op it calls, the way torch.jit.trace / torch.fx record aten calls.
// Parameters and buffers are swapped for meta twins during the run and come back as named
// constants; each node carries the path of the module whose forward called it.
//
// Symbolic sizes: give an input shape with names (['B', 3, 'H', 'W']) and the forward is traced at
// the example sizes and at a few others; every number that changes (dims, reshape targets) must be
// a polynomial of the names, and is stored as a Sym (engine/graph/sym.ts).
import { Storage, Tensor } from '../tensor.js';
import { meta } from '../device.js';
import type { DType } from '../dtype.js';
import { withRecorder, type Attrs, type Recorder } from './hook.js';
import { Graph, type GraphAttr, type Node, type OutputTree } from './ir.js';
import { Sym, fitSym, monomials } from './sym.js';

/** What the tracer needs of a module: nn/module.ts's Module has all of it. */
export interface TraceableModule {
  readonly typeName: string;
  forward(...args: any[]): any;
  namedModules(): [string, TraceableModule][];
  namedChildren(): [string, TraceableModule][];
  /** replaces each own parameter/buffer by f's result (the tracer swaps meta twins in and back) */
  mapTensors(f: (name: string, t: Tensor, kind: 'parameter' | 'buffer') => Tensor): void;
}

/** One graph input: a shape of numbers and size names ('B', 'H', 'W'...), f32 unless told. */
export interface InputSpec {
  shape: (number | string)[];
  dtype?: DType;
  name?: string;
}

export interface TraceOptions {
  /** example values of the size names; B defaults to 1, H and W to 640 */
  sizes?: Record<string, number>;
  /** how the input tensors become forward's arguments (default: one argument each; Pose takes one array: `(xs) => [xs]`) */
  pack?: (inputs: Tensor[]) => unknown[];
}

const DEFAULT_SIZES: Record<string, number> = { B: 1, H: 640, W: 640 };

/**
 * Traces `module.forward(...inputs)` in the module's current mode (train/eval, fused or not).
 * `inputs`: shapes (numbers) or InputSpecs; with size names the graph is symbolic in them.
 */
export function traceModule(
  module: TraceableModule,
  inputs: (InputSpec | number[])[] | InputSpec | number[],
  opts: TraceOptions = {},
): Graph {
  const specs: InputSpec[] = (isSpecList(inputs) ? inputs : [inputs]).map((s, i) =>
    Array.isArray(s) ? { shape: s, name: `input${i}` } : { name: `input${i}`, ...s },
  );
  const symbols = [...new Set(specs.flatMap((s) => s.shape.filter((d): d is string => typeof d === 'string')))];
  const env0: Record<string, number> = {};
  for (const s of symbols) {
    const v = opts.sizes?.[s] ?? DEFAULT_SIZES[s];
    if (!(Number.isInteger(v) && v > 0))
      throw new Error(`trace: the size '${s}' needs an example value (opts.sizes.${s}, a positive integer)`);
    env0[s] = v;
  }
  if (!symbols.length) return traceOnce(module, specs, {}, opts.pack);
  // 2-level grid {v, 2v} per name (fits every multilinear polynomial), then a check at 3v
  const points = monomials(symbols).map((_, mask) =>
    Object.fromEntries(symbols.map((s, i) => [s, env0[s] * (mask & (1 << i) ? 2 : 1)])),
  );
  points.push(Object.fromEntries(symbols.map((s) => [s, env0[s] * 3])));
  const graphs = points.map((p) => traceOnce(module, specs, p, opts.pack));
  const g = mergeTraces(graphs, symbols, points);
  g.symbols = env0;
  return g;
}

function isSpecList(x: unknown): x is (InputSpec | number[])[] {
  return Array.isArray(x) && x.length > 0 && typeof x[0] === 'object';
}

/** One trace at concrete sizes. */
function traceOnce(
  module: TraceableModule,
  specs: InputSpec[],
  env: Record<string, number>,
  pack = (xs: Tensor[]): unknown[] => xs,
): Graph {
  const g = new Graph();
  g.symbols = env;
  const ids = new Map<Tensor, number>();
  const named = new Map<Tensor, { name: string; kind: 'parameter' | 'buffer'; orig: Tensor }>();
  const stack: { m: TraceableModule; path: string }[] = [];
  const mods = module.namedModules();

  // meta twins of every parameter and buffer (a tensor shared by two modules gets one twin)
  const twinOf = new Map<Tensor, Tensor>(),
    origOf = new Map<Tensor, Tensor>();
  for (const [prefix, m] of mods)
    m.mapTensors((n, t, kind) => {
      let tw = twinOf.get(t);
      if (!tw) {
        tw = new Tensor(new Storage(meta, t.dtype, t.numel, null, null), [...t.shape]);
        if (t.requiresGrad) tw.requiresGrad = true;
        twinOf.set(t, tw);
        origOf.set(tw, t);
        named.set(tw, { name: prefix ? `${prefix}.${n}` : n, kind, orig: t });
      }
      return tw;
    });
  // module paths: wrap each module's forward for the duration of the trace
  const saved: [TraceableModule, PropertyDescriptor | undefined][] = [];
  for (const [path, m] of mods) {
    saved.push([m, Object.getOwnPropertyDescriptor(m, 'forward')]);
    const orig = m.forward;
    m.forward = function (this: TraceableModule, ...args: any[]) {
      const parent = stack[stack.length - 1];
      let p = path;
      const entry = parent?.m.namedChildren().find(([, c]) => c === m);
      if (entry) p = parent.path ? `${parent.path}.${entry[0]}` : entry[0];
      stack.push({ m, path: p });
      try {
        return orig.apply(m, args);
      } finally {
        stack.pop();
      }
    };
  }

  const idOf = (t: Tensor): number => {
    const known = ids.get(t);
    if (known !== undefined) return known;
    const id = g.values.length;
    const n = named.get(t);
    if (n) g.values.push({ id, kind: n.kind, shape: [...t.shape], dtype: t.dtype, name: n.name, tensor: n.orig });
    else
      g.values.push({
        id,
        kind: 'constant',
        shape: [...t.shape],
        dtype: t.dtype,
        ...(t.storage.array && { data: t.storage.array }),
      });
    ids.set(t, id);
    return id;
  };
  const here = () => stack[stack.length - 1];
  const recorder: Recorder = {
    node(op: string, inputs: (Tensor | null)[], attrs: Attrs, outputs: Tensor[]) {
      const id = g.nodes.length;
      const inIds = inputs.map((t) => (t === null ? null : idOf(t)));
      const outIds = outputs.map((o, index) => {
        const vid = g.values.length;
        g.values.push({ id: vid, kind: 'node', shape: [...o.shape], dtype: o.dtype, producer: id, index });
        ids.set(o, vid);
        return vid;
      });
      const top = here();
      g.nodes.push({
        id,
        op,
        inputs: inIds,
        outputs: outIds,
        attrs: structuredCloneAttrs(attrs),
        module: top?.path ?? '',
        moduleType: top?.m.typeName ?? '',
      });
    },
    hostRead(t: Tensor, how: string): never {
      const top = here();
      const id = ids.get(t);
      const v = id === undefined ? undefined : g.values[id];
      const what =
        v?.producer !== undefined
          ? `the output of ${g.nodes[v.producer].op} (at '${g.nodes[v.producer].module}')`
          : v?.name
            ? `'${v.name}'`
            : `a tensor of shape [${t.shape.join(', ')}]`;
      throw new Error(
        `trace: ${how}() reads the values of ${what} on the host, in the forward of '${top?.path ?? ''}' (${top?.m.typeName ?? 'no module'}). ` +
          'A traced forward cannot depend on tensor values (data-dependent control flow): compute it with tensor ops, or do it outside forward.',
      );
    },
  };

  try {
    const xs = specs.map((s, i) => {
      const shape = s.shape.map((d) => (typeof d === 'number' ? d : env[d]));
      const x = Tensor.empty(shape, s.dtype ?? 'f32', meta);
      g.values.push({ id: i, kind: 'input', shape, dtype: x.dtype, name: s.name });
      g.inputs.push(i);
      ids.set(x, i);
      return x;
    });
    const result = withRecorder(recorder, () => module.forward(...pack(xs)));
    if (result instanceof Promise) {
      result.catch(() => {});
      throw new Error(`trace: ${module.typeName}.forward returned a Promise; only a synchronous forward can be traced`);
    }
    g.outputs = outputTree(result, idOf);
  } finally {
    for (const [prefix, m] of mods) (void prefix, m.mapTensors((_n, t) => origOf.get(t) ?? t));
    for (const [m, desc] of saved) {
      if (desc) Object.defineProperty(m, 'forward', desc);
      else delete (m as { forward?: unknown }).forward;
    }
  }
  return g;
}

function outputTree(r: unknown, idOf: (t: Tensor) => number): OutputTree {
  if (r instanceof Tensor) return idOf(r);
  if (Array.isArray(r)) return r.map((x) => outputTree(x, idOf));
  throw new Error(
    `trace: forward returned ${r === null ? 'null' : typeof r}; a traced forward returns tensors or (nested) arrays of tensors`,
  );
}

function structuredCloneAttrs(a: Attrs): Record<string, GraphAttr> {
  return JSON.parse(JSON.stringify(a));
}

// ---- symbolic sizes: one graph from traces at several sizes ---------------------------------------

function mergeTraces(graphs: Graph[], symbols: string[], points: Record<string, number>[]): Graph {
  const [g0] = graphs;
  const nFit = points.length - 1;
  const where = (what: string) => `trace: ${what} changes with the input size (${symbols.join(', ')})`;
  const fit = (vals: number[], what: string) => {
    const d = fitSym(symbols, points, vals, nFit);
    if (d === null)
      throw new Error(
        `${where(what)} but is not a polynomial of them: ${vals.join(', ')} at ${points.map((p) => JSON.stringify(p)).join(', ')}; trace at a fixed size instead`,
      );
    return d;
  };
  for (const g of graphs)
    if (
      g.nodes.length !== g0.nodes.length ||
      g.values.length !== g0.values.length ||
      JSON.stringify(g.outputs) !== JSON.stringify(g0.outputs)
    )
      throw new Error(
        `trace: the forward runs different ops at different input sizes (${g0.nodes.length} vs ${g.nodes.length} nodes): it has size-dependent control flow; trace at a fixed size instead`,
      );
  const out = new Graph();
  out.inputs.push(...g0.inputs);
  out.outputs = g0.outputs;
  g0.values.forEach((v, i) => {
    const shapes = graphs.map((g) => g.values[i].shape);
    if (shapes.some((s) => s.length !== v.shape.length))
      throw new Error(`trace: value %${i} changes rank with the input size`);
    const shape = v.shape.map((_, k) =>
      fit(
        shapes.map((s) => s[k] as number),
        `dimension ${k} of %${i}`,
      ),
    );
    out.values.push({ ...v, shape });
  });
  g0.nodes.forEach((n, i) => {
    const ns = graphs.map((g) => g.nodes[i]);
    if (ns.some((m) => m.op !== n.op || JSON.stringify(m.inputs) !== JSON.stringify(n.inputs)))
      throw new Error(
        `trace: node ${i} (${n.op} at '${n.module}') differs between input sizes: size-dependent control flow; trace at a fixed size instead`,
      );
    const attrs: Record<string, GraphAttr> = {};
    for (const k of Object.keys(n.attrs))
      attrs[k] = mergeAttr(
        ns.map((m) => m.attrs[k]),
        `attribute ${k} of ${n.op} at '${n.module}'`,
        fit,
      );
    out.nodes.push({ ...n, attrs } as Node);
  });
  return out;
}

function mergeAttr(vs: GraphAttr[], what: string, fit: (v: number[], what: string) => number | Sym): GraphAttr {
  const [v0] = vs;
  if (typeof v0 === 'number') return fit(vs as number[], what);
  if (Array.isArray(v0)) {
    if (vs.some((v) => !Array.isArray(v) || v.length !== v0.length))
      throw new Error(`trace: ${what} changes length with the input size`);
    return v0.map((_, k) =>
      mergeAttr(
        vs.map((v) => (v as GraphAttr[])[k]),
        what,
        fit,
      ),
    );
  }
  if (vs.some((v) => JSON.stringify(v) !== JSON.stringify(v0)))
    throw new Error(`trace: ${what} changes with the input size`);
  return v0;
}
