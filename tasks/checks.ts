// `yolo checks`: what this machine offers, laid out like Ultralytics' checks (collect_system_info):
// the version line, "Setup complete" with CPUs / RAM / disk, the OS, Node, the WebGPU adapter with
// the features and limits the engine uses, ffmpeg (video sources), and each runtime dependency
// beside the range package.json asks for.
//
// Imports: engine/paths, engine/device, ./settings, node.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { cpus, freemem, platform, release, arch, totalmem } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../engine/paths.js';
import { describeDevice, getDevice, openWasm } from '../engine/device.js';
import { settingsFile } from './settings.js';

const GB = 1024 ** 3;
const row = (k: string, v: string) => `${k.padEnd(36)}${v}`;

/** The adapter's name, the features the engine can use and its relevant limits; null without one. */
async function adapterInfo(): Promise<{ name: string; features: string[]; limits: Record<string, number> } | null> {
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp';
  let mod: typeof import('webgpu');
  try {
    mod = await import('webgpu');
  } catch {
    return null;
  }
  const gpu = mod.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return null;
  const info = adapter.info;
  const name =
    info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') || 'WebGPU adapter';
  const keys = [
    'maxBufferSize',
    'maxStorageBufferBindingSize',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupsPerDimension',
  ] as const;
  return {
    name,
    features: [...adapter.features].map(String).sort(),
    limits: Object.fromEntries(keys.map((k) => [k, adapter.limits[k]])),
  };
}

function ffmpegVersion(): string | null {
  const r = spawnSync('ffmpeg', ['-version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) return null;
  return /ffmpeg version (\S+)/.exec(r.stdout)?.[1] ?? 'unknown version';
}

function installedVersion(name: string): string | null {
  const f = join(packageRoot(), 'node_modules', name, 'package.json');
  return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')).version : null;
}

export async function checksReport(): Promise<string> {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8'));
  const a = await adapterInfo();
  const fs = statfsSync(process.cwd());
  const diskTotal = (fs.blocks * fs.bsize) / GB,
    diskFree = (fs.bavail * fs.bsize) / GB;
  const ram = totalmem() / GB;
  const cpu = cpus();
  const osName = (() => {
    try {
      return /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
    } catch {
      return '';
    }
  })();
  const ff = ffmpegVersion();
  // the device a run without device= gets, and the wasm device's build (SIMD, relaxed FMA, threads)
  const dflt = await getDevice().then(describeDevice, (e: Error) => `none: ${e.message}`);
  const wasm = await openWasm().then(
    (d) => `✅ ${d.name} (threads= or YOLO_THREADS to change)`,
    (e: Error) => `❌ ${e.message}`,
  );
  const lines = [
    `yolo-ts ${pkg.version} 🚀 Node-${process.versions.node} ${dflt}`,
    `Setup complete ✅ (${cpu.length} CPUs, ${ram.toFixed(1)} GB RAM, ${(diskTotal - diskFree).toFixed(1)}/${diskTotal.toFixed(1)} GB disk)`,
    '',
    row('OS', `${platform()}-${release()}-${arch()}${osName ? ` (${osName})` : ''}`),
    row('Node', process.versions.node),
    row('Install', existsSync(join(packageRoot(), '.git')) ? 'git' : 'npm'),
    row('RAM', `${ram.toFixed(2)} GB (${(freemem() / GB).toFixed(2)} GB free)`),
    row('Disk', `${diskFree.toFixed(1)} GB free of ${diskTotal.toFixed(1)} GB`),
    row('CPU', cpu[0]?.model?.trim() ?? 'unknown'),
    row('Settings', settingsFile()),
    row(
      'WebGPU adapter',
      a ? a.name : 'none (install mesa-vulkan-drivers from bookworm-backports, or use a GPU machine)',
    ),
  ];
  if (a) {
    for (const f of ['shader-f16', 'subgroups'])
      lines.push(row(`  ${f}`, a.features.includes(f) ? '✅' : '❌ (not offered by this adapter)'));
    for (const [k, v] of Object.entries(a.limits)) lines.push(row(`  ${k}`, String(v)));
  }
  lines.push(row('WebAssembly', wasm), row('Default device', dflt));
  lines.push(row('ffmpeg', ff ? `✅ ${ff}` : '❌ not found (needed for video sources; apt-get install ffmpeg)'), '');
  for (const [name, range] of Object.entries(pkg.dependencies as Record<string, string>)) {
    const v = installedVersion(name);
    lines.push(row(name, v ? `✅ ${v} (${range})` : `❌ not installed (${range}); run npm install`));
  }
  return lines.join('\n');
}
