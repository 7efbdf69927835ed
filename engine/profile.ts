// Where the time goes, per op kind (`YOLO_PROFILE=1`, or `profiler.enable()`): total ms, count and
// share of the profiled wall time for conv2d forward / grad-input / grad-weight, elementwise, pool,
// upsample, reduce, batch norm, optimizer, host transfers, ...
//
// The timings come from the places every kernel already passes through, not from the op files:
//   webgpu  GpuRuntime.dispatch / replay: each kernel gets its own compute pass with GPU timestamp
//           queries (begin and end of the pass), read back at the next submit's completion. That
//           serialises kernels that would otherwise share a pass, so a profiled run is slower than
//           an unprofiled one; the time Dawn and our JS spend encoding is its own row.
//   wasm    its runtime's kernel calls (synchronous, so wall time per call is the kernel's time):
//           they call profiler.add(kernelKind(name), ms).
//   cpu     the reference loops run inline in each op file with no shared dispatch point: not timed
//           per op (only the rest of the window shows).
// "other" is the window's wall time no kernel accounts for: op bookkeeping in JS, the loss's
// assigner on the host, waiting. Imports: nothing at run time.

export interface ProfileEntry {
  ms: number;
  count: number;
  /** bytes moved, for host transfers */
  bytes: number;
}

/** Names a kernel (a shader file + entry point, or a wasm export) by the op kind it belongs to. */
export function kernelKind(name: string): string {
  const n = name.toLowerCase();
  if (n.startsWith('batch_norm')) return 'batch_norm2d';
  if (n.includes('grad_input')) return 'conv2d grad-input';
  if (n.includes('grad_weight')) return 'conv2d grad-weight';
  if (n.startsWith('conv2d')) return 'conv2d fwd';
  if (n.startsWith('gemm_conv2d')) return 'conv2d fwd / grad-input (wasm GEMM)';
  if (n === 'wino_gy' || n === 'wino_gw_out' || /^wino_(in4|gy4|gw_out4)$/.test(n))
    return 'conv2d grad-weight (wasm Winograd transforms)';
  if (n === 'wino_fused' || n === 'wino_fused4') return 'conv2d fwd (wasm Winograd, fused: transforms + GEMMs)';
  if (n.startsWith('wino_')) return 'conv2d fwd (wasm Winograd transforms)';
  if (n.startsWith('gemm_pack')) return 'conv2d weight packing';
  if (n.startsWith('matmul') || n.startsWith('gemm') || n === 'mm') return 'matmul';
  if (/^(u|b|bc|cb)_|^copy4$|^zero$/.test(n)) return 'elementwise (incl. concat, copies)';
  if (/^s[ub]_/.test(n)) return 'elementwise over strided views';
  if (n.startsWith('rsum')) return 'reduce';
  if (n.startsWith('max_pool2d') || n.includes('pool'))
    return n.includes('backward') ? 'max_pool2d backward' : 'max_pool2d';
  if (n.startsWith('upsample')) return n.includes('backward') ? 'upsample backward' : 'upsample';
  if (n.startsWith('elementwise')) return 'elementwise (incl. concat, copies)';
  if (n.startsWith('reduce')) return 'reduce';
  if (n.startsWith('softmax')) return 'softmax';
  if (n.startsWith('optim')) return 'optimizer';
  if (n.startsWith('dfl')) return 'dfl';
  if (n.startsWith('gather') || n.startsWith('scatter') || n.startsWith('index') || n.startsWith('topk'))
    return 'gather/scatter/topk';
  return n.replace(/\.(wgsl|wat)$/, '').split(':')[0];
}

class Profiler {
  enabled = /^(1|true|yes|on)$/i.test(process.env.YOLO_PROFILE ?? '');
  readonly totals = new Map<string, ProfileEntry>();
  /** how each device was timed, for the header */
  readonly methods = new Set<string>();
  /** readbacks of timestamps still in flight */
  private pending = new Set<Promise<void>>();
  private t0 = performance.now();

  enable(on = true) {
    this.enabled = on;
    if (on) this.reset();
  }

  /** Forgets all totals and starts the wall-time window now. */
  reset() {
    this.totals.clear();
    this.methods.clear();
    this.t0 = performance.now();
  }

  add(kind: string, ms: number, count = 1, bytes = 0) {
    let e = this.totals.get(kind);
    if (!e) this.totals.set(kind, (e = { ms: 0, count: 0, bytes: 0 }));
    e.ms += ms;
    e.count += count;
    e.bytes += bytes;
  }

  /** Times a synchronous fn under `kind` when enabled. */
  time<T>(kind: string, fn: () => T): T {
    if (!this.enabled) return fn();
    const t = performance.now();
    try {
      return fn();
    } finally {
      this.add(kind, performance.now() - t);
    }
  }

