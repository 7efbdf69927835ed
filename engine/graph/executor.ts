// Runs a plan (compile_plan.ts) on a device. Every slot is one buffer allocated once; every value
// is a Tensor view of its slot made once; each unit is a closure made once.
//   webgpu: the units run once inside GpuRuntime.record, which keeps each dispatch's pipeline,
//           bind group and filled uniform; a forward is then one copy of the input into its slot,
//           the recorded dispatches and a copy of each output, in one command encoder.
//   cpu:    the units run each forward, writing into the same arrays (no autograd, no allocation
//           for activations).
import { Storage, Tensor } from '../tensor.js';
import type { Device, WebGPUDevice } from '../device.js';
import type { Recording } from '../backends/webgpu.js';
import { noGrad } from '../autograd.js';
import { keep } from '../memory.js';
import { clone, pointwise } from '../ops/elementwise.js';
import { tensor } from '../ops/create.js';
import { maxPool2dInto, type MaxPool2dOptions } from '../ops/max_pool2d.js';
import { upsampleNearest2dInto } from '../ops/upsample_nearest2d.js';
import { conv2dCpu, conv2dGpuPacked, convGeometry, packConvWeight, planeLayout } from '../ops/conv2d.js';
import type { TypedArray } from '../dtype.js';
import { runNode } from './replay.js';
import { composeChain, prepareChain } from './executor_kernels.js';
import { isContiguousLayout } from './layout.js';
import type { Plan } from './compile_plan.js';
import { WasmBlocks, WasmPackedWeights, wasmUnitStep } from './executor_wasm.js';
import { castStep, emptyHalf, toHalf, type PlanDType } from './executor_f16.js';

/** Per-weight caches shared by the plans of one model (packed conv weights, host copies). */
export class WeightCache {
  private packed = new Map<Tensor, Tensor>();
  private host = new Map<Tensor, TypedArray>();
  /** wasm: conv weights packed into the GEMM's panels in the shared memory */
  readonly wasmPacked = new WasmPackedWeights();
  private halves = new Map<Tensor, Tensor>(); // f16 copies (f16 plans), packed conv weights by their f32 weight
  packedConv(w: Tensor, dtype: PlanDType = 'f32'): Tensor {
    if (dtype === 'f16') return this.halfOf(w, () => noGrad(() => packConvWeight(w)));
    let p = this.packed.get(w);
    if (!p) this.packed.set(w, (p = keep(noGrad(() => packConvWeight(w)))));
    return p;
  }
  /** An f16 copy of a parameter or constant (f16 plans); `make` gives the f32 values to convert. */
  halfOf(t: Tensor, make?: () => Tensor): Tensor {
    let h = this.halves.get(t);
    if (!h) {
      const src = make ? make() : t;
      this.halves.set(t, (h = keep(toHalf(src))));
      if (src !== t) src.dispose();
    }
    return h;
  }
  hostData(t: Tensor): TypedArray {
    let d = this.host.get(t);
    if (!d) this.host.set(t, (d = t.dataSync()));
    return d;
  }
  get packedBytes() {
    return [...this.packed.values()].reduce((s, t) => s + t.storage.size * 4, 0);
  }
  dispose() {
    for (const t of [...this.packed.values(), ...this.halves.values()]) t.dispose();
    this.packed.clear();
    this.halves.clear();
    this.host.clear();
    this.wasmPacked.dispose();
  }
}

export class Executor {
  private holders: Tensor[] = []; // one per slot: keeps its storage alive
  private consts = new Map<number, Tensor>();
  private views: (Tensor | null)[];
  private steps: (() => void)[] = [];
  private extra: Tensor[] = []; // views and copies made for units
  private own = (t: Tensor) => (this.extra.push(keep(t)), t);
  private recording: Recording | null = null;
  private wasmBlocks: WasmBlocks | null = null; // wasm: parameter blocks and chain scratch
  private readonly inputIds: number[];
  private readonly outputIds: number[];
  /** wasm: the units that run the generic path (eager op + copy, or a chain's host loop), by op */
  readonly genericUnits: string[] = [];
  // f16 plans: f32 buffers the input is written to and the outputs are read from (executor_f16.ts)
  private stageIn = new Map<number, Tensor>();
  private stageOut = new Map<number, Tensor>();
  /** bytes the recorded work kept for itself (temporaries of eager ops run inside the plan) */
  ownedBytes = 0;

