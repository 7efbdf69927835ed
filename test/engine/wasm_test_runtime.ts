// A test-only WasmRuntime (engine/backends/wasm/abi.ts): compiles the given WAT fragments with wabt
// into a module importing one shared memory, a bump allocator, and `parallel` running the chunks
// one after another on this thread: `threads` only sets how many chunks a task range is split into
// (an uneven split proves the tasks of a kernel are independent). The real runtime with worker
// threads is engine/backends/wasm/runtime.ts.
import * as v8 from 'node:v8';
import wabtInit from 'wabt';
import type { WasmRuntime, WatFragment } from '../../engine/backends/wasm/abi.js';

/** Node 20 hides relaxed SIMD behind a flag; it must be set before the first module compiles. */
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

  private constructor(module: WebAssembly.Module, readonly relaxed: boolean, readonly threads: number) {
    const instance = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.exports = instance.exports as unknown as Record<string, (...args: number[]) => number>;
  }

  static async create(fragments: WatFragment[], opts: { relaxed: boolean; threads?: number }) {
    const module = await compileWat(watModule(fragments, opts.relaxed), opts.relaxed);
    return new TestRuntime(module, opts.relaxed, opts.threads ?? 1);
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
    for (let i = 0; i < chunks; i++) {
      const begin = Math.floor((tasks * i) / chunks), end = Math.floor((tasks * (i + 1)) / chunks);
      this.log.push([kernel, begin, end]);
      this.call(kernel, ...args, begin, end);
    }
  }
}
