// The graph: tracer, IR, passes. See README.md.
export { traceModule, type TraceableModule, type InputSpec, type TraceOptions } from './trace.js';
export { Graph, attrString, type Value, type ValueKind, type Node, type OutputTree, type GraphAttr } from './ir.js';
export { Sym, evalDim, dimString, type Dim } from './sym.js';
export { isTracing } from './hook.js';
