// The compiled forward's units on the wasm device (executor.ts calls these once per unit while it
// builds; each returns the closure a forward runs, or null where the generic path (the eager op,
// then a copy into place) must do). Every value is a view of a slot block in the shared memory:
//   conv2d         gemm.ts's packed-panel GEMM with the weights packed once (WeightCache), reading
//                  and writing channel slices in place (PlaneLayout), bias + SiLU in the epilogue;
//                  3x3 stride-1 convs through Winograd F(2x2, 3x3), one fused `wino_fused` launch
//                  each (backends/wasm/winograd.ts; YOLO_WINOGRAD=0 keeps them direct), or
//                  F(4x4, 3x3) where winogradF4Eligible says (`wino_fused4`, winograd_f4.ts, U
//                  cached per weight; YOLO_WINOGRAD_F4=0 keeps F(2x2))
//   max_pool2d     the `maxpool` kernel per image, over planes of a concat slice
//   upsample       `upsample` per image, straight into the concat slice
//   chain          `elementwise_chain` (kernels/chain.ts): the rows as one program, one pass
//   copy           `copy4` between two views (a concat input that could not be written in place)
// Kernel arguments and parameter blocks are made here, once; a forward only launches.
import type { Tensor } from '../tensor.js';
import type { WasmRuntimeImpl } from '../backends/wasm/runtime.js';
import { conv2dForward, packConvWeights, packedConvWeightBytes } from '../backends/wasm/gemm.js';
import {
  launchWinogradFused,
  packWinogradWeights,
  prepareWinogradFused,
  winogradEligible,
  winogradWeightBytes,
} from '../backends/wasm/winograd.js';
import {
  packWinogradWeightsF4,
  prepareWinogradF4,
  winogradF4Eligible,
  winogradF4WeightBytes,
} from '../backends/wasm/winograd_f4.js';
import {
  CHAIN_HEADER_WORDS,
  CHAIN_MAX_INPUTS,
  CHAIN_OPS,
  CHAIN_SCRATCH_BYTES,
} from '../backends/wasm/kernels/chain.js';
import { convGeometry, planeLayout, type ConvGeometry } from '../ops/conv2d.js';
import { clone } from '../ops/elementwise.js';
import { broadcastStrides, numel } from '../shape.js';
import type { Graph, Node } from './ir.js';
import type { Plan, Unit } from './compile_plan.js';
import type { Layout } from './layout.js';
import { ptrOf } from '../backends/wasm/abi.js';
import { upsampleWasm } from '../backends/wasm/ops_pool.js';

/** below this many elements per thread a kernel stays on the calling thread (as ops_elementwise.ts) */
const PER_THREAD = 16384;

/**
 * The closure for one unit of `plan` on wasm, or null for the generic path. `T` gives a value's
 * tensor (a view of its slot, or a parameter/constant), `slotView` a view of a root's slot.
 */
export function wasmUnitStep(
  rt: WasmRuntimeImpl,
  plan: Plan,
  u: Unit,
  T: (v: number | null) => Tensor | null,
  slotView: (root: number, l: Layout) => Tensor,
  packed: WasmPackedWeights,
  blocks: WasmBlocks,
): (() => void) | null {
  const g = plan.graph;
  if (u.kind === 'chain') {
    blocks.chainScratch ??= blocks.alloc(rt.threads * CHAIN_SCRATCH_BYTES);
    return wasmChainStep(
      rt,
      g,
      u.nodes,
      u.inputs,
      u.inputs.map((v) => T(v)!),
      T(u.out)!,
      blocks.chainScratch,
      blocks,
    );
  }
  if (u.kind === 'copy') return wasmCopyStep(rt, T(u.from)!, slotView(u.root, u.layout));
  if (u.kind !== 'direct') return null;
  const n = g.nodes[u.node];
  const [x, w, b] = n.inputs.map(T);
  const out = T(n.outputs[0])!;
  if (n.op === 'conv2d') return wasmConvStep(rt, n, x!, w!, b, out, packed, blocks);
  if (n.op === 'max_pool2d') return wasmMaxPoolStep(rt, n, x!, out);
  if (n.op === 'upsample_nearest2d') return wasmUpsampleStep(rt, n, x!, out);
  return null;
}

