// Fuzzing every format the toolkit reads (issue 16): seeded truncations and byte flips of a real
// JPEG, PNG, .pt (zip + pickle), safetensors, ONNX, dataset and model yaml, and label file. Every case must
// either load or fail with InputError naming the file: never a TypeError/RangeError, never more
// than CASE_MS (a hang is cut off by terminating the worker), never RSS above RSS_CAP.
// The cases themselves are in ./fuzz_cases.ts; FUZZ_CASES=n runs n per format (default 50).
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { FORMATS, type Outcome } from './fuzz_cases.js';

const PER_FORMAT = Number(process.env.FUZZ_CASES ?? 50);
const CASE_MS = 5000;
const RSS_CAP = 1024 * 2 ** 20; // 1 GiB for the whole process

const dir = mkdtempSync(join(tmpdir(), 'fuzz-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

interface Reply {
  outcome: Outcome;
  message: string;
  what: string;
  ms: number;
  rss: number;
}

let worker: Worker | null = null;
/** A worker that has loaded the readers (startup, with tsx compiling, is not counted against a case). */
const start = (): Promise<Worker> =>
  new Promise((resolve, reject) => {
    const w = new Worker(new URL('./fuzz_worker.mjs', import.meta.url), { workerData: { dir } });
    w.once('message', () => resolve(w));
    w.once('error', reject);
  });

/** Runs one case in the worker; a case that takes longer than CASE_MS ends as 'hang' (the worker is replaced). */
async function runCase(format: string, i: number): Promise<Reply | 'hang'> {
  worker ??= await start();
  const w = worker;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      w.removeAllListeners();
      void w.terminate();
      worker = null;
      resolve('hang');
    }, CASE_MS);
    w.once('message', (m: Reply) => {
      clearTimeout(timer);
      w.removeAllListeners('error');
      resolve(m);
    });
    w.once('error', (e) => {
      clearTimeout(timer);
      worker = null;
      reject(e);
    });
    w.postMessage({ format, i });
  });
}

t.teardown(() => worker?.terminate());

let peakRss = 0,
  slowest = 0;
for (const format of Object.keys(FORMATS)) {
  t.test(format, async (t) => {
    const counts: Record<string, number> = { loaded: 0, InputError: 0, other: 0, hang: 0 };
    for (let i = 0; i < PER_FORMAT; i++) {
      const r = await runCase(format, i);
      if (r === 'hang') {
        counts.hang++;
        t.fail(`${format} case ${i}: no answer within ${CASE_MS} ms`);
        continue;
      }
      counts[r.outcome]++;
      peakRss = Math.max(peakRss, r.rss);
      slowest = Math.max(slowest, r.ms);
      if (r.outcome === 'other') t.fail(`${format} case ${i} (${r.what}): ${r.message}`);
      if (r.rss > RSS_CAP) t.fail(`${format} case ${i} (${r.what}): RSS ${(r.rss / 2 ** 20).toFixed(0)} MiB`);
    }
    t.comment(
      `${format}: ${PER_FORMAT} cases: ${counts.loaded} loaded, ${counts.InputError} InputError naming the file, ${counts.other} other errors, ${counts.hang} hangs`,
    );
    t.equal(counts.loaded + counts.InputError, PER_FORMAT, 'every case loads or fails with InputError naming the file');
  });
}

t.test('bounds', async (t) => {
  t.comment(`slowest case ${slowest.toFixed(0)} ms, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
  t.ok(peakRss > 0 && peakRss < RSS_CAP);
});
