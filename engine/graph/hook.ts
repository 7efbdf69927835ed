// The one place ops talk to the graph tracer. Every op has a single meta-device branch, placed
// after it has checked its inputs and worked out its output shape and before it would touch
// memory or launch a kernel:
//
//   if (x.device.type === 'meta') return metaOp('conv2d', [x, w, b], { stride, padding, ... }, out);
//
// The op name and attributes are exactly what an executor needs to call the same op again
// (engine/graph/replay.ts). With no trace running, a meta op just returns its shape-only output.
// Imports: nothing at run time (types only), so every op file can import it without cycles.
import type { Tensor } from '../tensor.js';

export type AttrValue = number | boolean | string | null | AttrValue[] | { [k: string]: AttrValue };
export type Attrs = Record<string, AttrValue>;

/** What the active tracer (engine/graph/trace.ts) receives. */
export interface Recorder {
  node(op: string, inputs: (Tensor | null)[], attrs: Attrs, outputs: Tensor[]): void;
  hostRead(t: Tensor, how: string): never;
}

let active: Recorder | null = null;

/** Installs a recorder for the duration of fn (traces do not nest). */
export function withRecorder<T>(r: Recorder, fn: () => T): T {
  if (active) throw new Error('trace: a trace is already running (traces do not nest)');
  active = r;
  try {
    return fn();
  } finally {
    active = null;
  }
}

export const isTracing = () => active !== null;

/** The meta branch of an op: records one node when tracing; returns `out` unchanged. */
export function metaOp<T extends Tensor | Tensor[]>(
  op: string,
  inputs: (Tensor | null | undefined)[],
  attrs: Attrs,
  out: T,
): T {
  if (active) {
    // undefined attributes (optional options not given) are dropped: they mean "the default"
    const clean: Attrs = {};
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) clean[k] = v;
    active.node(
      op,
      inputs.map((t) => t ?? null),
      clean,
      Array.isArray(out) ? out : [out],
    );
  }
  return out;
}

/** A meta tensor's values were asked for on the host: there are none. */
export function hostRead(t: Tensor, how: string): never {
  if (active) active.hostRead(t, how);
  throw new Error(
    `${how}: a meta tensor of shape [${t.shape.join(', ')}] has no values (the meta device holds shapes only)`,
  );
}
