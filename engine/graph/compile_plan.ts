// Planning a compiled forward from a fixed-size graph, without touching a device:
//   units     what runs, in order: a conv, an elementwise chain as one kernel, a copy into a
//             concat slice, or any other op (its eager op, then a copy into place)
//   locations every value is a strided view (layout.ts) of a root; views cost nothing, and a
//             concat's inputs are placed as slices of its output so their producers write there
//   slots     roots share buffers when their live ranges (first write .. last read, in units) are
//             disjoint: greedy interval allocation, best fit by size
// executor.ts turns a plan into buffers and kernels on a device.
import type { Graph, Node } from './ir.js';
import type { Chain } from './passes/fuse_elementwise.js';
import { elementwiseRow } from '../ops/elementwise.js';
import { numel } from '../shape.js';
import {
  contiguousLayout,
  expandLayout,
  narrowLayout,
  permuteLayout,
  reshapeLayout,
  sliceLayout,
  type Layout,
} from './layout.js';

export type Unit =
  /** conv2d, max_pool2d, upsample_nearest2d: launched with their output view (on webgpu; cpu runs pool/upsample eagerly and copies) */
  | { kind: 'direct'; node: number }
  /** elementwise rows (node ids, in order) as one kernel over `inputs` (at most 3), writing `out` */
  | { kind: 'chain'; nodes: number[]; inputs: number[]; out: number }
  /** a concat input its producer could not write in place: copied into the slice */
  | { kind: 'copy'; from: number; root: number; layout: Layout }
  | { kind: 'op'; node: number };

export interface Loc {
  root: number;
  layout: Layout;
}

export interface Root {
  /** elements */
  size: number;
  /** first unit that writes it (-1: the graph input) and last unit that reads it */
  start: number;
  end: number;
  slot: number;
}

export interface PlanStats {
  nodes: number;
  /** kernel-launching units (an `op` unit counts its op's launch and its copy as 2) */
  kernels: number;
  elementwiseNodes: number;
  chains: number;
  /** chains of two or more rows */
  fusedChains: number;
  concats: number;
  /** concats whose every input was written in place (no kernel at all) */
  concatsEliminated: number;
  concatCopies: number;
  roots: number;
  slots: number;
  /** activation bytes with buffer sharing, and what one buffer per root would take */
  slotBytes: number;
  unsharedBytes: number;
}

export interface Plan {
  graph: Graph;
  units: Unit[];
  /** per value id: where it lives; null for parameters/constants and values inside a chain */
  loc: (Loc | null)[];
  roots: Root[];
  /** per slot: its size in elements */
  slots: number[];
  stats: PlanStats;
}

const VIEWS = new Set(['reshape', 'narrow', 'slice', 'permute', 'expand']);
/** Ops launched straight into their output's view (any layout with contiguous planes). */
const DIRECT = new Set(['conv2d', 'max_pool2d', 'upsample_nearest2d']);
/** Limits of one chain kernel (shaders/elementwise.wgsl): operands a, b, c; scalars p.alpha, p.beta. */
const MAX_OPERANDS = 3,
  MAX_SCALARS = 2;

/** Splits the fusion pass's chains where a kernel would need more operands or scalars than it has. */
export function splitChains(g: Graph, chains: Chain[]): Chain[] {
  const out: Chain[] = [];
  for (const c of chains) {
    let cur: number[] = [];
    const flush = () => {
      if (cur.length) out.push(chainOf(g, cur));
      cur = [];
    };
    for (const id of c.nodes) {
      const next = chainOf(g, [...cur, id]);
      if (cur.length && (next.inputs.length > MAX_OPERANDS || scalarCount(g, next.nodes) > MAX_SCALARS)) {
        flush();
        cur = [id];
      } else cur.push(id);
    }
    flush();
  }
  return out;
}

function chainOf(g: Graph, nodes: number[]): Chain {
  const inside = new Set(nodes.flatMap((k) => g.nodes[k].outputs));
  const inputs: number[] = [];
  for (const k of nodes)
    for (const i of g.nodes[k].inputs) if (i !== null && !inside.has(i) && !inputs.includes(i)) inputs.push(i);
  return { nodes, inputs, output: g.nodes[nodes[nodes.length - 1]].outputs[0] };
}

