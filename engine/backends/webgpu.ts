// The WebGPU runtime: one GPUDevice, a pipeline cache keyed by shader text + override constants
// (never by shape), a size-bucketed buffer pool, and one command encoder that collects many
// dispatches per queue submission. Buffers freed while work is still being encoded go back to
// the pool only after that work is submitted, so a later upload can never overwrite them early.
import { buildShader, parseBindings, parseParams, packParams, type BindingDecl, type ParamLayout } from './wgsl.js';
import { kernelKind, launchLog, profiler } from '../profile.js';
import { f16Storage } from './wgsl_f16.js';

export interface KernelSpec {
  /** shader file in shaders/ */
  file: string;
  entry?: string;
  /** text slots, e.g. the elementwise expression; part of the cache key */
  slots?: Record<string, string>;
  /** WGSL override constants (workgroup and tile sizes); part of the cache key */
  constants?: Record<string, number>;
  /** storage bindings held as f16 (true: every f32 one), by the rule in wgsl_f16.ts; part of the cache key */
  f16?: true | readonly string[];
}

interface Pipeline {
  name: string;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  bindings: BindingDecl[];
  params: ParamLayout | null;
  /** the WGSL it was compiled from (for launchLog: the page's "look inside") */
  code: string;
}

const STORAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST
const UNIFORM = 0x40 | 0x8; // UNIFORM | COPY_DST
const MAP_READ = 0x1 | 0x8; // MAP_READ | COPY_DST
const MAX_DISPATCHES_PER_SUBMIT = 256;
const QUERY_RESOLVE = 0x200;
const F16_HOST_BYTES =
  'an op uploaded or copied raw f32 bytes inside an f16 recording (a half compiled forward), where buffers hold f16; run that op outside the plan';
const PROFILE_METHOD =
  'webgpu: GPU time per kernel from timestamp queries, one compute pass per kernel while profiling (kernels serialised); JS encode time overlaps it';

/**
 * Work captured once and replayed many times (a compiled forward, engine/graph/executor.ts): each
 * dispatch keeps its pipeline, bind group and filled uniform buffer; buffers the recorded code
 * released stay owned by the recording (their contents are read by later commands) until dispose.
 */
export interface Recording {
  commands: (
    | {
        kind: 'dispatch';
        pipeline: GPUComputePipeline;
        bindGroup: GPUBindGroup;
        grid: [number, number, number];
        name: string;
      }
    | { kind: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; bytes: number }
  )[];
  owned: GPUBuffer[];
}

/** Rounds a byte size up to a pool bucket: 256-byte steps below 4 KiB, then 8 steps per power of two. */
export function bucketSize(bytes: number): number {
  if (bytes <= 4096) return Math.max(256, Math.ceil(bytes / 256) * 256);
  const step = 2 ** Math.floor(Math.log2(bytes)) / 8;
  return Math.ceil(bytes / step) * step;
}

export class GpuRuntime {
  private pipelines = new Map<string, Pipeline>();
  private free = new Map<string, GPUBuffer[]>(); // `${usage}:${size}` → idle buffers
  private freeBytes = 0;
  private releasedThisBatch: { key: string; buf: GPUBuffer }[] = [];
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatches = 0;
  private recording: Recording | null = null;
  private recordF16 = false; // record(fn, { f16: true }): every dispatch's f32 storage is f16
  private errors: Promise<string | null>[] = [];
  private lost: string | null = null;
  // Stand-ins for bindings a dispatch leaves out, one per binding slot: Dawn rejects one buffer
  // bound to two writable slots ("writable storage buffer binding aliasing"), even unused ones.
  private dummies: GPUBuffer[] = [];
  // YOLO_PROFILE (engine/profile.ts): a timestamp query set and the kinds of the kernels timed since the last submit
  private prof: { set: GPUQuerySet; kinds: string[] } | null = null;
  /** Bytes currently allocated from the device (live + pooled), and the high-water mark. */
  allocatedBytes = 0;
  peakBytes = 0;
  /** Bytes held by live tensors (and buffers released but not yet submitted): allocated minus pooled. */
  get liveBytes(): number {
    return this.allocatedBytes - this.freeBytes;
  }
  /** Idle pooled memory above this is destroyed (oldest first). */
  maxPooledBytes = 2 ** 30;

