// The wasm device's runtime: one shared WebAssembly.Memory that every tensor lives in, a
// size-class allocator over it, the kernel module (engine/backends/wasm/kernels) instantiated on
// the calling thread and on worker threads, and `parallel()` that splits a kernel's task range
// across them. Implements the WasmRuntime contract of abi.ts.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { loadKernelBinary } from './build.js';
import type { WasmRuntime } from './abi.js';
import { kernelKind, profiler } from '../../profile.js';

const PAGE = 65536;
const MAX_PAGES = 65536; // 4 GiB: wasm32's whole address space
/** bytes of the control block per worker: i32 seq, kernel, nargs, begin, end, done, error, stop; f64 args from byte 64 */
const CTL_BYTES = 256;
const MAX_ARGS = 24;

export interface WasmRuntimeOptions {
  /** worker threads + the calling thread (default: one per core) */
  threads?: number;
  /** use the relaxed-SIMD build when the engine supports it (default true) */
  relaxed?: boolean;
}

/** Size classes: multiples of 16 up to 256 bytes, then 8 classes per power of two (≤ 12.5% waste). */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 256) return b;
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 8;
  return Math.ceil(b / step) * step;
}

// The worker: plain JS (no TS loader needed), instantiates the module over the shared memory and
// waits on its control block for work.
const WORKER_JS = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, ctl, names } = workerData;
const inst = new WebAssembly.Instance(module, { env: { memory } });
const fns = names.map((n) => inst.exports[n]);
const i32 = new Int32Array(memory.buffer, ctl, 64);
const f64 = new Float64Array(memory.buffer, ctl + 64, ${MAX_ARGS});
let seen = 0;
parentPort.postMessage('ready');
for (;;) {
  Atomics.wait(i32, 0, seen);
  seen = Atomics.load(i32, 0);
  if (Atomics.load(i32, 7)) break;
  try {
    const n = i32[2], args = new Array(n + 2);
    for (let k = 0; k < n; k++) args[k] = f64[k];
    args[n] = i32[3]; args[n + 1] = i32[4];
    fns[i32[1]](...args);
  } catch (e) {
    Atomics.store(i32, 6, 1);
    parentPort.postMessage(String(e && e.stack || e));
  }
  Atomics.store(i32, 5, 1);
  Atomics.notify(i32, 5);
}
`;

interface WorkerSlot {
  worker: Worker;
  ctl: number;
  i32: Int32Array;
  f64: Float64Array;
  lastError: string;
}

export class WasmRuntimeImpl implements WasmRuntime {
  readonly memory: WebAssembly.Memory;
  readonly exports: Record<string, (...a: number[]) => number>;
  private readonly names: string[];
  private readonly index = new Map<string, number>();
  private workers: WorkerSlot[] = [];
  private top = 16; // bump pointer; byte 0..15 stays unused so a null pointer is never a block
  private readonly freeLists = new Map<number, number[]>(); // size class → free blocks
  private readonly sizes = new Map<number, number>(); // live block → size class
  /** bytes handed out and not yet freed (in size-class units) */
  liveBytes = 0;
  /** high-water mark of liveBytes (reset it by assigning liveBytes; the benches do) */
  peakBytes = 0;

  private constructor(
    readonly module: WebAssembly.Module,
    readonly relaxed: boolean,
    readonly threads: number,
    /** why relaxed SIMD is off, when it is */
    readonly note: string,
  ) {
    this.memory = new WebAssembly.Memory({ initial: 256, maximum: MAX_PAGES, shared: true });
    const inst = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.exports = inst.exports as any;
    this.names = WebAssembly.Module.exports(module)
      .filter((e) => e.kind === 'function')
      .map((e) => e.name);
    this.names.forEach((n, i) => this.index.set(n, i));
  }

  static async create(opts: WasmRuntimeOptions = {}): Promise<WasmRuntimeImpl> {
    const threads = opts.threads ?? availableParallelism();
    const { module, relaxed, note } = await compileKernels(opts.relaxed ?? true);
    const rt = new WasmRuntimeImpl(module, relaxed, threads, note);
    await rt.startWorkers(threads - 1);
    return rt;
  }

  private async startWorkers(n: number) {
    const ready: Promise<void>[] = [];
    for (let w = 0; w < n; w++) {
      const ctl = this.alloc(CTL_BYTES);
      const worker = new Worker(WORKER_JS, {
        eval: true,
        workerData: { module: this.module, memory: this.memory, ctl, names: this.names },
      });
      const slot: WorkerSlot = {
        worker,
        ctl,
        i32: new Int32Array(this.memory.buffer, ctl, 64),
        f64: new Float64Array(this.memory.buffer, ctl + 64, MAX_ARGS),
        lastError: '',
      };
      ready.push(
        new Promise((resolve, reject) => {
          worker.once('message', () => {
            worker.unref(); // idle workers never keep the process alive (only after start-up: the await above needs it)
            resolve();
          });
          worker.once('error', reject);
        }),
      );
      worker.on('message', (m) => {
        if (m !== 'ready') slot.lastError = String(m);
      });
      worker.on('error', (e) => {
        slot.lastError = String(e);
      }); // kernel traps are caught inside; this is the worker itself failing
      this.workers.push(slot);
    }
    await Promise.all(ready);
  }

  // ---- memory ---------------------------------------------------------------------------------

  alloc(bytes: number): number {
    const size = sizeClass(bytes);
    const list = this.freeLists.get(size);
    let ptr = list?.pop();
    if (ptr === undefined) {
      ptr = this.top;
      const end = ptr + size + 16; // 16 bytes of slack: a kernel may read one vector past the last block
      if (end > MAX_PAGES * PAGE)
        throw new Error(
          `wasm device: out of memory (${(bytes / 2 ** 20).toFixed(1)} MiB asked, ${(this.liveBytes / 2 ** 30).toFixed(2)} GiB live of wasm32's 4 GiB)`,
        );
      const have = this.memory.buffer.byteLength;
      if (end > have) this.memory.grow(Math.max(Math.ceil((end - have) / PAGE), Math.ceil(have / PAGE / 4)));
      this.top = ptr + size;
    }
    this.sizes.set(ptr, size);
    this.liveBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    return ptr;
  }

  free(ptr: number) {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new Error(`wasm device: free(${ptr}) of a block that is not live`);
    this.sizes.delete(ptr);
    this.liveBytes -= size;
    let list = this.freeLists.get(size);
    if (!list) this.freeLists.set(size, (list = []));
    list.push(ptr);
  }

  /** The memory's current buffer. Views over a shared buffer stay valid after growth (it is never detached). */
  get buffer(): SharedArrayBuffer {
    return this.memory.buffer as unknown as SharedArrayBuffer;
  }
  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.buffer, ptr, length);
  }
  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.buffer, ptr, length);
  }

  /** Zeroes [ptr, ptr + bytes) with memory.fill (a memset; TypedArray.fill on a shared buffer is far slower). */
  zero(ptr: number, bytes: number) {
    if (bytes > 0) this.exports.zero(ptr, bytes);
  }

  // ---- kernels --------------------------------------------------------------------------------

  call(kernel: string, ...args: number[]): number {
    const f = this.exports[kernel];
    if (!f) throw new Error(`wasm device: no kernel named '${kernel}'`);
    if (!profiler.enabled) return f(...args);
    return profiler.time(kernelKind(kernel), () => f(...args));
  }

  /** exports[kernel](...args, begin, end) over [0, tasks): one chunk per thread, the caller takes the first. */
  parallel(kernel: string, args: number[], tasks: number, minTasksPerThread = 1): void {
    if (profiler.enabled) {
      profiler.methods.add(
        'wasm: wall time per kernel call (the ops still on cpu loops over the memory are not timed)',
      );
      return profiler.time(kernelKind(kernel), () => this.runParallel(kernel, args, tasks, minTasksPerThread));
    }
    this.runParallel(kernel, args, tasks, minTasksPerThread);
  }

  private runParallel(kernel: string, args: number[], tasks: number, minTasksPerThread: number): void {
    const k = this.index.get(kernel);
    if (k === undefined) throw new Error(`wasm device: no kernel named '${kernel}'`);
    if (args.length > MAX_ARGS)
      throw new Error(`wasm device: ${kernel} takes ${args.length} args, the control block holds ${MAX_ARGS}`);
    const parts = Math.max(1, Math.min(this.workers.length + 1, Math.floor(tasks / minTasksPerThread)));
    if (parts <= 1 || tasks <= 1) return void this.exports[kernel](...args, 0, tasks);
    const chunk = Math.ceil(tasks / parts);
    const used: WorkerSlot[] = [];
    for (let p = 1; p < parts; p++) {
      const begin = p * chunk,
        end = Math.min(tasks, begin + chunk);
      if (begin >= end) break;
      const s = this.workers[p - 1];
      s.i32[1] = k;
      s.i32[2] = args.length;
      for (let a = 0; a < args.length; a++) s.f64[a] = args[a];
      s.i32[3] = begin;
      s.i32[4] = end;
      Atomics.store(s.i32, 5, 0);
      Atomics.add(s.i32, 0, 1);
      Atomics.notify(s.i32, 0);
      used.push(s);
    }
    let err: unknown = null;
    try {
      this.exports[kernel](...args, 0, Math.min(chunk, tasks));
    } catch (e) {
      err = e;
    }
    for (const s of used) while (Atomics.load(s.i32, 5) === 0) Atomics.wait(s.i32, 5, 0);
    if (err) throw err;
    const bad = used.find((s) => Atomics.load(s.i32, 6));
    if (bad) {
      Atomics.store(bad.i32, 6, 0);
      throw new Error(`wasm device: ${kernel} failed on a worker thread${bad.lastError ? `: ${bad.lastError}` : ''}`);
    }
  }

  /** Stops the workers (idempotent). */
  async destroy() {
    const ws = this.workers;
    this.workers = [];
    for (const s of ws) {
      Atomics.store(s.i32, 7, 1);
      Atomics.add(s.i32, 0, 1);
      Atomics.notify(s.i32, 0);
    }
    await Promise.all(ws.map((s) => s.worker.terminate()));
  }
}