export function scalarCount(g: Graph, nodes: number[]): number {
  let k = 0;
  for (const id of nodes) {
    const w = elementwiseRow(g.nodes[id].op).wgsl;
    k += (w.includes('p.alpha') ? 1 : 0) + (w.includes('p.beta') ? 1 : 0);
  }
  return k;
}

export interface PlanOptions {
  /**
   * A conv or upsample may not read the buffer it writes (WebGPU: a buffer bound read-only and
   * writable in one dispatch is a validation error); one that would read its own concat's buffer
   * then writes elsewhere and is copied. (None does in YOLOv8-pose; C2f's shortcut add and SPPF's
   * pools read their own concat through their output binding.)
   */
  exclusiveWrites?: boolean;
}

/**
 * Plans `g` (fixed sizes; constants folded; `chains` from fuseElementwise). Elementwise nodes in no
 * chain run as chains of one row.
 */
export function planGraph(g: Graph, fusion: Chain[], opts: PlanOptions = {}): Plan {
  const banned = new Set<number>();
  for (;;) {
    const plan = planOnce(g, fusion, banned);
    const conflicts = opts.exclusiveWrites ? readWriteConflicts(plan) : [];
    if (!conflicts.length) return plan;
    conflicts.forEach((v) => banned.add(v));
  }
}

/**
 * Values written by a conv or upsample that also reads the same root. (A chain kernel or a pool
 * reads such an input through its output binding, elementwise.wgsl's `from_out`, max_pool2d.wgsl's
 * `x_in_out`; an eager op writes a temporary first.)
 */
function readWriteConflicts(p: Plan): number[] {
  const g = p.graph,
    out: number[] = [];
  const root = (v: number | null) => (v === null ? -1 : (p.loc[v]?.root ?? -1));
  for (const u of p.units) {
    const n = u.kind === 'direct' && g.nodes[u.node].op !== 'max_pool2d' ? g.nodes[u.node] : null;
    const [reads, written] = n ? [n.inputs, n.outputs[0]] : [[], -1];
    if (written >= 0 && reads.some((v) => root(v) >= 0 && root(v) === root(written))) out.push(written);
  }
  return out;
}

