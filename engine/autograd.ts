// Reverse-mode autograd. Every differentiable op calls `record(out, name, inputs, backward)`;
// `backward` maps the output gradient to one gradient per input, written with ordinary tensor
// ops so it runs on every device. The graph is freed as backward walks it.
import type { Tensor } from './tensor.js';
import { keep, tidy } from './memory.js';
import { sameShape } from './shape.js';
import { launchLog } from './profile.js';

export interface GradFn {
  name: string;
  inputs: Tensor[];
  backward: (grad: Tensor) => (Tensor | null)[];
  /**
   * State only the backward reads (batch_norm2d's channel statistics, max_pool2d's indices): kept
   * out of tidy scopes, freed once the backward has run, or with the output if it never runs (a
   * branch the loss does not reach, a graph dropped without backward).
   */
  saved?: Tensor[];
}

let gradEnabled = true;

export const isGradEnabled = () => gradEnabled;

/** Runs fn without recording the graph (inference, optimizer steps, metric code). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    const r = fn();
    if (r instanceof Promise) return r.finally(() => (gradEnabled = prev)) as T;
    gradEnabled = prev;
    return r;
  } catch (e) {
    gradEnabled = prev;
    throw e;
  }
}

/** True when an op on these inputs must record a backward function. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  return gradEnabled && inputs.some((t) => t?.requiresGrad);
}

/**
 * Attaches a backward function to `out` when any input requires grad. Returns `out`. `saved`
 * (see GradFn.saved) lives as long as out's backward can still run; without grad it is freed now.
 */
export function record(
  out: Tensor,
  name: string,
  inputs: Tensor[],
  backward: GradFn['backward'],
  saved?: Tensor[],
): Tensor {
  if (launchLog.enabled) launchLog.op(name, out.shape); // every op passes here after its launches
  if (!needsGrad(...inputs)) {
    saved?.forEach((s) => s.dispose());
    return out;
  }
  out.requiresGrad = true;
  out.gradFn = { name, inputs, backward, ...(saved && { saved: saved.map((s) => keep(s)) }) };
  return out;
}

/**
 * Accumulates d(root)/d(leaf) into `leaf.grad` for every leaf that requires grad. `grad`
 * defaults to ones for a one-element root. Non-leaf graph links are cut afterwards.
 */
export function backward(
  root: Tensor,
  grad: Tensor | undefined,
  ops: { add(a: Tensor, b: Tensor): Tensor; onesLike(t: Tensor): Tensor },
) {
  if (!root.requiresGrad)
    throw new Error(
      'backward: the tensor does not require grad (no input had requiresGrad, or it was computed under noGrad)',
    );
  if (!grad && root.numel !== 1)
    throw new Error(`backward: grad can be implicitly created only for one-element outputs, got shape [${root.shape}]`);
  const order = topoOrder(root);
  const grads = new Map<Tensor, Tensor>();
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    grads.set(root, grad ?? ops.onesLike(root));
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const fn = t.gradFn;
      if (!fn) {
        // A leaf: accumulate into .grad, which outlives any tidy scope.
        if (t.grad) {
          const sum = keep(ops.add(t.grad, g));
          t.grad.dispose();
          t.grad = sum;
        } else t.grad = keep(g === grad ? g.detach() : g);
        continue;
      }
      let inGrads: (Tensor | null)[];
      try {
        inGrads = tidy(() => fn.backward(g));
      } catch (e) {
        const hint = /disposed/.test((e as Error).message)
          ? ' (was the forward pass run inside a tidy() scope that has ended?)'
          : '';
        throw new Error(`backward of ${fn.name}: ${(e as Error).message}${hint}`);
      }
      t.gradFn = null; // free the graph as we go
      fn.saved?.forEach((s) => s.dispose());
      const used = new Set<Tensor>([g]);
      fn.inputs.forEach((inp, k) => {
        let gi = inGrads[k];
        // A backward may pass its incoming grad through, or give one tensor to two inputs:
        // each stored gradient gets its own Tensor handle so disposing one leaves the others.
        if (gi && used.has(gi)) gi = gi.detach();
        if (gi) used.add(gi);
        if (!gi || !inp.requiresGrad) return gi?.dispose();
        if (!sameShape(gi.shape, inp.shape))
          throw new Error(
            `backward of ${fn.name}: gradient for input ${k} has shape [${gi.shape}], expected [${inp.shape}]`,
          );
        const acc = grads.get(inp);
        if (acc) {
          grads.set(inp, ops.add(acc, gi));
          acc.dispose();
          gi.dispose();
        } else grads.set(inp, gi);
      });
      if (g !== grad) g.dispose();
    }
  } finally {
    gradEnabled = prev;
    for (const g of grads.values()) if (g !== grad) g.dispose();
  }
}

/** Depth-first post-order over gradFn inputs, iterative (graphs are deep). */
function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>([root]);
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const inputs = top[0].gradFn?.inputs ?? [];
    if (top[1] < inputs.length) {
      const next = inputs[top[1]++];
      if (next.requiresGrad && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(top[0]);
      stack.pop();
    }
  }
  return order;
}
