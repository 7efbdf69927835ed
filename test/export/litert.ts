// LiteRT.js (@litertjs/core, LiteRT's wasm build) in Node: it loads its emscripten script the way a
// web worker would (self, importScripts), so give it those: `self` is the global object, and
// importScripts evaluates the script in this context with the CommonJS names it reads in Node.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { runInThisContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export async function loadLiteRtNode() {
  const g = globalThis as any;
  const core = await import('@litertjs/core');
  if (g.__litert) return core;
  const wasmDir = join(dirname(require.resolve('@litertjs/core/package.json')), 'wasm');
  g.self = globalThis;
  g.require ??= require;
  g.__dirname = wasmDir;
  g.__filename = join(wasmDir, 'litert.js');
  g.importScripts = (url: string) =>
    runInThisContext(readFileSync(url.startsWith('file:') ? fileURLToPath(url) : url, 'utf8'), { filename: url });
  const { log, info, warn, error } = console;
  console.log = console.info = console.warn = console.error = () => {}; // its INFO lines, and no WebGPU (navigator) here: the CPU path is what runs
  try {
    await core.loadLiteRt(wasmDir);
  } finally {
    Object.assign(console, { log, info, warn, error });
  }
  g.__litert = true;
  return core;
}

/** Runs a .tflite file on one float32 input with LiteRT's CPU (XNNPack) path; returns the first output. */
export async function runLiteRt(file: string, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const { loadAndCompile, Tensor } = await loadLiteRtNode();
  const model = await loadAndCompile(new Uint8Array(readFileSync(file)), { accelerator: 'wasm' });
  const input = new Tensor(x, shape);
  const [y] = await model.run([input]);
  const out = Float32Array.from(y.toTypedArray() as Float32Array);
  input.delete();
  y.delete();
  model.delete();
  return out;
}

/** Releases the runtime (its environment keeps the process alive otherwise). */
export async function unloadLiteRtNode() {
  const g = globalThis as any;
  if (!g.__litert) return;
  (await import('@litertjs/core')).unloadLiteRt();
  g.__litert = false;
}
