// Shared by the loss tests: the golden files of test/fixtures/loss (written by gen_loss.py).
import { readSafetensors } from '../../../engine/io/safetensors.js';

export function loadFixture(name: string) {
  const { tensors } = readSafetensors(new URL(`../../fixtures/loss/${name}.safetensors`, import.meta.url).pathname);
  const get = (key: string) => {
    const t = tensors.get(key);
    if (!t) throw new Error(`fixture ${name}: no tensor '${key}'`);
    return { shape: t.shape, data: t.data as Float32Array | Int32Array };
  };
  return { get, has: (key: string) => tensors.has(key) };
}

/** gen_loss.py's `hashed`: deterministic values in [-scale, scale] from an integer hash, as float32. */
export function hashed(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const h = (i * 2654435761 + seed * 40503) % 4294967296;
    out[i] = (((h % 4001) - 2000) / 2000) * scale;
  }
  return out;
}

/** ‖a - b‖ / ‖b‖ */
export function relNorm(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0,
    r = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i] - b[i]) ** 2;
    r += b[i] ** 2;
  }
  return Math.sqrt(d) / Math.sqrt(r || 1);
}