function planOnce(g: Graph, fusion: Chain[], banned: Set<number>): Plan {
  const f32 = (id: number) => g.values[id].dtype === 'f32';
  const chains = splitChains(g, fusion).filter(
    (c) => c.inputs.length <= MAX_OPERANDS && [...c.inputs, c.output].every(f32),
  );
  const chainAt = new Map<number, Chain>(); // last node id → chain
  const inChain = new Set<number>();
  for (const c of chains) {
    chainAt.set(c.nodes[c.nodes.length - 1], c);
    c.nodes.forEach((k) => inChain.add(k));
  }
  // single elementwise rows that the kernel can take
  for (const n of g.nodes) {
    if (inChain.has(n.id) || n.outputs.length !== 1) continue;
    let row;
    try {
      row = elementwiseRow(n.op);
    } catch {
      continue;
    }
    const c = chainOf(g, [n.id]);
    if (
      row &&
      c.inputs.length <= MAX_OPERANDS &&
      [...c.inputs, c.output].every(f32) &&
      scalarCount(g, [n.id]) <= MAX_SCALARS &&
      g.values[c.output].shape.length <= 8
    ) {
      chains.push(c);
      chainAt.set(n.id, c);
      inChain.add(n.id);
    }
  }
  const internal = new Set<number>(); // values computed inside a chain kernel, never stored
  for (const c of chains)
    for (const k of c.nodes) for (const o of g.nodes[k].outputs) if (o !== c.output) internal.add(o);

  const outputs = new Set(g.outputIds());
  const producer = (v: number): Node | null => (g.values[v].kind === 'node' ? g.nodes[g.values[v].producer!] : null);
  const shape = (v: number) => g.shapeOf(v);
  const roots: Root[] = [];
  const newRoot = (v: number) => roots.push({ size: numel(shape(v)), start: Infinity, end: -Infinity, slot: -1 }) - 1;

  // ---- placement: concats from last to first, so an outer concat places an inner one first ----
  const placed = new Map<number, Loc>();
  const concatLoc = new Map<number, Loc>();
  const planeOk = (l: Layout) => l.shape.length === 4 && l.strides[3] === 1 && l.strides[2] === l.shape[3];
  const place = (v: number, loc: Loc): boolean => {
    const p = producer(v);
    if (!p || banned.has(v) || placed.has(v) || outputs.has(v) || internal.has(v) || !f32(v)) return false;
    if (VIEWS.has(p.op)) {
      if (p.op !== 'reshape') return false;
      const src = reshapeLayout(loc.layout, shape(p.inputs[0]!));
      return !!src && reshapeLayout(src, shape(v)) !== null && place(p.inputs[0]!, { root: loc.root, layout: src });
    }
    if (p.op === 'conv2d' && !planeOk(loc.layout)) return false;
    placed.set(v, loc);
    return true;
  };
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (n.op !== 'concat' || !f32(n.outputs[0])) continue;
    const o = n.outputs[0];
    const loc = placed.get(o) ?? { root: newRoot(o), layout: contiguousLayout(shape(o)) };
    concatLoc.set(n.id, loc);
    const axis = n.attrs.axis as number;
    let start = 0;
    for (let k = 0; k < n.inputs.length;) {
      const v = n.inputs[k]!;
      // chunks of one value, in order and covering it (C2f's cv1(x).chunk(2, 1)): place the value whole
      const p = producer(v);
      if (p?.op === 'narrow' && p.attrs.axis === axis && p.attrs.start === 0) {
        const u = p.inputs[0]!,
          full = shape(u)[axis];
        let j = k,
          covered = 0;
        while (j < n.inputs.length) {
          const q = producer(n.inputs[j]!);
          if (q?.op !== 'narrow' || q.inputs[0] !== u || q.attrs.axis !== axis || q.attrs.start !== covered) break;
          covered += q.attrs.length as number;
          j++;
        }
        if (covered === full && place(u, { root: loc.root, layout: narrowLayout(loc.layout, axis, start, full) })) {
          start += full;
          k = j;
          continue;
        }
      }
      const len = shape(v)[axis];
      place(v, { root: loc.root, layout: narrowLayout(loc.layout, axis, start, len) });
      start += len;
      k++;
    }
  }

  // ---- units and locations, in execution order ----
  const loc: (Loc | null)[] = g.values.map(() => null);
  for (const v of g.inputs) loc[v] = { root: newRoot(v), layout: contiguousLayout(shape(v)) };
  const units: Unit[] = [];
  let concatsEliminated = 0,
    concatCopies = 0,
    concats = 0;
  const own = (v: number) => (loc[v] = placed.get(v) ?? { root: newRoot(v), layout: contiguousLayout(shape(v)) });
  for (const n of g.nodes) {
    if (inChain.has(n.id)) {
      const c = chainAt.get(n.id);
      if (c) {
        own(c.output);
        units.push({ kind: 'chain', nodes: c.nodes, inputs: c.inputs, out: c.output });
      }
      continue;
    }
    if (VIEWS.has(n.op) && n.inputs[0] !== null && loc[n.inputs[0]] && f32(n.outputs[0])) {
      const src = loc[n.inputs[0]]!,
        a = n.attrs as Record<string, any>;
      const l =
        n.op === 'reshape'
          ? reshapeLayout(src.layout, a.shape)
          : n.op === 'narrow'
            ? narrowLayout(src.layout, a.axis, a.start, a.length)
            : n.op === 'slice'
              ? sliceLayout(src.layout, a.axis, a.start, a.end, a.step)
              : n.op === 'permute'
                ? permuteLayout(src.layout, a.axes)
                : expandLayout(src.layout, a.shape);
      if (l) {
        loc[n.outputs[0]] = { root: src.root, layout: l };
        continue;
      }
    }
    if (n.op === 'concat' && concatLoc.has(n.id)) {
      concats++;
      const cl = (loc[n.outputs[0]] = concatLoc.get(n.id)!);
      const axis = n.attrs.axis as number;
      let start = 0,
        copies = 0;
      for (const v of n.inputs) {
        const len = shape(v!)[axis];
        const want = narrowLayout(cl.layout, axis, start, len);
        if (!sameLoc(loc[v!], cl.root, want)) {
          units.push({ kind: 'copy', from: v!, root: cl.root, layout: want });
          copies++;
        }
        start += len;
      }
      concatCopies += copies;
      if (!copies) concatsEliminated++;
      continue;
    }
    if (n.outputs.every(f32)) n.outputs.forEach(own);
    else
      throw new Error(
        `compile: ${n.op} (${n.module}) produces ${n.outputs.map((o) => g.values[o].dtype).join(', ')}; the compiled forward plans f32 values only`,
      );
    units.push(
      DIRECT.has(n.op) && planeOk(loc[n.outputs[0]]!.layout)
        ? { kind: 'direct', node: n.id }
        : { kind: 'op', node: n.id },
    );
  }
  for (const o of outputs) if (!loc[o]) throw new Error(`compile: output %${o} is a constant; nothing to run`);

  // ---- live ranges: a root lives from its first write to its last read ----
  const touch = (v: number | null, u: number, write: boolean) => {
    if (v === null || !loc[v]) return;
    const r = roots[loc[v]!.root];
    if (write) r.start = Math.min(r.start, u);
    else r.end = Math.max(r.end, u);
  };
  for (const v of g.inputs) roots[loc[v]!.root].start = -1;
  units.forEach((un, u) => {
    if (un.kind === 'chain') {
      un.inputs.forEach((v) => touch(v, u, false));
      touch(un.out, u, true);
    } else if (un.kind === 'copy') {
      touch(un.from, u, false);
      roots[un.root].start = Math.min(roots[un.root].start, u);
    } else {
      const n = g.nodes[un.node];
      n.inputs.forEach((v) => touch(v, u, false));
      n.outputs.forEach((v) => touch(v, u, true));
    }
  });
  for (const o of outputs) roots[loc[o]!.root].end = units.length;
  for (const r of roots) if (r.end < r.start) r.end = r.start; // written, never read

  // ---- slots: greedy over roots by start, reusing a buffer whose roots all ended before ----
  const slots: number[] = [];
  const slotEnd: number[] = [];
  const order = roots
    .map((_, i) => i)
    .filter((i) => roots[i].start !== Infinity)
    .sort((a, b) => roots[a].start - roots[b].start || roots[b].size - roots[a].size);
  for (const i of order) {
    const r = roots[i];
    let best = -1;
    for (let s = 0; s < slots.length; s++) {
      if (slotEnd[s] >= r.start) continue;
      const fits = slots[s] >= r.size,
        bestFits = best >= 0 && slots[best] >= r.size;
      if (best < 0 || (fits && (!bestFits || slots[s] < slots[best])) || (!fits && !bestFits && slots[s] > slots[best]))
        best = s;
    }
    if (best < 0) {
      best = slots.push(0) - 1;
      slotEnd.push(-Infinity);
    }
    slots[best] = Math.max(slots[best], r.size);
    slotEnd[best] = r.end;
    r.slot = best;
  }

  const elementwiseNodes = chains.reduce((s, c) => s + c.nodes.length, 0);
  const kernels = units.reduce((s, u) => s + (u.kind === 'op' ? 2 : 1), 0);
  const stats: PlanStats = {
    nodes: g.nodes.length,
    kernels,
    elementwiseNodes,
    chains: chains.length,
    fusedChains: chains.filter((c) => c.nodes.length > 1).length,
    concats,
    concatsEliminated,
    concatCopies,
    roots: roots.filter((r) => r.slot >= 0).length,
    slots: slots.length,
    slotBytes: 4 * slots.reduce((s, n) => s + n, 0),
    unsharedBytes: 4 * roots.reduce((s, r) => s + (r.slot >= 0 ? r.size : 0), 0),
  };
  return { graph: g, units, loc, roots, slots, stats };
}

function sameLoc(l: Loc | null, root: number, want: Layout): boolean {
  if (!l || l.root !== root || l.layout.offset !== want.offset || l.layout.shape.length !== want.shape.length)
    return false;
  return want.shape.every((d, i) => d === l.layout.shape[i] && (d === 1 || want.strides[i] === l.layout.strides[i]));
}
