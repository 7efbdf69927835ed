// Lifetime of tensor memory. GPU buffers are not garbage-collected in time by V8 alone, so
// tensors can be freed three ways: explicitly (`t.dispose()`), by scope (`tidy(fn)` frees every
// tensor created inside fn except what fn returns), and, as a safety net, when the Tensor
// object itself is collected (FinalizationRegistry).
import type { Tensor } from './tensor.js';

const scopes: Set<Tensor>[] = [];

export function trackTensor(t: Tensor) {
  if (scopes.length) scopes[scopes.length - 1].add(t);
}

export function untrackTensor(t: Tensor) {
  for (const s of scopes) s.delete(t);
}

/**
 * Runs a synchronous fn; disposes every tensor created inside it that is not part of the
 * result (a Tensor, or arrays/objects of them). Returned tensors move to the enclosing scope.
 *
 * With autograd, call backward() inside the same scope as the forward pass (as a training
 * step does): the intermediates a backward function needs are created inside the scope and
 * are freed with it, so a graph cannot be walked after its scope has ended (as in tf.js).
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise)
      throw new Error(
        'tidy: fn must be synchronous (a Promise was returned); tensors created after an await would escape the scope',
      );
  } finally {
    scopes.pop();
  }
  const keep = new Set<Tensor>();
  collectTensors(result, keep);
  for (const t of scope) if (!keep.has(t)) t.dispose();
  for (const t of keep) if (scope.has(t)) trackTensor(t);
  return result;
}

/** Removes a tensor from every enclosing tidy scope, so it outlives them. */
export function keep<T extends Tensor>(t: T): T {
  untrackTensor(t);
  return t;
}

function collectTensors(v: unknown, out: Set<Tensor>, depth = 0) {
  if (!v || typeof v !== 'object' || depth > 4) return;
  if ((v as Tensor).isTensor === true) return void out.add(v as Tensor);
  if (Array.isArray(v)) for (const x of v) collectTensors(x, out, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype || v instanceof Map)
    for (const x of v instanceof Map ? v.values() : Object.values(v)) collectTensors(x, out, depth + 1);
}

/**
 * tidy for an async fn: a training step awaits a readback (the loss assigner runs on the host)
 * between its forward and backward passes, so a synchronous tidy cannot span it. Every tensor
 * created while fn runs is freed at the end except the result. Tensors created by other async
 * work interleaved with fn land in this scope too, so use it only where nothing else runs
 * concurrently (the trainer's step loop).
 */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = await fn();
  } finally {
    scopes.splice(scopes.lastIndexOf(scope), 1);
  }
  const keep = new Set<Tensor>();
  collectTensors(result, keep);
  for (const t of scope) if (!keep.has(t)) t.dispose();
  for (const t of keep) if (scope.has(t)) trackTensor(t);
  return result;
}
