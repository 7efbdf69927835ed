// What bench/inference_p1.ts and bench/train_step_p2.ts share: the --devices list (a device that
// cannot be opened prints one line and is left out of the table, so a device added to the engine
// later fills its own rows), timing of wall and process CPU time per run, the machine's load, and
// the PyTorch subprocess.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import * as E from '../engine/index.js';
import { profiler } from '../engine/profile.js';

export const args = process.argv.slice(2);
/** `--name value` or `--name=value`, else def. */
export function opt(name: string, def: string): string {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}` && args[i + 1] !== undefined) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return def;
}

export const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** max|a - ref| / max|ref|: how far an output is from a reference run's (the tests' helper). */
export { relDiff } from '../test/helpers.js';

/** /proc/loadavg's 1/5/15-minute averages and running/total tasks, with the core count. */
export function machineLoad(): string {
  const raw = existsSync('/proc/loadavg') ? readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/) : [];
  return raw.length
    ? `load ${raw.slice(0, 3).join(' ')} (tasks ${raw[3]}) on ${cpus().length} cores`
    : `load unknown on ${cpus().length} cores`;
}

export interface Timing {
  /** wall ms per run, median */
  wall: number;
  wallMin: number;
  /** process CPU ms per run (user + system, all threads of this process: Dawn's and onnxruntime's included), median */
  cpu: number;
  runs: number;
}

/**
 * Peak memory over a row's runs: the process RSS sampled after every run, the process's maxRSS so
 * far (getrusage: the whole process, every earlier row included), and the device's own high-water
 * mark from the row's start: wasm, the bytes live in its shared memory and the memory's size (it
 * never shrinks); webgpu, GpuRuntime's allocated bytes.
 */
export class MemoryWatch {
  private rss = 0;
  constructor(readonly device?: E.Device) {
    if (device?.type === 'wasm') device.wasm.peakBytes = device.wasm.liveBytes;
    if (device?.type === 'webgpu') device.gpu.peakBytes = device.gpu.allocatedBytes;
    this.sample();
  }
  sample() {
    this.rss = Math.max(this.rss, process.memoryUsage.rss());
  }
  note(): string {
    const mb = (b: number) => (b / 2 ** 20).toFixed(0);
    const d = this.device;
    const dev =
      d?.type === 'wasm'
        ? `; wasm peak live ${mb(d.wasm.peakBytes)} MB, memory ${mb(d.wasm.memory.buffer.byteLength)} MB`
        : d?.type === 'webgpu'
          ? `; peak device ${mb(d.gpu.peakBytes)} MB`
          : '';
    return `peak RSS ${mb(this.rss)} MB (process max ${mb(process.resourceUsage().maxRSS * 1024)} MB)${dev}`;
  }
}

/** Runs `once` warmup times, then `runs` times measuring wall and process CPU time (and memory, with `watch`). */
export async function timeRuns(
  runs: number,
  warmup: number,
  once: () => Promise<void>,
  watch?: MemoryWatch,
): Promise<Timing> {
  for (let i = 0; i < warmup; i++) {
    await once();
    watch?.sample();
  }
  // YOLO_PROFILE: the profile covers the timed runs only, not the warm-ups' first touches
  if (warmup > 0 && profiler.enabled) profiler.reset();
  const wall: number[] = [],
    cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage(),
      t0 = performance.now();
    await once();
    const t1 = performance.now(),
      c = process.cpuUsage(c0);
    wall.push(t1 - t0);
    cpu.push((c.user + c.system) / 1e3);
    watch?.sample();
  }
  return { wall: median(wall), wallMin: Math.min(...wall), cpu: median(cpu), runs };
}

/**
 * Opens each named device through the engine's own getDevice (webgpu, wasm, cpu, ...). One that
 * cannot be opened prints `<name>: not available (<reason>)` and is skipped.
 */
export async function openDevices(names: string[]): Promise<E.Device[]> {
  const out: E.Device[] = [];
  for (const name of names) {
    try {
      const d = await E.getDevice(name);
      if (d.type !== name && !(name === 'gpu' && d.type === 'webgpu'))
        throw new Error(`getDevice('${name}') gave the ${d.type} device`);
      out.push(d);
    } catch (e) {
      console.log(`${name}: not available (${(e as Error).message.split('\n')[0]})`);
    }
  }
  return out;
}

export const PYTHON = '/usr/bin/python3';

/** Runs a bench/*.py script with Debian's python3 (the one with torch); its last stdout line is JSON. */
export function runTorch(
  script: string,
  argv: string[],
): { ok: true; r: Record<string, any> } | { ok: false; why: string } {
  if (!existsSync(PYTHON)) return { ok: false, why: `no ${PYTHON}` };
  try {
    const out = execFileSync(PYTHON, [script, ...argv], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 1 << 26,
    });
    return { ok: true, r: JSON.parse(out.trim().split('\n').pop()!) };
  } catch (e) {
    return {
      ok: false,
      why:
        String((e as { stderr?: string }).stderr ?? e)
          .trim()
          .split('\n')
          .pop() ?? 'failed',
    };
  }
}

export const f1 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(1));
export const f2 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(2));