  /** A timing that arrives later (GPU timestamps): report() waits for it. */
  track(p: Promise<void>) {
    // a readback that fails (the device released first) loses its timings, never the process
    const q: Promise<void> = p.catch(() => {}).finally(() => this.pending.delete(q));
    this.pending.add(q);
  }

  /** Waits for timings still in flight; returns the window's wall ms so far. */
  async settle(): Promise<number> {
    while (this.pending.size) await Promise.all([...this.pending]);
    return performance.now() - this.t0;
  }

  /** The table: kinds sorted by time, with count, share of the window and an `other` row. */
  async report(title = 'profile', wallMs?: number): Promise<string> {
    const wall = wallMs ?? (await this.settle());
    if (wallMs !== undefined) await this.settle();
    const rows = [...this.totals].sort((a, b) => b[1].ms - a[1].ms);
    const timed = rows.reduce((s, [k, e]) => s + (k.startsWith('webgpu encode') ? 0 : e.ms), 0);
    const lines = [`${title}: ${wall.toFixed(1)} ms wall in the profiled window (YOLO_PROFILE=1)`];
    for (const m of this.methods) lines.push(`  ${m}`);
    if (!this.methods.size)
      lines.push('  no kernel was timed (the cpu device runs its loops inline in the op files: not profiled per op)');
    lines.push(`  ${'kind'.padEnd(40)} ${'ms'.padStart(10)} ${'count'.padStart(7)} ${'% wall'.padStart(7)}`);
    const pct = (ms: number) => (wall > 0 ? ((100 * ms) / wall).toFixed(1) : '-');
    for (const [k, e] of rows)
      lines.push(
        `  ${k.padEnd(40)} ${e.ms.toFixed(1).padStart(10)} ${String(e.count).padStart(7)} ${pct(e.ms).padStart(7)}${e.bytes ? `  ${(e.bytes / 2 ** 20).toFixed(1)} MiB` : ''}`,
      );
    const other = wall - timed;
    lines.push(
      `  ${'other (not in a kernel)'.padEnd(40)} ${other.toFixed(1).padStart(10)} ${''.padStart(7)} ${pct(other).padStart(7)}`,
    );
    return lines.join('\n');
  }
}

/** The process's one profiler. */
export const profiler = new Profiler();

/** One kernel launch as the backend encoded it: the pipeline's name and the WGSL it compiled. */
export interface KernelLaunch {
  /** the pipeline's name: shader file[:entry] [slots] */
  name: string;
  file: string;
  entry: string;
  /** WGSL override constants the pipeline was created with */
  constants: Record<string, number>;
  /** the final WGSL given to createShaderModule (includes expanded, slots filled) */
  code: string;
  grid: [number, number, number];
}

/** One op as autograd's `record` saw it, with the kernels launched since the previous op. */
export interface OpLaunches {
  op: string;
  shape: number[];
  kernels: KernelLaunch[];
  /** what the capture's `where` said when the op reported itself (e.g. the module running it) */
  where: string;
}

/**
 * Which kernels each op launched, for a window (`capture`): the webgpu runtime reports every
 * dispatch (`kernel`), and every op reports itself when it calls autograd's `record` after its
 * launches (`op`), so the launches since the previous op belong to this one. An op built from
 * other ops (e.g. mean = sum then mul) shows its parts first and itself with no kernel of its own.
 * The browser page's "look inside" shows it; off (one null check per dispatch) otherwise.
 */
class LaunchLog {
  private ops: OpLaunches[] | null = null;
  private pending: KernelLaunch[] = [];
  private where: () => string = () => '';

  get enabled() {
    return this.ops !== null;
  }

  /**
   * Runs fn (synchronous: the ops it calls encode their kernels before returning) and returns what
   * ran; `where` labels each op as it reports itself.
   */
  capture<T>(fn: () => T, where: () => string = () => ''): { result: T; ops: OpLaunches[] } {
    if (this.ops) throw new Error('launchLog.capture: captures do not nest');
    const ops: OpLaunches[] = (this.ops = []);
    this.pending = [];
    this.where = where;
    try {
      const result = fn();
      if (this.pending.length) ops.push({ op: '(no op recorded)', shape: [], kernels: this.pending, where: where() });
      return { result, ops };
    } finally {
      this.ops = null;
      this.pending = [];
      this.where = () => '';
    }
  }

  kernel(k: KernelLaunch) {
    if (this.ops) this.pending.push(k);
  }

  op(name: string, shape: readonly number[]) {
    if (!this.ops) return;
    this.ops.push({ op: name, shape: [...shape], kernels: this.pending, where: this.where() });
    this.pending = [];
  }
}

/** The process's one launch log. */
export const launchLog = new LaunchLog();

/** Prints the profile table to stderr (stdout stays for a command's own output) and resets. */
export async function printProfile(title?: string, wallMs?: number) {
  console.error(await profiler.report(title, wallMs));
  profiler.reset();
}
