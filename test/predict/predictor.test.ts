// The predictor loop without a real network: a stand-in model replays PyTorch's output for bus.jpg
// (raw_candidates.safetensors), so letterbox shapes, logging, saving, label files, run folders and
// the handling of bad files are tested end to end in a second; the real model is in parity.test.ts.
import t from 'tap';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpu, tensor, type Tensor } from '../../engine/index.js';
import { readSafetensors } from '../../engine/io/safetensors.js';
import { Predictor, checkImgsz, type PoseNet, type PredictArgs } from '../../tasks/predict/predictor.js';
import type { Results } from '../../tasks/predict/results.js';
import { FIXTURES, reference } from './reference.js';

const raw = readSafetensors(FIXTURES + 'raw_candidates.safetensors').tensors.get('bus.cand')!;
const inputs: number[][] = [];
const model: PoseNet = {
  names: { 0: 'person' },
  stride: [8, 16, 32],
  kptShape: [17, 3],
  predict(x: Tensor) {
    inputs.push([...x.shape]);
    return tensor(raw.data as Float32Array, [1, ...raw.shape], { device: x.device });
  },
};
const bus = FIXTURES + 'images/bus.jpg';

/** Runs a predictor, capturing what it prints. */
async function run(source: Parameters<Predictor['stream']>[0], args: PredictArgs) {
  const p = new Predictor(model, cpu, { imgsz: 320, conf: 0.05, ...args });
  const log: string[] = [],
    warn: string[] = [];
  const [l, w] = [console.log, console.warn];
  console.log = (s: string) => log.push(s);
  console.warn = (s: string) => warn.push(s);
  const results: Results[] = [];
  try {
    for await (const r of p.stream(source)) results.push(r);
  } finally {
    [console.log, console.warn] = [l, w];
  }
  return { p, results, log, warn };
}

t.test('bus.jpg: Ultralytics numbers, log lines, saved image and labels', async (t) => {
  const project = mkdtempSync(join(tmpdir(), 'pred-'));
  inputs.length = 0;
  const { p, results, log } = await run(bus, { save: true, save_txt: true, save_conf: true, project, name: 'exp' });
  t.same(inputs, [[1, 3, 320, 256]], 'one minimal stride-aligned letterbox: 1080x810 -> 320x256');
  const [r] = results;
  const ref = reference.images['bus.jpg'];
  t.same(r.boxes.xyxy, ref.boxes_xyxy, 'boxes exactly as Ultralytics');
  t.same(r.origShape, [1080, 810]);
  t.equal(r.path, bus);
  t.ok(r.speed.preprocess > 0 && r.speed.inference > 0 && r.speed.postprocess > 0, `speed ${JSON.stringify(r.speed)}`);
  t.equal(log[0], '', 'a blank line first, as Ultralytics');
  t.match(log[1], new RegExp(`^image 1/1 ${bus.replace(/[.]/g, '\\.')}: 320x256 17 persons, \\d+\\.\\dms$`));
  t.match(
    log[2],
    /^Speed: \d+\.\dms preprocess, \d+\.\dms inference, \d+\.\dms postprocess per image at shape \(1, 3, 320, 256\)$/,
  );
  const dir = join(project, 'exp');
  t.equal(log[3], `Results saved to ${dir}\n1 label saved to ${join(dir, 'labels')}`);
  t.equal(p.saveDir, dir);
  t.ok(existsSync(join(dir, 'bus.jpg')), 'annotated image saved under its own name');
  const lines = readFileSync(join(dir, 'labels', 'bus.txt'), 'utf8')
    .trimEnd()
    .split('\n');
  t.equal(lines.length, 17);
  t.equal(lines[0].split(' ').length, 1 + 4 + 17 * 3 + 1, 'cls, xywhn, 17 x (x y conf), conf');
  // Ultralytics' line for the reference detection (numpy float32 + '%g', see gen_raw_outputs.py's data):
  const want =
    '0 0.898765 0.71713 0.202469 0.365741 0.933819 0.636867 0.53633 0 0 0.433579 0 0 0.379815 0 0 0.334235 0 0 0.354233 0.962456 0.671094 0.866809 0.925783 0.655572 0.834566 0.951972 0.685338 0.583421 0.939596 0.708295 0.569169 0 0 0.451258 0.935788 0.704579 0.517899 0.937986 0.753167 0.740537 0.913792 0.745227 0.746806 0.930094 0.782594 0.568537 0.948014 0.748043 0.646029 0.925714 0.81994 0.551145 0.90934 0.806534 0.501791 0.154542';
  t.equal(
    lines[0].split(' ').slice(0, 10).join(' '),
    want.split(' ').slice(0, 10).join(' '),
    'class and box exactly, %g',
  );
  const d = Math.max(...lines[0].split(' ').map((v, i) => Math.abs(Number(v) - Number(want.split(' ')[i]))));
  t.ok(d <= 2e-6, `keypoints and conf within the 6-digit print (max |Δ| ${d.toExponential(1)})`);
  const again = await run(bus, { save: true, project, name: 'exp', verbose: false });
  t.equal(again.p.saveDir, dir + '2', 'next run: exp2');
  t.same(again.log, [], 'verbose=false prints nothing');
  const reuse = await run(bus, { save_txt: true, project, name: 'exp', exist_ok: true, verbose: false });
  t.equal(reuse.p.saveDir, dir, 'exist_ok reuses the folder');
  t.notOk(existsSync(join(project, 'exp3')));
});