/** Blocks a plan keeps in the wasm memory besides its slots (parameter blocks, scratch, packed weights). */
export class WasmBlocks {
  private ptrs: number[] = [];
  /** threads x CHAIN_SCRATCH_BYTES, shared by the plan's chains (they run one at a time) */
  chainScratch: number | undefined;
  /** one block shared by the units that run one at a time (Winograd's V and M), grown to the largest need */
  private shared = { ptr: 0, bytes: 0 };
  constructor(readonly rt: WasmRuntimeImpl) {}
  /** the shared scratch, at least `bytes` long once every unit is built (read `.ptr` when running) */
  sharedScratch(bytes: number): { readonly ptr: number } {
    if (bytes > this.shared.bytes) {
      if (this.shared.bytes) {
        this.rt.free(this.shared.ptr);
        this.ptrs = this.ptrs.filter((p) => p !== this.shared.ptr);
      }
      this.shared.ptr = this.alloc(bytes);
      this.shared.bytes = bytes;
    }
    return this.shared;
  }
  alloc(bytes: number): number {
    const p = this.rt.alloc(Math.max(16, bytes));
    this.ptrs.push(p);
    return p;
  }
  get count() {
    return this.ptrs.length;
  }
  get sharedBytes() {
    return this.shared.bytes;
  }
  free() {
    for (const p of this.ptrs) this.rt.free(p);
    this.ptrs = [];
    this.shared = { ptr: 0, bytes: 0 };
  }
}

/** The forms a conv weight is packed in (gemm_conv2d's panels, or Winograd F(2x2)'s or F(4x4)'s U), each with the size its packer allocates. */
type PackedForm = 'direct' | 'f2' | 'f4';

const PACKERS: Record<
  PackedForm,
  { pack: (rt: WasmRuntimeImpl, w: number, g: ConvGeometry) => number; bytes: (g: ConvGeometry) => number }
> = {
  direct: { pack: packConvWeights, bytes: packedConvWeightBytes },
  f2: { pack: packWinogradWeights, bytes: winogradWeightBytes }, // U (16, O, C)
  f4: { pack: packWinogradWeightsF4, bytes: winogradF4WeightBytes }, // U (36, O, C)
};

/** Conv weights packed once per weight tensor and form (shared by a model's plans). */
export class WasmPackedWeights {
  private entries = new Map<PackedForm, Map<Tensor, { ptr: number; rt: WasmRuntimeImpl; bytes: number }>>();
  get(rt: WasmRuntimeImpl, w: Tensor, g: ConvGeometry, form: PackedForm): number {
    let map = this.entries.get(form);
    if (!map) this.entries.set(form, (map = new Map()));
    let e = map.get(w);
    if (!e) {
      const src = w.isContiguous ? w : clone(w);
      e = { ptr: PACKERS[form].pack(rt, ptrOf(src), g), rt, bytes: PACKERS[form].bytes(g) };
      if (src !== w) src.dispose();
      map.set(w, e);
    }
    return e.ptr;
  }
  private all() {
    return [...this.entries.values()].flatMap((m) => [...m.values()]);
  }
  get bytes() {
    return this.all().reduce((s, e) => s + e.bytes, 0);
  }
  dispose() {
    for (const e of this.all()) e.rt.free(e.ptr);
    this.entries.clear();
  }
}

