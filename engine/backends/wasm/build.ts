// Assembles the kernel module from the WAT fragments (kernels/index.ts) with wabt, twice: a
// relaxed-SIMD build and a plain-SIMD build. `npm run build` / `prepare` runs this file after tsc
// and writes both binaries, with the hash of the text they came from, to dist/wasm/ (gitignored:
// the repository holds only the generators). At start-up the runtime loads them when the hash
// matches the current source, else (a dev checkout run through tsx) assembles in-process.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../paths.js';
import { FRAGMENTS } from './kernels/index.js';
import type { WasmFeatures } from './abi.js';

/** The whole module's text for one build. */
export function moduleText(features: WasmFeatures): string {
  const parts = FRAGMENTS.map((f) => `  ;; ---- ${f.name} ----\n${f.wat(features)}`);
  return `(module\n  (import "env" "memory" (memory $mem 1 65536 shared))\n${parts.join('\n')}\n)\n`;
}

const fileName = (relaxed: boolean) => (relaxed ? 'kernels-relaxed.wasm' : 'kernels-simd.wasm');
const hashOf = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);
export const wasmDir = () => join(packageRoot(), 'dist', 'wasm');

/** Text → binary with wabt (a dev dependency: present in a checkout, absent in an installed package). */
export async function assemble(text: string, name: string): Promise<Uint8Array<ArrayBuffer>> {
  let wabt;
  try {
    wabt = await (await import('wabt')).default();
  } catch {
    throw new Error(
      `wasm device: ${join(wasmDir(), name)} is missing or stale and wabt is not installed to build it; run \`npm install\` (or \`npm run build\`) in the package`,
    );
  }
  const mod = wabt.parseWat(name, text, { simd: true, relaxed_simd: true, threads: true, bulk_memory: true });
  try {
    // (wabt's validate() ignores the feature set; the engine's WebAssembly.validate checks the binary)
    return new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}

const cache = new Map<boolean, Uint8Array<ArrayBuffer>>();

/** The binary for one build: the prebuilt file when it matches the source, else assembled now. */
export async function loadKernelBinary(relaxed: boolean): Promise<Uint8Array<ArrayBuffer>> {
  const hit = cache.get(relaxed);
  if (hit) return hit;
  const text = moduleText({ relaxed });
  const file = join(wasmDir(), fileName(relaxed));
  let bin: Uint8Array<ArrayBuffer> | null = null;
  if (existsSync(file) && existsSync(file + '.hash') && readFileSync(file + '.hash', 'utf8').trim() === hashOf(text))
    bin = new Uint8Array(readFileSync(file));
  bin ??= await assemble(text, fileName(relaxed));
  cache.set(relaxed, bin);
  return bin;
}

/** Writes both builds to dist/wasm/. */
export async function buildAll(): Promise<string[]> {
  mkdirSync(wasmDir(), { recursive: true });
  const out: string[] = [];
  for (const relaxed of [true, false]) {
    const text = moduleText({ relaxed });
    const file = join(wasmDir(), fileName(relaxed));
    const bin = await assemble(text, fileName(relaxed));
    writeFileSync(file, bin);
    writeFileSync(file + '.hash', hashOf(text) + '\n');
    out.push(`${file} (${bin.length} bytes)`);
  }
  return out;
}
