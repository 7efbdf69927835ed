import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTorchCheckpoint, extractStateDict } from '../../engine/io/torch_pt.js';
import { buildPoseModel, loadPoseModel, readPoseCheckpoint, savePoseCheckpoint } from '../../models/index.js';

const PT = 'test/fixtures/models/yolov8n-pose-seed0.pt';
const dir = mkdtempSync(join(tmpdir(), 'yolo-ckpt-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('an Ultralytics .pt loads with its state-dict keys one to one', async (t) => {
  const { stateDict: theirs, meta } = extractStateDict(loadTorchCheckpoint(PT));
  const model = loadPoseModel(PT);
  const ours = model.stateDict();
  t.same([...ours.keys()], [...theirs.keys()], `the same ${ours.size} keys in the same order`);
  t.ok(ours.has('model.22.cv4.0.2.weight'));
  t.same(meta.version, '8.2.82');
  t.same(model.yaml, { yaml_file: 'yolov8n-pose.yaml', scale: 'n', nc: 1, kpt_shape: [17, 3], p6: false });
  t.same(model.stride, [8, 16, 32]);
  t.same(model.names, { 0: '0' });
  let worst = 0;
  for (const [k, v] of theirs) {
    const got = ours.get(k)!.dataSync();
    const want = v.data instanceof BigInt64Array ? Array.from(v.data, Number) : (v.data as Float32Array);
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  }
  t.equal(worst, 0, 'every value as stored (fp16 widened exactly)');
  t.same(
    [...ours.get('model.0.bn.num_batches_tracked')!.dataSync()],
    [Number((theirs.get('model.0.bn.num_batches_tracked')!.data as BigInt64Array)[0])],
  );
});

t.test('a checkpoint for another scale is refused with every wrong shape listed', async (t) => {
  const ck = readPoseCheckpoint(PT);
  const s = buildPoseModel('yolov8s-pose.yaml');
  let msg = '';
  try {
    s.loadStateDict(ck.stateDict);
  } catch (e) {
    msg = (e as Error).message;
  }
  t.match(msg, /wrong shapes \((\d+)\)/);
  t.match(msg, /model\.0\.conv\.weight: checkpoint \[16, 3, 3, 3\] vs model \[32, 3, 3, 3\]/);
  t.match(
    msg,
    /model\.22\.cv3\.2\.2\.weight: checkpoint \[1, 64, 1, 1\] vs model \[1, 128, 1, 1\]/,
    'down to the last layer',
  );
});

t.test('our checkpoints round-trip through .pt and .safetensors', async (t) => {
  const model = buildPoseModel('yolov8n-pose.yaml', { seed: 7, nc: 2, kptShape: [5, 3] });
  model.names = { 0: 'cat', 1: 'dog' };
  const sd = model.stateDict();
  sd.get('model.3.bn.running_mean')!.storage.array!.fill(0.25); // something not at its init value
  for (const file of ['ours.pt', 'ours.safetensors']) {
    const path = join(dir, file);
    await savePoseCheckpoint(model, path, { epoch: 3, best_fitness: 0.5 });
    const back = loadPoseModel(path);
    t.same(back.yaml, model.yaml, `${file}: yaml`);
    t.same(back.names, model.names, `${file}: names`);
    t.same(back.stride, model.stride, `${file}: stride`);
    const ck = readPoseCheckpoint(path);
    t.equal(ck.extra.epoch, 3, `${file}: extra metadata`);
    let same = true;
    for (const [k, v] of back.stateDict()) {
      const a = v.dataSync(),
        b = sd.get(k)!.dataSync();
      if (a.length !== b.length || a.some((x, i) => x !== b[i])) ((same = false), t.fail(`${file}: ${k} differs`));
    }
    t.ok(same, `${file}: every tensor bit for bit`);
  }

  // PyTorch itself reads our .pt (when Debian's torch is installed): the Ultralytics graph and our float32 copy.
  const py = '/usr/bin/python3';
  if (!existsSync(py)) return void t.comment('no /usr/bin/python3: skipping the torch.load check');
  const script = [
    'import sys, torch',
    'sys.path.insert(0, "test/models")',
    'import ultralytics_standins  # Ultralytics class names without Ultralytics (see test/models/ultralytics_pt.test.ts)',
    'ck = torch.load(sys.argv[1], map_location="cpu")',
    'm, sd = ck["model"], ck["yolo_ts"]["state_dict"]',
    'print(len(sd), m.yaml["nc"], m.names, m.yaml["kpt_shape"], sd["model.22.cv4.0.2.weight"].shape, sd["model.0.bn.num_batches_tracked"].dtype, float(m.state_dict()["model.3.bn.running_mean"][0]))',
  ].join('\n');
  let out: string;
  try {
    out = execFileSync(py, ['-c', script, join(dir, 'ours.pt')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    if (/No module named 'torch'/.test(String((e as { stderr?: string }).stderr)))
      return void t.comment('torch not installed: skipping');
    throw e;
  }
  t.equal(
    out.trim(),
    `${sd.size} 2 {0: 'cat', 1: 'dog'} [5, 3] torch.Size([15, 16, 1, 1]) torch.int64 0.25`,
    'torch.load sees the same state dict',
  );
});