/** conv2d into its output view; x read in place when its planes are contiguous, else copied each forward. */
export function wasmConvStep(
  rt: WasmRuntimeImpl,
  n: Node,
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  out: Tensor,
  packed: WasmPackedWeights,
  blocks?: WasmBlocks,
): (() => void) | null {
  const yl = planeLayout(out);
  if (!yl || !w.isContiguous || (b && !b.isContiguous)) return null;
  const geo = convGeometry('conv2d', x.shape, w.shape, n.attrs as Record<string, any>);
  const act = n.attrs.act === 'silu' ? 'silu' : null;
  const bPtr = b ? ptrOf(b) : 0;
  const xl = planeLayout(x);
  if (xl && blocks && winogradEligible(geo)) {
    // one fused launch per conv (F(4x4) where it is eligible and faster, else F(2x2)); its scratch
    // (a few L2-sized tile blocks) is shared by the plan's convs
    const f4 = winogradF4Eligible(geo);
    const up = packed.get(rt, w, geo, f4 ? 'f4' : 'f2');
    const l = (f4 ? prepareWinogradF4 : prepareWinogradFused)(
      rt,
      x.storage.ptr,
      xl,
      up,
      bPtr,
      out.storage.ptr,
      yl,
      geo,
      act,
    );
    const params = blocks.alloc(4 * l.words.length),
      flags = blocks.alloc(l.flagBytes);
    const s = blocks.sharedScratch(l.scratchBytes);
    return () => launchWinogradFused(rt, l, params, flags, s.ptr);
  }
  const wp = packed.get(rt, w, geo, 'direct');
  if (xl)
    return () =>
      conv2dForward(rt, x.storage.ptr, 0, bPtr, out.storage.ptr, geo, act, {
        layouts: { x: xl, y: yl },
        packedWeights: wp,
      });
  return () => {
    const xc = clone(x);
    conv2dForward(rt, ptrOf(xc), 0, bPtr, out.storage.ptr, geo, act, { layouts: { y: yl }, packedWeights: wp });
    xc.dispose();
  };
}

/** Planes of a (N, C, h, w) view lie one after another inside each image (a channel slice of NCHW). */
function imagePlanes(t: Tensor) {
  const l = planeLayout(t);
  const [, , h, w] = t.shape;
  return l && (l.sc === h * w || t.shape[1] === 1) ? l : null;
}

/** max_pool2d (no indices: inference) per image of the output view. */
export function wasmMaxPoolStep(rt: WasmRuntimeImpl, n: Node, x: Tensor, out: Tensor): (() => void) | null {
  const xl = imagePlanes(x),
    yl = imagePlanes(out);
  if (!xl || !yl) return null;
  const a = n.attrs as Record<string, any>;
  const pair = (v: number | number[] | undefined, d: number[]) =>
    v === undefined ? d : typeof v === 'number' ? [v, v] : v;
  const [kh, kw] = pair(a.kernelSize, [1, 1]),
    [sh, sw] = pair(a.stride, [kh, kw]),
    [ph, pw] = pair(a.padding, [0, 0]),
    [dh, dw] = pair(a.dilation, [1, 1]);
  const [N, C, h, w] = x.shape,
    [, , oh, ow] = out.shape;
  const launches = Array.from({ length: N }, (_, i) => [
    x.storage.ptr + 4 * (xl.off + i * xl.sb),
    out.storage.ptr + 4 * (yl.off + i * yl.sb),
    h,
    w,
    oh,
    ow,
    kh,
    kw,
    sh,
    sw,
    ph,
    pw,
    dh,
    dw,
  ]);
  const minTasks = Math.ceil(4096 / (oh * ow));
  return () => launches.forEach((args) => rt.parallel('maxpool', args, C, minTasks));
}

/** upsample_nearest2d per image: `upsample` (one task per input row) into the output view's planes. */
export function wasmUpsampleStep(rt: WasmRuntimeImpl, n: Node, x: Tensor, out: Tensor): (() => void) | null {
  const xl = imagePlanes(x),
    yl = imagePlanes(out);
  const [sh, sw] = n.attrs.scale as number[];
  if (!xl || !yl || !Number.isInteger(sh) || !Number.isInteger(sw)) return null;
  const [N, C, h, w] = x.shape;
  const at = (t: Tensor, l: { off: number; sb: number }, i: number) => t.storage.ptr + 4 * (l.off + i * l.sb);
  return () => {
    for (let i = 0; i < N; i++) upsampleWasm(rt, at(x, xl, i), at(out, yl, i), C, h, w, sh, sw, yl.sc);
  };
}

/** dst = src (src broadcast to dst's shape), both any views: one copy4 launch, or null above rank 4. */
export function wasmCopyStep(rt: WasmRuntimeImpl, src: Tensor, dst: Tensor): (() => void) | null {
  const shape = [...dst.shape];
  const l = copyArgs(ptrOf(src), broadcastStrides(src.shape, src.strides, shape), ptrOf(dst), dst.strides, shape);
  return l ? () => rt.parallel('copy4', l.args, l.rows, l.minRows) : null;
}

