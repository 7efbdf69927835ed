// The graph: tracer, IR, passes. See README.md.
export { traceModule, type TraceableModule, type InputSpec, type TraceOptions } from './trace.js';
export { Graph, attrString, type Value, type ValueKind, type Node, type OutputTree, type GraphAttr } from './ir.js';
export { Sym, evalDim, dimString, type Dim } from './sym.js';
export { isTracing } from './hook.js';
export { toDot, writeGraph, hasGraphviz } from './dot.js';
export { graphOps, nodeOps } from './flops.js';
export { replay, runNode, concreteAttrs, REPLAY } from './replay.js';
export * from './passes/index.js';
export { CompiledForward, type CompileOptions } from './compile.js';
export { planGraph, type Plan, type PlanStats, type Unit } from './compile_plan.js';