  constructor(
    readonly plan: Plan,
    readonly device: Device,
    weights: WeightCache,
    readonly dtype: PlanDType = 'f32',
  ) {
    const g = plan.graph;
    const half = dtype === 'f16';
    if (device.type === 'meta') throw new Error('compile: the meta device runs nothing');
    this.inputIds = [...g.inputs];
    this.outputIds = g.outputIds();
    if (half && device.type !== 'webgpu') throw new Error(`compile: f16 plans run on webgpu, not ${device.type}`);
    for (const size of plan.slots)
      this.holders.push(
        keep(
          half && device.type === 'webgpu'
            ? emptyHalf(device, [Math.max(size, 1)])
            : new Tensor(Storage.alloc(device, 'f32', Math.max(size, 1)), [Math.max(size, 1)]),
        ),
      );
    for (const v of g.values) {
      if (v.kind === 'parameter' || v.kind === 'buffer') {
        if (v.tensor!.device !== device)
          throw new Error(`compile: ${v.name} is on ${v.tensor!.device.type}, the plan runs on ${device.type}`);
        this.consts.set(v.id, v.tensor!);
      } else if (v.kind === 'constant')
        this.consts.set(v.id, keep(tensor(v.data!, g.shapeOf(v.id), { dtype: v.dtype, device })));
    }
    this.views = plan.loc.map((l) =>
      l
        ? keep(
            new Tensor(
              this.holders[plan.roots[l.root].slot].storage,
              l.layout.shape,
              l.layout.strides,
              l.layout.offset,
            ),
          )
        : null,
    );
    // f16 plans read f16 copies of parameters and constants, made on first use (conv weights are
    // packed from the f32 ones instead)
    const halfConsts = new Map<number, Tensor>();
    const C = (v: number) => {
      const t = this.consts.get(v);
      if (!t || !half) return t;
      let h = halfConsts.get(v);
      if (!h) halfConsts.set(v, (h = g.values[v].kind === 'constant' ? this.own(toHalf(t)) : weights.halfOf(t)));
      return h;
    };
    const T = (v: number | null) => (v === null ? null : (C(v) ?? this.views[v] ?? missing(v)));
    const missing = (v: number): never => {
      throw new Error(`compile: value %${v} has no location`);
    };
    const gpu = device.type === 'webgpu';
    const rt = device.type === 'wasm' ? device.wasm : null;
    const blocks = rt && (this.wasmBlocks = new WasmBlocks(rt));
    for (const u of plan.units) {
      // wasm: the unit's own kernel launch where it has one (executor_wasm.ts), else the generic path below
      const step =
        rt &&
        wasmUnitStep(
          rt,
          plan,
          u,
          T,
          (root, l) => this.own(new Tensor(this.holders[plan.roots[root].slot].storage, l.shape, l.strides, l.offset)),
          weights.wasmPacked,
          blocks!,
        );
      if (step) {
        this.steps.push(step);
        continue;
      }
      if (rt)
        this.genericUnits.push(
          u.kind === 'chain'
            ? u.nodes.map((k) => g.nodes[k].op).join('>')
            : u.kind === 'copy'
              ? 'copy'
              : g.nodes[u.node].op,
        );
      if (u.kind === 'chain') {
        const k = composeChain(g, u.nodes, u.inputs);
        const ins = u.inputs.map((v) => T(v)!),
          out = T(u.out)!;
        this.steps.push(prepareChain(k, ins, out));
      } else if (u.kind === 'copy') {
        const src = T(u.from)!,
          l = u.layout;
        const dst = keep(new Tensor(this.holders[plan.roots[u.root].slot].storage, l.shape, l.strides, l.offset));
        this.extra.push(dst);
        this.steps.push(() => pointwise('identity', [src], { into: dst }));
      } else if (u.kind === 'direct' && g.nodes[u.node].op !== 'conv2d' && gpu) {
        const n = g.nodes[u.node],
          a = n.attrs as Record<string, any>;
        const x = T(n.inputs[0])!,
          out = T(n.outputs[0])!;
        const xin = () => (planeLayout(x) ? x : clone(x)); // a copy, recorded, when the planes are strided
        this.steps.push(
          n.op === 'max_pool2d'
            ? () => maxPool2dInto(xin(), out, a as MaxPool2dOptions)
            : () => upsampleNearest2dInto(xin(), out, a.scale[0], a.scale[1]),
        );
      } else if (u.kind === 'direct' && g.nodes[u.node].op === 'conv2d') {
        const n = g.nodes[u.node];
        const [x, b] = [T(n.inputs[0]), T(n.inputs[2] ?? null)];
        const w = this.consts.get(n.inputs[1]!) ?? T(n.inputs[1]);
        const out = T(n.outputs[0])!;
        const geo = convGeometry('conv2d', x!.shape, w!.shape, n.attrs as Record<string, any>);
        const silu = n.attrs.act === 'silu';
        if (gpu) {
          const wp = weights.packedConv(w!, dtype);
          const bias = b && (b.isContiguous && b.offset === 0 ? b : this.own(noGrad(() => clone(b))));
          this.steps.push(() => conv2dGpuPacked(planeLayout(x!) ? x! : clone(x!), wp, bias, out, geo, silu));
        } else {
          // read the input's slot in place when its planes are contiguous (no copy per forward)
          const wd = weights.hostData(w!),
            bd = b ? weights.hostData(b) : null,
            at = planeLayout(out)!,
            xat = planeLayout(x!);
          this.steps.push(() =>
            xat
              ? conv2dCpu(x!.storage.array!, wd, bd, out.storage.array!, geo, silu, at, xat)
              : conv2dCpu(x!.dataSync(), wd, bd, out.storage.array!, geo, silu, at),
          );
        }
      } else {
        const n = g.nodes[u.node];
        const ins = n.inputs.map(T),
          outs = n.outputs.map((o) => T(o)!);
        this.steps.push(() => {
          const res = runNode(n, ins, g.symbols);
          res.forEach((r, k) => {
            pointwise('identity', [r], { into: outs[k] });
            r.dispose();
          });
        });
      }
    }
    if (half) {
      // convert the input into its slot first and the outputs into f32 buffers last
      for (const id of this.inputIds) {
        const st = keep(Tensor.empty(g.shapeOf(id), 'f32', device));
        this.stageIn.set(id, st);
        this.steps.unshift(castStep(st, this.views[id]!, 'f16'));
      }
      for (const id of new Set(this.outputIds)) {
        const st = keep(Tensor.empty(g.shapeOf(id), 'f32', device));
        this.stageOut.set(id, st);
        this.steps.push(castStep(this.views[id]!, st, 'f32'));
      }
    }
    if (gpu) {
      const rt = (device as WebGPUDevice).gpu;
      this.recording = rt.record(() => noGrad(() => this.steps.forEach((s) => s())), { f16: half });
      this.ownedBytes = this.recording.owned.reduce((s, b) => s + b.size, 0);
    }
  }