/** Whether this engine runs 128-bit SIMD wasm at all (a one-function module using v128). */
export function hasWasmSimd(): boolean {
  // (module (func (result v128) v128.const i32x4 0 0 0 0))
  const bytes = new Uint8Array([
    0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 11,
  ]);
  return typeof WebAssembly === 'object' && WebAssembly.validate(bytes);
}

let flagTried = false;

/** Compiles the relaxed build when wanted and supported (enabling V8's flag on Node 20), else the plain SIMD one. */
async function compileKernels(
  wantRelaxed: boolean,
): Promise<{ module: WebAssembly.Module; relaxed: boolean; note: string }> {
  if (typeof SharedArrayBuffer === 'undefined')
    throw new Error('wasm device: this engine has no SharedArrayBuffer (needed for the shared memory)');
  let note = 'relaxed SIMD off (relaxed=false)';
  if (wantRelaxed) {
    const bin = await loadKernelBinary(true);
    if (!WebAssembly.validate(bin) && !flagTried) {
      flagTried = true;
      try {
        (await import('node:v8')).setFlagsFromString('--experimental-wasm-relaxed-simd');
      } catch {
        // not Node: no flag to set
      }
    }
    if (WebAssembly.validate(bin)) return { module: await WebAssembly.compile(bin), relaxed: true, note: '' };
    note = `relaxed SIMD unsupported by this engine (Node ${process.versions.node}), plain SIMD build`;
  }
  const bin = await loadKernelBinary(false);
  if (!WebAssembly.validate(bin))
    throw new Error('wasm device: the plain SIMD kernel module does not validate on this engine');
  return { module: await WebAssembly.compile(bin), relaxed: false, note };
}
