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
/**
 * The launch block every thread shares (i32 words): a launch's kernel and arguments, the chunk
 * counter threads claim from, and per worker a busy flag and an error flag; f64 arguments from
 * byte ARGS_AT. See runParallel for the protocol.
 */
const CTL = {
  wake: 0, // bumped per launch; idle workers sleep on it
  counter: 1, // (launch number mod 2^15) << 16 | chunks left: a claim takes chunk (chunks - left)
  kernel: 2,
  nargs: 3,
  tasks: 4,
  grain: 5,
  chunks: 6,
  stop: 7,
  workers: 8, // worker w: busy at 8 + 2w, error at 9 + 2w
} as const;
const MAX_WORKERS = 24;
const ARGS_AT = 4 * (CTL.workers + 2 * MAX_WORKERS);
const MAX_ARGS = 24;
const CTL_BYTES = ARGS_AT + 8 * MAX_ARGS;
/** chunks per participating thread: late or slower threads leave theirs to the others */
const CHUNKS_PER_THREAD = 4;
/** polls of a worker's busy flag before the caller sleeps on it: its last chunk is usually short */
const SPIN = 2000;

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

// The worker: plain JS (no TS loader needed), instantiates the module over the shared memory,
// sleeps on the launch block's wake word and claims chunks of each launch until none is left.
const WORKER_JS = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, ctl, names, id } = workerData;
const inst = new WebAssembly.Instance(module, { env: { memory } });
const fns = names.map((n) => inst.exports[n]);
const i32 = new Int32Array(memory.buffer, ctl, ${ARGS_AT / 4});
const f64 = new Float64Array(memory.buffer, ctl + ${ARGS_AT}, ${MAX_ARGS});
const busy = ${CTL.workers} + 2 * id, error = busy + 1;
let seen = 0;
parentPort.postMessage('ready');
for (;;) {
  Atomics.wait(i32, ${CTL.wake}, seen);
  seen = Atomics.load(i32, ${CTL.wake});
  if (Atomics.load(i32, ${CTL.stop})) break;
  Atomics.store(i32, busy, 1);
  for (;;) {
    // claim the next chunk of the current launch; the compare-exchange fails if another thread
    // took it or a new launch began (the arguments are read only after a successful claim)
    const v = Atomics.load(i32, ${CTL.counter}), left = v & 0xffff;
    if (left === 0) break;
    if (Atomics.compareExchange(i32, ${CTL.counter}, v, v - 1) !== v) continue;
    try {
      const c = i32[${CTL.chunks}] - left, n = i32[${CTL.nargs}], tasks = i32[${CTL.tasks}], grain = i32[${CTL.grain}], args = new Array(n + 2);
      for (let k = 0; k < n; k++) args[k] = f64[k];
      args[n] = c * grain; args[n + 1] = Math.min(tasks, (c + 1) * grain);
      fns[i32[${CTL.kernel}]](...args);
    } catch (e) {
      Atomics.store(i32, error, 1);
      parentPort.postMessage(String(e && e.stack || e));
    }
  }
  Atomics.store(i32, busy, 0);
  Atomics.notify(i32, busy);
}
`;

interface WorkerSlot {
  worker: Worker;
  /** the i32 words of its busy and error flags in the launch block */
  busy: number;
  error: number;
  lastError: string;
}

export class WasmRuntimeImpl implements WasmRuntime {
  readonly memory: WebAssembly.Memory;
  readonly exports: Record<string, (...a: number[]) => number>;
  private readonly names: string[];
  private readonly index = new Map<string, number>();
  private workers: WorkerSlot[] = [];
  /** the launch block (CTL) as i32 words and as f64 arguments */
  private ctl32!: Int32Array;
  private ctlArgs!: Float64Array;
  private launches = 0;
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
    if (n > MAX_WORKERS) throw new Error(`wasm device: threads=${n + 1} is more than ${MAX_WORKERS + 1}`);
    const ctl = this.alloc(CTL_BYTES);
    this.zero(ctl, CTL_BYTES);
    this.ctl32 = new Int32Array(this.memory.buffer, ctl, ARGS_AT / 4);
    this.ctlArgs = new Float64Array(this.memory.buffer, ctl + ARGS_AT, MAX_ARGS);
    const ready: Promise<void>[] = [];
    for (let w = 0; w < n; w++) {
      const worker = new Worker(WORKER_JS, {
        eval: true,
        workerData: { module: this.module, memory: this.memory, ctl, names: this.names, id: w },
      });
      const slot: WorkerSlot = { worker, busy: CTL.workers + 2 * w, error: CTL.workers + 2 * w + 1, lastError: '' };
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

  /** exports[kernel](...args, begin, end) over [0, tasks) in chunks the threads claim (runParallel). */
  parallel(kernel: string, args: number[], tasks: number, minTasksPerThread = 1): void {
    if (profiler.enabled) {
      profiler.methods.add(
        'wasm: wall time per kernel call (the ops still on cpu loops over the memory are not timed)',
      );
      return profiler.time(kernelKind(kernel), () => this.runParallel(kernel, args, tasks, minTasksPerThread));
    }
    this.runParallel(kernel, args, tasks, minTasksPerThread);
  }

  /**
   * The launch protocol. The caller writes the kernel and its arguments into the launch block, then
   * publishes the chunk counter ((launch mod 2^15) << 16 | chunks) and wakes `parts - 1` workers.
   * Every thread, the caller included, claims chunks by compare-exchange on the counter until none
   * is left, so a worker that wakes late (a futex wake-up costs tens of microseconds, more than a
   * small kernel's whole share) finds its chunks done by the others instead of holding them up. A
   * worker marks itself busy before claiming and clears it after; the caller returns once the counter
   * is empty and no worker is busy, so nothing reads the block while the next launch rewrites it: a
   * claim succeeds only on a live launch's counter, and arguments are read after it.
   */
  private runParallel(kernel: string, args: number[], tasks: number, minTasksPerThread: number): void {
    const k = this.index.get(kernel);
    if (k === undefined) throw new Error(`wasm device: no kernel named '${kernel}'`);
    if (args.length > MAX_ARGS)
      throw new Error(`wasm device: ${kernel} takes ${args.length} args, the control block holds ${MAX_ARGS}`);
    const parts = Math.max(1, Math.min(this.workers.length + 1, Math.floor(tasks / minTasksPerThread)));
    const f = this.exports[kernel];
    if (parts <= 1 || tasks <= 1) return void f(...args, 0, tasks);
    const grain = Math.ceil(tasks / Math.min(tasks, parts * CHUNKS_PER_THREAD, 0xffff));
    const chunks = Math.ceil(tasks / grain);
    const c32 = this.ctl32;
    c32[CTL.kernel] = k;
    c32[CTL.nargs] = args.length;
    c32[CTL.tasks] = tasks;
    c32[CTL.grain] = grain;
    c32[CTL.chunks] = chunks;
    for (let a = 0; a < args.length; a++) this.ctlArgs[a] = args[a];
    this.launches = (this.launches + 1) & 0x7fff;
    Atomics.store(c32, CTL.counter, (this.launches << 16) | chunks);
    Atomics.add(c32, CTL.wake, 1);
    Atomics.notify(c32, CTL.wake, parts - 1);
    let err: unknown = null;
    for (;;) {
      const v = Atomics.load(c32, CTL.counter),
        left = v & 0xffff;
      if (left === 0) break;
      if (Atomics.compareExchange(c32, CTL.counter, v, v - 1) !== v) continue;
      const c = chunks - left;
      try {
        f(...args, c * grain, Math.min(tasks, (c + 1) * grain));
      } catch (e) {
        // stop handing out chunks; the workers' claimed chunks still finish before we return
        Atomics.store(c32, CTL.counter, this.launches << 16);
        err = e;
        break;
      }
    }
    for (const s of this.workers) {
      for (let i = 0; i < SPIN && Atomics.load(c32, s.busy) !== 0; i++);
      while (Atomics.load(c32, s.busy) !== 0) Atomics.wait(c32, s.busy, 1);
    }
    // clear every worker's error flag before throwing, so none is reported again by a later launch
    const bad = this.workers.filter((s) => Atomics.load(c32, s.error));
    for (const s of bad) Atomics.store(c32, s.error, 0);
    if (err) throw err;
    if (bad.length)
      throw new Error(
        `wasm device: ${kernel} failed on a worker thread${bad[0].lastError ? `: ${bad[0].lastError}` : ''}`,
      );
  }

  /** Stops the workers (idempotent). */
  async destroy() {
    const ws = this.workers;
    this.workers = [];
    if (ws.length) {
      Atomics.store(this.ctl32, CTL.stop, 1);
      Atomics.add(this.ctl32, CTL.wake, 1);
      Atomics.notify(this.ctl32, CTL.wake);
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
