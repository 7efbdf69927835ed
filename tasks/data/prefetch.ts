// Batches built on a second thread while the model works on the current one. A worker thread holds
// its own copy of the dataset (labels and options; the scan is not repeated) and runs the same
// PoseDataset.batches(epoch) generator, keeping at most `depth` batches ahead. Batches are a pure
// function of (dataset, options, epoch), so they are identical to the in-thread ones; their arrays
// are transferred, not copied.
//
//   const pf = new BatchPrefetcher(dataset);
//   for await (const batch of pf.epoch(e)) { ... }
//   await pf.close();
//
// The worker keeps the process alive only while an epoch is being read. This file is also the
// worker's entry point (it re-imports itself with a marker in workerData).
//
// Imports: node, ./loader.ts.

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { PoseDataset, type LoaderOptions, type PoseBatch } from './loader.js';

const MARK = 'yolo-ts-prefetch';

type ToWorker = { type: 'epoch'; run: number; epoch: number; credits: number } | { type: 'credit'; run: number } | { type: 'stop' };
type FromWorker =
  | { type: 'batch'; run: number; batch: PoseBatch }
  | { type: 'end'; run: number }
  | { type: 'error'; run: number; message: string }
  | { type: 'log'; message: string };

// Options that can cross a thread: functions (log, progress writers, onBadImage) stay behind.
function cloneableOptions(o: LoaderOptions): LoaderOptions {
  const { log: _log, progress: _progress, onBadImage: _onBadImage, ...rest } = o;
  return rest;
}

/** A worker running this file. From TypeScript sources (tsx) it registers tsx's loader first: Node 20 workers do not inherit it. */
function startWorker(workerData: unknown): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL(self), { workerData });
  const api = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(api)}).then((m) => m.register()).then(() => import(${JSON.stringify(self)}))`, { eval: true, workerData });
}

export class BatchPrefetcher {
  private readonly worker: Worker;
  private run = 0;
  private inbox: FromWorker[] = [];
  private wake: (() => void) | null = null;
  private failure: Error | null = null;

  constructor(readonly dataset: PoseDataset, readonly depth = 2) {
    const log = dataset.opts.log ?? console.log;
    const cfg = { kptShape: dataset.kptShape, flipIdx: dataset.flipIdx };
    // Labels go over already in dataset order; rect sorting is idempotent for a sorted list.
    this.worker = startWorker({ mark: MARK, labels: dataset.labels, cfg, opts: cloneableOptions(dataset.opts) });
    this.worker.unref();
    this.worker.on('message', (m: FromWorker) => {
      if (m.type === 'log') return log(m.message);
      if (m.run !== this.run) return; // from an epoch that was abandoned
      this.inbox.push(m);
      this.wake?.();
    });
    this.worker.on('error', (e) => {
      this.failure = e instanceof Error ? e : new Error(String(e));
      this.wake?.();
    });
  }

  /** The batches of one epoch, built ahead on the worker. */
  async *epoch(epoch: number): AsyncGenerator<PoseBatch> {
    const run = ++this.run;
    this.inbox = [];
    this.worker.ref(); // keep the process alive while batches are owed
    this.post({ type: 'epoch', run, epoch, credits: this.depth });
    let ended = false;
    try {
      for (;;) {
        while (!this.inbox.length && !this.failure) await new Promise<void>((r) => (this.wake = r));
        this.wake = null;
        if (this.failure) throw new Error(`batch prefetch worker failed: ${this.failure.message}`);
        const m = this.inbox.shift()!;
        if (m.type === 'end') return void (ended = true);
        if (m.type === 'error') throw new Error(m.message);
        if (m.type !== 'batch') continue;
        this.post({ type: 'credit', run });
        yield m.batch;
      }
    } finally {
      if (!ended) this.post({ type: 'stop' });
      this.worker.unref();
    }
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }
}

// ---- the worker side ----------------------------------------------------------------------------

function serve(): void {
  const port = parentPort!;
  const { labels, cfg, opts } = workerData as { labels: PoseDataset['labels']; cfg: { kptShape: [number, number]; flipIdx?: number[] }; opts: LoaderOptions };
  const dataset = new PoseDataset(labels, cfg, { ...opts, log: (message) => port.postMessage({ type: 'log', message }) });
  let gen: Generator<PoseBatch> | null = null;
  let run = 0, credits = 0, scheduled = false;

  const pump = () => {
    scheduled = false;
    if (!gen || credits <= 0) return;
    try {
      const r = gen.next();
      if (r.done) {
        gen = null;
        port.postMessage({ type: 'end', run });
        return;
      }
      credits--;
      const b = r.value;
      port.postMessage({ type: 'batch', run, batch: b }, [b.images.buffer, b.batchIdx.buffer, b.cls.buffer, b.bboxes.buffer, b.keypoints.buffer] as ArrayBuffer[]);
    } catch (e) {
      gen = null;
      port.postMessage({ type: 'error', run, message: (e as Error).message });
      return;
    }
    schedule(); // one batch per turn, so credit and stop messages get through
  };
  const schedule = () => {
    if (!scheduled) (scheduled = true), setImmediate(pump);
  };

  port.on('message', (m: ToWorker) => {
    if (m.type === 'epoch') (run = m.run), (credits = m.credits), (gen = dataset.batches(m.epoch));
    else if (m.type === 'credit' && m.run === run) credits++;
    else if (m.type === 'stop') gen = null;
    schedule();
  });
}

if (!isMainThread && (workerData as { mark?: string } | null)?.mark === MARK) serve();
