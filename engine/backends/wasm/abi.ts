// The contract between the wasm device's runtime (engine/backends/wasm/runtime.ts: memory, threads,
// module build) and the kernels written as WAT fragments (elementwise, pooling, GEMM/conv, ...).
//
// One kernel module is assembled from every fragment's WAT text and compiled twice at start-up:
// once with relaxed SIMD (f32x4.relaxed_madd) when the engine supports it, else with plain SIMD.
// The module imports one shared memory as
//     (import "env" "memory" (memory $mem 1 65536 shared))
// and every exported kernel takes i32 byte offsets into it (16-byte aligned) and i32/f32 sizes.
// A kernel meant to run on several threads takes `task_begin task_end` (i32) as its LAST two
// params and does the tasks [task_begin, task_end) of its own numbering, writing disjoint outputs.

/** Which build of the kernel module a fragment is generating WAT for. */
export interface WasmFeatures {
  /** f32x4.relaxed_madd is available (else: f32x4.add(f32x4.mul(...))) */
  relaxed: boolean;
}

/** A piece of the kernel module: function (and global/data) definitions, without `(module ...)`. */
export interface WatFragment {
  /** short name used in error messages and the build log */
  name: string;
  wat(features: WasmFeatures): string;
}

/** What a kernel launcher needs from the runtime. */
export interface WasmRuntime {
  readonly memory: WebAssembly.Memory;
  /** the module was built with relaxed SIMD */
  readonly relaxed: boolean;
  /** worker threads + the calling thread */
  readonly threads: number;
  /** byte offset of a fresh 16-byte aligned block of at least `bytes` bytes (grows memory as needed) */
  alloc(bytes: number): number;
  free(ptr: number): void;
  /** a Float32Array over [ptr, ptr + 4 * length) of the memory's current buffer */
  f32(ptr: number, length: number): Float32Array;
  /** calls an exported kernel once on the calling thread */
  call(kernel: string, ...args: number[]): number;
  /**
   * Runs exports[kernel](...args, begin, end) over the task range [0, tasks), split into
   * contiguous chunks across the threads (the calling thread takes one), and returns when all are done.
   */
  parallel(kernel: string, args: number[], tasks: number): void;
}

/** A wasm tensor's first element as the byte offset a kernel takes (its block plus 4 x its offset). */
export const ptrOf = (t: { storage: { ptr: number }; offset: number }): number => t.storage.ptr + 4 * t.offset;