/** copy4's arguments: dims of size 1 dropped, runs that are contiguous on both sides merged, rank <= 4. */
function copyArgs(src: number, ss: readonly number[], dst: number, ds: readonly number[], shape: readonly number[]) {
  const dims: { d: number; s: number; o: number }[] = [];
  shape.forEach((d, i) => {
    if (d === 1) return;
    const p = dims[dims.length - 1];
    if (p && p.s === ss[i] * d && p.o === ds[i] * d) dims[dims.length - 1] = { d: p.d * d, s: ss[i], o: ds[i] };
    else dims.push({ d, s: ss[i], o: ds[i] });
  });
  if (dims.length > 4) return null;
  while (dims.length < 4) dims.unshift({ d: 1, s: 0, o: 0 });
  const rows = dims[0].d * dims[1].d * dims[2].d;
  return {
    args: [src, dst, ...dims.map((x) => x.d), ...dims.map((x) => x.s), ...dims.map((x) => x.o)],
    rows,
    minRows: Math.ceil(PER_THREAD / dims[3].d),
  };
}

/**
 * An elementwise chain (the rows `nodes`, in order, each reading the previous row's result and/or
 * `ins`) as one `elementwise_chain` launch writing `out` (any view); null when a row has no SIMD
 * form or the layout does not collapse to rank 4 (the executor then runs its host loop).
 * `scratch`: threads x CHAIN_SCRATCH_BYTES (task t of the launch uses block t).
 */
export function wasmChainStep(
  rt: WasmRuntimeImpl,
  g: Graph,
  nodes: number[],
  inputIds: number[],
  ins: Tensor[],
  out: Tensor,
  scratch: number,
  blocks: WasmBlocks,
): (() => void) | null {
  if (ins.length > CHAIN_MAX_INPUTS || ins.some((t) => t.dtype !== 'f32') || out.dtype !== 'f32') return null;
  const prog: number[][] = [];
  let prev = -1;
  for (const id of nodes) {
    const nd = g.nodes[id];
    const op = CHAIN_OPS.findIndex((o) => o.name === nd.op);
    if (op < 0 || nd.inputs.length !== (CHAIN_OPS[op].binary ? 2 : 1)) return null;
    const src = nd.inputs.map((v) => (v === prev ? 0 : inputIds.indexOf(v!) + 1));
    if (src.some((s) => s < 0 || (s === 0 && prev < 0))) return null;
    const f = (k: string) => Math.fround(Number(nd.attrs[k] ?? 0));
    prog.push([op, src[0], src[1] ?? 0, f('alpha'), f('beta')]);
    prev = nd.outputs[0];
  }
  // collapse the output shape (size-1 dims dropped, runs contiguous for every operand merged) to rank 4
  const shape = out.shape;
  const views = [out, ...ins].map((t) => broadcastStrides(t.shape, t.strides, shape));
  const dims: { d: number; st: number[] }[] = [];
  shape.forEach((d, i) => {
    if (d === 1) return;
    const p = dims[dims.length - 1],
      st = views.map((s) => s[i]);
    if (p && p.st.every((s, k) => s === st[k] * d)) dims[dims.length - 1] = { d: p.d * d, st };
    else dims.push({ d, st });
  });
  if (dims.length > 4) return null;
  while (dims.length < 4) dims.unshift({ d: 1, st: views.map(() => 0) });
  const n = numel(shape);
  if (n === 0) return () => {};
  const T = Math.max(1, Math.min(rt.threads, Math.floor(n / PER_THREAD)));
  const words = CHAIN_HEADER_WORDS + 5 * prog.length;
  const p = blocks.alloc(4 * words);
  const i32 = new Int32Array(rt.memory.buffer, p, words),
    f32 = new Float32Array(rt.memory.buffer, p, words);
  i32.set([n, T, dims[1].d, dims[2].d, dims[3].d, ins.length, prog.length, scratch]);
  [out, ...ins].forEach((t, k) => i32.set([ptrOf(t), ...dims.map((x) => x.st[k])], 8 + 5 * k));
  prog.forEach(([op, a, b, al, be], k) => {
    const o = CHAIN_HEADER_WORDS + 5 * k;
    i32.set([op, a, b], o);
    f32[o + 3] = al;
    f32[o + 4] = be;
  });
  return () => rt.parallel('elementwise_chain', [p], T);
}