  /** One forward: the graph's outputs as fresh tensors, in `graph.outputIds()` order. */
  run(inputs: Tensor[]): Tensor[] {
    const g = this.plan.graph;
    if (inputs.length !== this.inputIds.length)
      throw new Error(`compiled forward: expected ${this.inputIds.length} inputs, got ${inputs.length}`);
    return noGrad(() => {
      this.inputIds.forEach((id, i) => {
        const x = inputs[i],
          want = g.shapeOf(id);
        if (x.device !== this.device)
          throw new Error(`compiled forward: input ${i} is on ${x.device.type}, the plan runs on ${this.device.type}`);
        if (x.shape.length !== want.length || x.shape.some((d, k) => d !== want[k]))
          throw new Error(`compiled forward: input ${i} has shape [${x.shape}], the plan was made for [${want}]`);
        this.writeInput(x, this.stageIn.get(id) ?? this.views[id]!);
      });
      if (this.recording) (this.device as WebGPUDevice).gpu.replay(this.recording);
      else this.steps.forEach((s) => s());
      return this.outputIds.map((o) => this.readOutput(this.stageOut.get(o) ?? this.views[o]!));
    });
  }

  private writeInput(x: Tensor, slot: Tensor) {
    if (this.device.type === 'cpu') return void slot.storage.array!.set(x.dataSync(), slot.offset);
    if (this.device.type === 'wasm') return void pointwise('identity', [x], { into: slot });
    const gpu = (this.device as WebGPUDevice).gpu;
    const src = x.isContiguous ? x : clone(x);
    gpu.copyBuffer(src.storage.buffer!, src.offset * 4, slot.storage.buffer!, slot.offset * 4, x.numel * 4);
    if (src !== x) src.dispose();
  }

  private readOutput(v: Tensor): Tensor {
    if (
      this.device.type === 'webgpu' &&
      isContiguousLayout({ shape: [...v.shape], strides: [...v.strides], offset: v.offset })
    ) {
      const out = Tensor.empty(v.shape, v.dtype, this.device);
      (this.device as WebGPUDevice).gpu.copyBuffer(
        v.storage.buffer!,
        v.offset * 4,
        out.storage.buffer!,
        0,
        v.numel * 4,
      );
      return out;
    }
    return clone(v);
  }

  /** Device bytes the plan holds: activation slots and what its recorded work kept. */
  get bytes() {
    const staged = [...this.stageIn.values(), ...this.stageOut.values()].reduce((s, t) => s + 4 * t.numel, 0);
    return this.plan.stats.slotBytes / (this.dtype === 'f16' ? 2 : 1) + staged + this.ownedBytes;
  }

  dispose() {
    if (this.recording) (this.device as WebGPUDevice).gpu.disposeRecording(this.recording);
    this.recording = null;
    for (const v of this.views) v?.dispose();
    for (const t of this.extra) t.dispose();
    for (const t of [...this.stageIn.values(), ...this.stageOut.values()]) t.dispose();
    for (const [id, t] of this.consts) if (this.plan.graph.values[id].kind === 'constant') t.dispose();
    for (const h of this.holders) h.dispose();
    this.wasmBlocks?.free();
    this.holders = [];
    this.steps = [];
  }
}