t.test('bad files: reported in a folder or list, thrown for a single source', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bad-'));
  copyFileSync(bus, join(dir, 'a.jpg'));
  writeFileSync(join(dir, 'b.jpg'), readFileSync(bus).subarray(0, 5000));
  writeFileSync(join(dir, 'c.png'), 'GIF89a not really');
  copyFileSync(bus, join(dir, 'd.jpg'));
  const { p, results, warn, log } = await run(dir, {});
  t.equal(results.length, 2, 'the good images are still predicted');
  t.same(
    p.errors.map((e) => e.path),
    [join(dir, 'b.jpg'), join(dir, 'c.png')],
  );
  t.match(warn[0], /^WARNING ⚠️ image 2\/4 .*b\.jpg: skipped: .*b\.jpg: truncated JPEG data$/);
  t.match(warn[1], /c\.png: unsupported image format/);
  t.match(warn[2], /2 images could not be predicted/);
  t.match(log[2], /^image 4\/4 .*d\.jpg: 320x256 17 persons/);
  const l = await run([join(dir, 'missing.jpg'), bus], { verbose: false });
  t.same([l.results.length, l.p.errors[0].message], [1, `${join(dir, 'missing.jpg')}: file not found`]);
  await t.rejects(run(join(dir, 'b.jpg'), {}), /b\.jpg: truncated JPEG data/, 'a single bad file throws, naming it');
  await t.rejects(run(join(dir, 'nope.jpg'), {}), /nope\.jpg: file not found/);
});

t.test('in-memory images and imgsz', async (t) => {
  const img = { width: 64, height: 48, data: new Uint8Array(64 * 48 * 3).fill(200) };
  inputs.length = 0;
  const { log } = await run([img, img], {});
  t.match(log[1], /^0: 256x320 /, 'in-memory sources are numbered like Ultralytics; shape is h x w');
  t.match(log[2], /^1: 256x320 /);
  t.same(inputs[0], [1, 3, 256, 320], 'upscaled to fit 320, padded to a multiple of 32');
  const warns: string[] = [];
  t.same(
    checkImgsz(300, 32, (s) => warns.push(s)),
    [320, 320],
  );
  t.match(warns[0], /imgsz=300 must be multiple of max stride 32, updating to \[320,320\]/);
  t.same(checkImgsz([480, 640], 32), [480, 640]);
  t.throws(() => checkImgsz(-1, 32), /imgsz=-1: expected a positive number/);
});
