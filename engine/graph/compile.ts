// The compiled forward: trace the module at the input's shape, fold constants, drop dead code,
// find elementwise chains, plan buffers (compile_plan.ts) and build an executor (executor.ts);
// plans are cached per input shape (a few, least recently used first out).
// The module must already be in the mode to run (eval, and fused for inference: BN folded into the
// convs by model.fuse()). Plans hold the conv weights packed once for the GEMM (webgpu) or read on
// the host once (cpu): after changing weights, re-fusing or replacing parameters, compile again.
import type { Tensor } from '../tensor.js';
import type { Device } from '../device.js';
import { traceModule, type TraceableModule } from './trace.js';
import type { OutputTree } from './ir.js';
import { eliminateDeadCode, foldConstants, fuseElementwise } from './passes/index.js';
import { planGraph, type Plan } from './compile_plan.js';
import { Executor, WeightCache } from './executor.js';
import { deviceHasF16, type PlanDType } from './executor_f16.js';

export interface CompileOptions {
  /** which of the forward's outputs to compute (default: all); PoseModel keeps the predictions */
  select?: (outputs: OutputTree) => OutputTree;
  /** plans kept, one per input shape (default 4) */
  maxPlans?: number;
  /**
   * 'f16' (half=True): activations, weights and constants stored as f16, computed in f32, outputs
   * returned as f32 (executor_f16.ts); webgpu with shader-f16 only. Default 'f32'.
   */
  dtype?: PlanDType;
}

export class CompiledForward {
  private plans = new Map<string, Executor>();
  private weights = new WeightCache();

  constructor(
    readonly module: TraceableModule,
    readonly device: Device,
    readonly opts: CompileOptions = {},
  ) {
    if (opts.dtype === 'f16' && !deviceHasF16(device))
      throw new Error(
        `compile: dtype f16 needs webgpu with the 'shader-f16' feature; ${device.type} (${device.name}) has none`,
      );
  }

  get dtype(): PlanDType {
    return this.opts.dtype ?? 'f32';
  }

  /** The executor for one input shape, planned on first use. */
  executor(shape: readonly number[]): Executor {
    const key = shape.join('x');
    let ex = this.plans.get(key);
    if (ex) {
      this.plans.delete(key); // most recently used last
      this.plans.set(key, ex);
      return ex;
    }
    ex = new Executor(this.plan(shape), this.device, this.weights, this.dtype);
    this.plans.set(key, ex);
    const max = this.opts.maxPlans ?? 4;
    for (const [k, old] of this.plans) {
      if (this.plans.size <= max) break;
      old.dispose();
      this.plans.delete(k);
    }
    return ex;
  }

  /** The plan for one input shape (no device work). */
  plan(shape: readonly number[]): Plan {
    const g = traceModule(this.module, [[...shape]]);
    if (this.opts.select) g.outputs = this.opts.select(g.outputs);
    foldConstants(g);
    eliminateDeadCode(g);
    return planGraph(g, fuseElementwise(g), { exclusiveWrites: this.device.type === 'webgpu' });
  }

  /** Runs the forward; returns the selected outputs in their tree shape (fresh tensors). */
  run(x: Tensor): any {
    const ex = this.executor(x.shape);
    const outs = ex.run([x]);
    const ids = ex.plan.graph.outputIds();
    const build = (t: OutputTree): any => (typeof t === 'number' ? outs[ids.indexOf(t)] : t.map(build));
    return build(ex.plan.graph.outputs);
  }

  dispose() {
    for (const ex of this.plans.values()) ex.dispose();
    this.plans.clear();
    this.weights.dispose();
  }
}
