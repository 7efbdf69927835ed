// resume=True continues with the same numbers as an uninterrupted run: 2 epochs straight against
// 1 epoch, a crash, and a resume (gradients were still being accumulated when it stopped); and a
// child process killed with SIGKILL during its second epoch, then resumed. Both must end with
// weights identical to the uninterrupted run's, and one results.csv row per epoch.
import t from 'tap';
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PoseTrainer } from '../../tasks/train/trainer.js';
import { readPoseCheckpoint } from '../../models/checkpoint.js';
import { readResults } from '../../tasks/train/results.js';
import { quiet, tinyArgs, tinyDataset } from './helpers.js';

const data = tinyDataset();
const project = mkdtempSync(join(tmpdir(), 'train-resume-'));

/** Host copies of the training model's and the EMA's state at the end of the last epoch. */
async function finalWeights(trainer: PoseTrainer): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [k, v] of trainer.model.stateDict()) out.set(`model.${k}`, Float32Array.from(await v.data()));
  for (const [k, v] of trainer.ema.ema.stateDict()) out.set(`ema.${k}`, Float32Array.from(await v.data()));
  return out;
}

function capture(epochs: number, into: { w?: Map<string, Float32Array> }, crashAfter?: number) {
  return {
    ...quiet,
    callbacks: {
      onFitEpochEnd: async (tr: PoseTrainer) => {
        if (tr.epoch === epochs - 1) into.w = await finalWeights(tr);
        if (crashAfter !== undefined && tr.epoch === crashAfter) throw new Error('simulated crash');
      },
    },
  };
}

function sameWeights(t: Test, a: Map<string, Float32Array>, b: Map<string, Float32Array>, what: string) {
  t.equal(a.size, b.size, `${what}: same entries`);
  const diff = [...a]
    .filter(([k, v]) => {
      const w = b.get(k);
      return !w || w.length !== v.length || v.some((x, i) => x !== w[i]);
    })
    .map(([k]) => k);
  t.same(diff, [], `${what}: every value identical (model and EMA)`);
}

const csvRows = (dir: string) => readResults(join(dir, 'results.csv'));

const straight: { w?: Map<string, Float32Array> } = {};
let straightDir = '';

t.test('2 epochs straight', async (t) => {
  const r = await new PoseTrainer(tinyArgs(data, project, 'straight'), capture(2, straight)).train();
  straightDir = r.saveDir;
  t.ok(straight.w, 'final weights captured');
  t.same(csvRows(straightDir).data.epoch, [1, 2]);
  const ck = readPoseCheckpoint(r.last);
  t.equal(ck.extra.epoch, -1, 'the finished run is stripped (epoch -1), as strip_optimizer does');
  t.equal(ck.extra.optimizer, null);
});

t.test('1 epoch, a crash, resume=True: identical weights and rows', async (t) => {
  const into: { w?: Map<string, Float32Array> } = {};
  await t.rejects(new PoseTrainer(tinyArgs(data, project, 'crashed'), capture(2, into, 0)).train(), /simulated crash/);
  const last = join(project, 'crashed', 'weights', 'last.pt');
  const ck = readPoseCheckpoint(last);
  t.equal(ck.extra.epoch, 0, 'last.pt holds epoch 1 (0-based 0)');
  t.ok(ck.extra.grads, 'the gradients being accumulated are in the checkpoint');
  t.equal(ck.extra.last_opt_step, -1, 'no optimizer step yet (accumulate 2, one batch per epoch)');
  const r = await new PoseTrainer({ resume: last }, capture(2, into)).train();
  t.equal(r.saveDir, join(project, 'crashed'), 'the resumed run writes into its own folder');
  sameWeights(t, into.w!, straight.w!, 'resumed vs straight');
  t.same(csvRows(r.saveDir).data, csvRows(straightDir).data, 'results.csv: the same rows');
  await t.rejects(
    new PoseTrainer({ resume: last }, quiet).train(),
    /training to 2 epochs is finished, nothing to resume/,
  );
});

t.test('kill -9 during epoch 2, then resume=True: loses at most that epoch', async (t) => {
  const name = 'killed';
  const dir = join(project, name);
  const child = spawn(
    process.execPath,
    [
      '--import=tsx',
      fileURLToPath(new URL('./train_child.ts', import.meta.url)),
      JSON.stringify(tinyArgs(data, project, name)),
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  // wait for the first checkpoint, then a moment into epoch 2, then SIGKILL
  const last = join(dir, 'weights', 'last.pt');
  const deadline = Date.now() + 240_000;
  while (!existsSync(last) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.ok(existsSync(last), 'the child wrote last.pt after its first epoch');
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGKILL');
  await exited;
  const before = readPoseCheckpoint(last);
  t.equal(Number(before.extra.epoch), 0, `last.pt survived the kill intact (epoch ${before.extra.epoch})`);
  const into: { w?: Map<string, Float32Array> } = {};
  const r = await new PoseTrainer({ resume: last }, capture(2, into)).train();
  sameWeights(t, into.w!, straight.w!, 'killed + resumed vs straight');
  t.same(csvRows(r.saveDir).data.epoch, [1, 2], 'one row per epoch, none repeated');
  t.same(readdirSync(join(dir, 'weights')).sort(), ['best.pt', 'last.pt'], 'no temporary files left behind');
  t.ok(statSync(last).size > 1e6);
  t.match(readFileSync(join(dir, 'args.yaml'), 'utf8'), /epochs: 2/);
});