  constructor(
    readonly device: GPUDevice,
    readonly adapterName: string,
  ) {
    device.lost.then((info) => void (this.lost = `WebGPU device lost: ${info.message}`));
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.errors.push(Promise.resolve(`uncaptured WebGPU error: ${ev.error.message}`));
    };
  }

  get limits() {
    return this.device.limits;
  }

  // ---- buffers ----------------------------------------------------------------------------

  createBuffer(bytes: number, usage = STORAGE): GPUBuffer {
    const size = bucketSize(bytes);
    const key = `${usage}:${size}`;
    const list = this.free.get(key);
    if (list?.length) {
      this.freeBytes -= size;
      return list.pop()!;
    }
    if (size > this.device.limits.maxStorageBufferBindingSize && usage === STORAGE)
      throw new Error(
        `a ${bytes}-byte tensor exceeds this adapter's maxStorageBufferBindingSize (${this.device.limits.maxStorageBufferBindingSize} bytes)`,
      );
    this.allocatedBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.allocatedBytes);
    return this.device.createBuffer({ size, usage });
  }

  /** Returns a buffer to the pool once the work already encoded with it is submitted. */
  releaseBuffer(buf: GPUBuffer) {
    if (this.recording) return void this.recording.owned.push(buf);
    this.releasedThisBatch.push({ key: `${buf.usage}:${buf.size}`, buf });
    if (!this.encoder) this.recycle();
  }

  upload(buf: GPUBuffer, data: ArrayBufferView, byteOffset = 0) {
    if (this.recordF16) throw new Error(F16_HOST_BYTES);
    const t = profiler.enabled ? performance.now() : 0;
    this.device.queue.writeBuffer(buf, byteOffset, data.buffer, data.byteOffset, data.byteLength);
    if (profiler.enabled) profiler.add('host->device upload', performance.now() - t, 1, data.byteLength);
  }

  private recycle() {
    for (const { key, buf } of this.releasedThisBatch) {
      let list = this.free.get(key);
      if (!list) this.free.set(key, (list = []));
      list.push(buf);
      this.freeBytes += buf.size;
    }
    this.releasedThisBatch = [];
    if (this.freeBytes > this.maxPooledBytes) this.trimPool(this.maxPooledBytes / 2);
  }

  /** Destroys idle pooled buffers until at most `keepBytes` remain pooled. */
  trimPool(keepBytes = 0) {
    for (const [key, list] of this.free) {
      while (list.length && this.freeBytes > keepBytes) {
        const b = list.shift()!;
        this.freeBytes -= b.size;
        this.allocatedBytes -= b.size;
        b.destroy();
      }
      if (!list.length) this.free.delete(key);
    }
  }

  // ---- pipelines --------------------------------------------------------------------------

  private pipelineFor(spec: KernelSpec): Pipeline {
    const key = JSON.stringify([spec.file, spec.entry ?? 'main', spec.slots ?? {}, spec.constants ?? {}, spec.f16]);
    let p = this.pipelines.get(key);
    if (p) return p;
    const name = `${spec.file}${spec.entry ? ':' + spec.entry : ''}${spec.slots ? ' ' + JSON.stringify(spec.slots) : ''}${spec.f16 ? ` f16 ${spec.f16 === true ? 'all' : spec.f16.join(',')}` : ''}`;
    const code = spec.f16
      ? f16Storage(buildShader(spec.file, spec.slots), spec.f16 === true ? undefined : spec.f16)
      : buildShader(spec.file, spec.slots);
    const bindings = parseBindings(code);
    const dev = this.device;
    dev.pushErrorScope('validation');
    const module = dev.createShaderModule({ code, label: name });
    const layout = dev.createBindGroupLayout({
      label: name,
      entries: bindings.map((b) => ({
        binding: b.binding,
        visibility: 4, // COMPUTE
        buffer: { type: b.kind === 'uniform' ? 'uniform' : b.kind === 'read' ? 'read-only-storage' : 'storage' },
      })),
    });
    const pipeline = dev.createComputePipeline({
      label: name,
      layout: dev.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: spec.entry ?? 'main', constants: spec.constants },
    });
    this.errors.push(
      dev.popErrorScope().then(async (e) => {
        if (!e) return null;
        const info = await module.getCompilationInfo();
        const msgs = info.messages.map((m) => `  ${m.type} at line ${m.lineNum}:${m.linePos}: ${m.message}`).join('\n');
        return `kernel ${name} failed to compile or validate: ${e.message}${msgs ? '\n' + msgs : ''}`;
      }),
    );
    p = { name, pipeline, layout, bindings, params: parseParams(code, name), code };
    this.pipelines.set(key, p);
    return p;
  }

  // ---- dispatch ---------------------------------------------------------------------------

  /**
   * Encodes one dispatch. `buffers` binds storage buffers by the names the shader declares
   * (a declared binding left out gets a 4-byte dummy); `params` fills `struct Params` by field name.
   */
  dispatch(
    spec: KernelSpec,
    buffers: Record<string, GPUBuffer>,
    params: Record<string, number | readonly number[]> | null,
    grid: [number, number?, number?],
  ) {
    if (!profiler.enabled) return this.encodeDispatch(spec, buffers, params, grid);
    const t = performance.now();
    this.encodeDispatch(spec, buffers, params, grid);
    profiler.add('webgpu encode (JS, overlaps kernels)', performance.now() - t);
  }

  private encodeDispatch(
    spec: KernelSpec,
    buffers: Record<string, GPUBuffer>,
    params: Record<string, number | readonly number[]> | null,
    grid: [number, number?, number?],
  ) {
    if (this.lost) throw new Error(this.lost);
    if (this.recordF16 && !spec.f16) spec = { ...spec, f16: true };
    const p = this.pipelineFor(spec);
    const entries: GPUBindGroupEntry[] = [];
    let uniform: GPUBuffer | null = null;
    for (const b of p.bindings) {
      if (b.kind === 'uniform') {
        if (!p.params || !params) throw new Error(`kernel ${p.name}: declares a uniform but no params were given`);
        uniform = this.createBuffer(p.params.size, UNIFORM);
        this.device.queue.writeBuffer(uniform, 0, packParams(p.params, params, p.name));
        entries.push({ binding: b.binding, resource: { buffer: uniform } });
      } else
        entries.push({
          binding: b.binding,
          resource: { buffer: buffers[b.name] ?? (this.dummies[b.binding] ??= this.createBuffer(4)) },
        });
    }
    for (const k of Object.keys(buffers))
      if (!p.bindings.some((b) => b.name === k)) throw new Error(`kernel ${p.name}: no binding named '${k}'`);
    const [x, y = 1, z = 1] = grid;
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max)
      throw new Error(`kernel ${p.name}: grid [${x}, ${y}, ${z}] exceeds ${max} workgroups per dimension`);
    if (x * y * z === 0) {
      if (uniform) this.releaseBuffer(uniform);
      return;
    }
    if (launchLog.enabled)
      launchLog.kernel({
        name: p.name,
        file: spec.file,
        entry: spec.entry ?? 'main',
        constants: { ...spec.constants },
        code: p.code,
        grid: [x, y, z],
      });
    const bindGroup = this.device.createBindGroup({ layout: p.layout, entries });
    if (this.recording) {
      this.recording.commands.push({
        kind: 'dispatch',
        pipeline: p.pipeline,
        bindGroup,
        grid: [x, y, z],
        name: p.name,
      });
      if (uniform) this.releaseBuffer(uniform);
      return;
    }
    if (this.timing()) {
      this.timedDispatch(p.name, p.pipeline, bindGroup, [x, y, z]);
      if (uniform) this.releaseBuffer(uniform);
      return;
    }
    const pass = this.computePass();
    pass.setPipeline(p.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (uniform) this.releaseBuffer(uniform);
    if (++this.dispatches >= MAX_DISPATCHES_PER_SUBMIT) this.flush();
  }

  /** Profiling with GPU timestamps (the device was opened with 'timestamp-query'). */
  private timing(): boolean {
    if (!profiler.enabled) return false;
    if (!this.device.features.has('timestamp-query')) {
      profiler.methods.add('webgpu: this adapter has no timestamp-query: kernels are not timed');
      return false;
    }
    profiler.methods.add(PROFILE_METHOD);
    return true;
  }

  /** One kernel in its own compute pass, with timestamps at the pass's begin and end. */
  private timedDispatch(
    name: string,
    pipeline: GPUComputePipeline,
    bindGroup: GPUBindGroup,
    grid: [number, number, number],
  ) {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    this.prof ??= {
      set: this.device.createQuerySet({ type: 'timestamp', count: 2 * MAX_DISPATCHES_PER_SUBMIT }),
      kinds: [],
    };
    const i = this.prof.kinds.length;
    const pass = this.encoder.beginComputePass({
      timestampWrites: { querySet: this.prof.set, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
    });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(...grid);
    pass.end();
    this.prof.kinds.push(kernelKind(name));
    if (++this.dispatches >= MAX_DISPATCHES_PER_SUBMIT) this.flush();
  }

  /** Before a submit: resolves this batch's timestamps into a buffer read back when the work is done. */
  private resolveTimestamps(): (() => void) | null {
    if (!this.prof?.kinds.length || !this.encoder) return null;
    const { kinds } = this.prof,
      n = 2 * kinds.length;
    this.prof.kinds = [];
    const resolved = this.device.createBuffer({ size: n * 8, usage: QUERY_RESOLVE | 0x4 /* COPY_SRC */ });
    const staging = this.device.createBuffer({ size: n * 8, usage: MAP_READ });
    this.encoder.resolveQuerySet(this.prof.set, 0, n, resolved, 0);
    this.encoder.copyBufferToBuffer(resolved, 0, staging, 0, n * 8);
    return () =>
      profiler.track(
        staging.mapAsync(1 /* READ */).then(() => {
          const t = new BigUint64Array(staging.getMappedRange());
          for (let i = 0; i < kinds.length; i++) profiler.add(kinds[i], Number(t[2 * i + 1] - t[2 * i]) / 1e6);
          staging.unmap();
          staging.destroy();
          resolved.destroy();
        }),
      );
  }

  /** A 1-D launch of `n` invocations folded into a 2-D grid (the shader rebuilds the index). */
  grid1d(n: number, workgroupSize: number): [number, number] {
    const groups = Math.ceil(n / workgroupSize);
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    return groups <= max ? [groups, 1] : [max, Math.ceil(groups / max)];
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    return this.pass;
  }

  copyBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number) {
    if (this.recordF16) throw new Error(F16_HOST_BYTES);
    if (this.recording)
      return void this.recording.commands.push({ kind: 'copy', src, srcOffset, dst, dstOffset, bytes });
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  // ---- recordings -------------------------------------------------------------------------

  /**
   * Runs fn with dispatches and copies captured instead of encoded (uniforms are filled now).
   * Nothing may be read back inside fn. Returns what to `replay`; `disposeRecording` frees it.
   * `f16`: every dispatch without its own `spec.f16` stores its f32 bindings as f16 (a half compiled forward).
   */
  record(fn: () => void, opts: { f16?: boolean } = {}): Recording {
    if (this.recording) throw new Error('GpuRuntime.record: recordings do not nest');
    if (opts.f16 && !this.device.features.has('shader-f16'))
      throw new Error(
        `GpuRuntime.record: f16 storage needs the 'shader-f16' feature, which '${this.adapterName}' lacks`,
      );
    this.flush(); // work encoded before the recording runs before it
    const rec: Recording = (this.recording = { commands: [], owned: [] });
    this.recordF16 = !!opts.f16; // f16: kernels keep f32 storage as f16 (a half compiled forward)
    try {
      fn();
    } finally {
      this.recording = null;
      this.recordF16 = false;
    }
    return rec;
  }

  /** Encodes a recording into the current command encoder, in one compute pass per run of dispatches. */
  replay(rec: Recording) {
    if (this.lost) throw new Error(this.lost);
    for (const c of rec.commands) {
      if (c.kind === 'copy') {
        this.copyBuffer(c.src, c.srcOffset, c.dst, c.dstOffset, c.bytes);
        continue;
      }
      if (this.timing()) {
        this.timedDispatch(c.name, c.pipeline, c.bindGroup, c.grid);
        continue;
      }
      const pass = this.computePass();
      pass.setPipeline(c.pipeline);
      pass.setBindGroup(0, c.bindGroup);
      pass.dispatchWorkgroups(...c.grid);
    }
  }

  disposeRecording(rec: Recording) {
    for (const b of rec.owned) this.releaseBuffer(b);
    rec.owned = [];
    rec.commands = [];
  }

  /** Submits everything encoded so far. */
  flush() {
    if (this.recording) return; // a recording submits nothing
    if (this.pass) this.pass.end();
    const timestamps = this.resolveTimestamps();
    if (this.encoder) this.device.queue.submit([this.encoder.finish()]);
    timestamps?.();
    this.pass = null;
    this.encoder = null;
    this.dispatches = 0;
    this.recycle();
  }

  /** Throws the first compile/validation error seen so far, naming its kernel. */
  async checkErrors() {
    const pending = this.errors;
    this.errors = [];
    const msgs = (await Promise.all(pending)).filter((m): m is string => !!m);
    if (msgs.length) throw new Error(msgs.join('\n'));
    if (this.lost) throw new Error(this.lost);
  }

  /** Reads bytes back to the host: the only place the CPU waits for the GPU. */
  async read(buf: GPUBuffer, byteOffset: number, byteLength: number): Promise<ArrayBuffer> {
    if (this.recording) throw new Error('GpuRuntime.read: a recording cannot read values back (its work runs later)');
    const size = Math.ceil(byteLength / 4) * 4;
    const staging = this.createBuffer(size, MAP_READ);
    if (size > 0) this.copyBuffer(buf, byteOffset, staging, 0, size);
    this.device.pushErrorScope('validation');
    this.flush();
    const submitError = this.device.popErrorScope();
    await staging.mapAsync(1 /* READ */, 0, staging.size);
    const t = profiler.enabled ? performance.now() : 0;
    const out = staging.getMappedRange(0, size).slice(0, byteLength);
    if (profiler.enabled) profiler.add('device->host read (copy, not the wait)', performance.now() - t, 1, byteLength);
    staging.unmap();
    this.releaseBuffer(staging);
    const e = await submitError;
    if (e) this.errors.push(Promise.resolve(`a submitted command buffer failed validation: ${e.message}`));
    await this.checkErrors();
    return out;
  }

  /** Waits until the queue is idle (for benchmarks). */
  async sync() {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.checkErrors();
  }

  destroy() {
    this.flush();
    this.trimPool(0);
    this.device.destroy();
  }
}
