// A test-only WasmRuntime (engine/backends/wasm/abi.ts): compiles the given WAT fragments with wabt
// into a module importing one shared memory, a bump allocator, and `parallel` running the chunks
// one after another on this thread: `threads` only sets how many chunks a task range is split into
// (an uneven split proves the tasks of a kernel are independent). With `workers: true` the chunks
// really run at once: threads - 1 worker threads instantiate the same module on the same memory and
// wait on a shared control block (Atomics.wait / notify); call close() to end them. The real
// runtime is engine/backends/wasm/runtime.ts.
import * as v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import wabtInit from 'wabt';
import type { WasmRuntime, WatFragment } from '../../engine/backends/wasm/abi.js';

/** Node 20 hides relaxed SIMD behind a flag; it must be set before the first module compiles. */
/** copies arrays into fresh blocks of rt; a number n gives a block of n floats filled with NaN, so unwritten elements show */
export function place(rt: WasmRuntime, ...arrays: (Float32Array | number)[]) {
  return arrays.map((a) => {
    const len = typeof a === 'number' ? a : a.length;
    const p = rt.alloc(4 * len);
    if (typeof a === 'number') rt.f32(p, len).fill(NaN);
    else rt.f32(p, len).set(a);
    return p;
  });
}

export function enableRelaxedSimd() {
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
}

export function watModule(fragments: WatFragment[], relaxed: boolean) {
  return `(module\n  (import "env" "memory" (memory $mem 1 65536 shared))\n${fragments.map((f) => f.wat({ relaxed })).join('\n')}\n)`;
}

export async function compileWat(text: string, relaxed: boolean): Promise<WebAssembly.Module> {
  const wabt = await wabtInit();
  const features = { simd: true, threads: true, relaxed_simd: relaxed };
  const mod = wabt.parseWat('kernels.wat', text, features);
  try {
    (mod.validate as (f?: object) => void)(features); // the .d.ts omits the features argument
    return new WebAssembly.Module(mod.toBinary({}).buffer as Uint8Array<ArrayBuffer>);
  } finally {
    mod.destroy();
  }
}

export class TestRuntime implements WasmRuntime {
  readonly memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });
  readonly exports: Record<string, (...args: number[]) => number>;
  private top = 1024; // keep 0 free: a null pointer means "none" (no bias)
  private sizes = new Map<number, number>();
  /** the calls made by parallel(): [kernel, begin, end] */
  readonly log: [string, number, number][] = [];

  private workers: Worker[] = [];
  /** [0] generation (-1: stop), [1] workers done, [2] kernel index, [3] arg count, [8..] args, [64 + 2i..] worker i's range */
  private ctrl = new Int32Array(new SharedArrayBuffer(4 * 128));
  private names: string[];
  private error = '';

  private constructor(
    module: WebAssembly.Module,
    readonly relaxed: boolean,
    readonly threads: number,
    workers: boolean,
  ) {
    const instance = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.exports = instance.exports as unknown as Record<string, (...args: number[]) => number>;
    this.names = Object.keys(this.exports);
    if (workers)
      for (let i = 0; i < threads - 1; i++)
        this.workers.push(
          new Worker(WORKER, {
            eval: true,
            workerData: { module, memory: this.memory, ctrl: this.ctrl, index: i, names: this.names },
          }).on('error', (e) => (this.error = String(e))),
        );
  }

  static async create(fragments: WatFragment[], opts: { relaxed: boolean; threads?: number; workers?: boolean }) {
    const module = await compileWat(watModule(fragments, opts.relaxed), opts.relaxed);
    return new TestRuntime(module, opts.relaxed, opts.threads ?? 1, opts.workers ?? false);
  }

  /** ends the worker threads */
  async close() {
    Atomics.store(this.ctrl, 0, -1);
    Atomics.notify(this.ctrl, 0);
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
  }

  alloc(bytes: number): number {
    const ptr = this.top;
    this.top = Math.ceil((ptr + Math.max(bytes, 16)) / 16) * 16;
    const need = Math.ceil(this.top / 65536) - this.memory.buffer.byteLength / 65536;
    if (need > 0) this.memory.grow(need);
    this.sizes.set(ptr, bytes);
    return ptr;
  }

  /** bump allocator: freeing the newest block gives its space back, anything else is kept */
  free(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new Error(`free: ${ptr} is not an allocated block`);
    this.sizes.delete(ptr);
    if (Math.ceil((ptr + Math.max(size, 16)) / 16) * 16 === this.top) this.top = ptr;
  }

  /** bytes in use above the reserved start, to check launchers free their scratch */
  get used() {
    return this.top - 1024;
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  call(kernel: string, ...args: number[]): number {
    const fn = this.exports[kernel];
    if (!fn) throw new Error(`no kernel ${kernel}`);
    return fn(...args);
  }

  parallel(kernel: string, args: number[], tasks: number): void {
    const chunks = Math.min(this.threads, tasks);
    const range = (i: number) => [Math.floor((tasks * i) / chunks), Math.floor((tasks * (i + 1)) / chunks)];
    for (let i = 0; i < chunks; i++) this.log.push([kernel, ...range(i)] as [string, number, number]);
    if (this.workers.length === 0) {
      for (let i = 0; i < chunks; i++) this.call(kernel, ...args, ...range(i));
      return;
    }
    // workers take chunks 1.., this thread chunk 0; a worker without a chunk gets an empty range
    const c = this.ctrl;
    c[2] = this.names.indexOf(kernel);
    c[3] = args.length;
    args.forEach((a, i) => (c[8 + i] = a));
    this.workers.forEach((_, w) => {
      const [b, e] = w + 1 < chunks ? range(w + 1) : [0, 0];
      c[64 + 2 * w] = b;
      c[65 + 2 * w] = e;
    });
    Atomics.store(c, 1, 0);
    Atomics.add(c, 0, 1);
    Atomics.notify(c, 0);
    this.call(kernel, ...args, ...range(0));
    for (let done = Atomics.load(c, 1); done < this.workers.length; done = Atomics.load(c, 1))
      if (Atomics.wait(c, 1, done, 60_000) === 'timed-out')
        throw new Error(`${kernel}: a worker did not finish in 60 s${this.error ? ` (${this.error})` : ''}`);
  }
}

const WORKER = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctrl, index, names } = workerData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
let gen = 0;
for (;;) {
  Atomics.wait(ctrl, 0, gen);
  gen = Atomics.load(ctrl, 0);
  if (gen < 0) break;
  const args = Array.from(ctrl.subarray(8, 8 + ctrl[3]));
  const b = ctrl[64 + 2 * index], e = ctrl[65 + 2 * index];
  if (e > b) exports[names[ctrl[2]]](...args, b, e);
  Atomics.add(ctrl, 1, 1);
  Atomics.notify(ctrl, 1);
}`;
