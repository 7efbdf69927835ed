// multi_scale=True against Ultralytics 8.2.82's DetectionTrainer.preprocess_batch: the sizes its
// randrange formula can draw, the stretched batch shapes, and F.interpolate(bilinear,
// align_corners=False) from torch 1.13 (goldens: test/fixtures/longtail/gen_options_goldens.py).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { interpolateBilinear, multiScaleBatch, multiScaleSize, MultiScaleRng } from '../../tasks/train/multi_scale.js';
import type { PoseBatch } from '../../tasks/data/loader.js';

const G = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/longtail/options_goldens.json', import.meta.url)), 'utf8'),
);

t.test('bilinear resize equals torch F.interpolate(align_corners=False)', async (t) => {
  for (const c of G.interpolate) {
    const y = interpolateBilinear(Float32Array.from(c.x), c.shape, c.size);
    let maxDiff = 0;
    for (let i = 0; i < y.length; i++) maxDiff = Math.max(maxDiff, Math.abs(y[i] - c.y[i]));
    t.equal(y.length, c.y.length); // a few float32 ulps: the build's multiply-add order (5.7e-7 measured)
    t.ok(maxDiff <= 1e-6, `${c.shape} -> ${c.size}: max |diff| ${maxDiff}`);
  }
});

t.test('every size the randrange formula can draw, and the stretched batch shape for each', async (t) => {
  for (const c of G.multi_scale) {
    const seen = new Set<number>();
    for (let k = 0; k < 4000; k++) seen.add(multiScaleSize(c.imgsz, c.stride, () => k / 4000));
    t.same(
      [...seen].sort((a, b) => a - b),
      c.sizes,
      `imgsz=${c.imgsz}: sizes`,
    );
    c.sizes.forEach((sz: number, j: number) => {
      const [H, W] = c.hw;
      const batch = { images: new Float32Array(3 * H * W), shape: [1, 3, H, W] } as unknown as PoseBatch;
      const out = multiScaleBatch(
        batch,
        c.imgsz,
        c.stride,
        () =>
          (sz - Math.trunc(c.imgsz * 0.5) + 0.5) / (Math.trunc(c.imgsz * 1.5 + c.stride) - Math.trunc(c.imgsz * 0.5)),
      );
      t.same(out.shape.slice(2), c.shapes[j], `imgsz=${c.imgsz} ${H}x${W} at ${sz}`);
      t.equal(out.images.length, 3 * c.shapes[j][0] * c.shapes[j][1]);
    });
  }
});

t.test('the draws are seeded by (seed, epoch) and do not disturb the global generator', async (t) => {
  const { random, seed } = await import('../../engine/random.js');
  seed(5);
  const expect = [random(), random()];
  seed(5);
  const a = new MultiScaleRng(0, 1),
    b = new MultiScaleRng(0, 1),
    c = new MultiScaleRng(0, 2);
  const da = [a.next(), a.next(), a.next()],
    db = [b.next(), b.next(), b.next()],
    dc = [c.next(), c.next(), c.next()];
  t.same(da, db, 'same (seed, epoch), same draws');
  t.not(JSON.stringify(da), JSON.stringify(dc), 'another epoch, other draws');
  t.same([random(), random()], expect, 'global stream untouched');
});

t.test('a multi_scale run trains each batch at a drawn size; single_cls labels become class 0', async (t) => {
  const { mkdtempSync, readFileSync: read, writeFileSync, readdirSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join, dirname } = await import('node:path');
  const { PoseTrainer } = await import('../../tasks/train/trainer.js');
  const { PoseDataset } = await import('../../tasks/data/loader.js');
  const { loadDatasetYaml } = await import('../../tasks/data/dataset.js');
  const { tinyArgs, tinyDataset } = await import('./helpers.js');
  const data = tinyDataset();
  // two classes: the first object of every label file becomes class 1
  const yaml = read(data, 'utf8').replace(/names:[\s\S]*?(\n\S|$)/, 'names:\n  0: person\n  1: other$1');
  writeFileSync(data, yaml);
  const lblDir = join(dirname(data), 'labels', 'val');
  for (const f of readdirSync(lblDir))
    writeFileSync(join(lblDir, f), read(join(lblDir, f), 'utf8').replace(/^0 /, '1 '));
  const cfg = loadDatasetYaml(data);
  t.equal(cfg.nc, 2);
  const plain = PoseDataset.fromConfig(cfg, 'val', { imgsz: 64, batch: 4, labelCache: false });
  t.ok(
    plain.labels.some((l) => l.cls.includes(1)),
    'class 1 present without single_cls',
  );
  const single = PoseDataset.fromConfig(cfg, 'val', { imgsz: 64, batch: 4, labelCache: false, singleCls: true });
  t.ok(
    single.labels.every((l) => l.cls.every((c) => c === 0)),
    'single_cls: every label is class 0',
  );
  t.equal(
    single.labels.reduce((s, l) => s + l.cls.length, 0),
    plain.labels.reduce((s, l) => s + l.cls.length, 0),
    'no label dropped',
  );

  const logs: string[] = [];
  const shapes: number[][] = [];
  const { Callbacks } = await import('../../tasks/callbacks.js');
  const events = new Callbacks().add('on_pretrain_routine_end', (tr: InstanceType<typeof PoseTrainer>) => {
    const forward = tr.model.forward.bind(tr.model);
    tr.model.forward = ((x: { shape: number[] }) => {
      if (tr.model.training) shapes.push([...x.shape]);
      return forward(x as never);
    }) as typeof tr.model.forward;
  });
  const project = mkdtempSync(join(tmpdir(), 'train-ms-'));
  await new PoseTrainer(
    tinyArgs(data, project, 'ms', {
      imgsz: 64,
      epochs: 1,
      batch: 2,
      multi_scale: true,
      single_cls: true,
      label_smoothing: 0.1,
    }),
    { log: (s) => logs.push(s), progressWrite: () => {}, events },
  ).train();
  t.equal(shapes.length, 2, 'two training batches');
  const sizes = shapes.map((s) => s[3]);
  t.ok(
    new Set(sizes).size === 2 && sizes.every((s) => [32, 64, 96].includes(s)) && shapes.every((s) => s[2] === s[3]),
    `square batches at sizes drawn from randrange(32, 128) // 32 * 32: ${sizes}`,
  );
  t.ok(
    logs.some((l) =>
      /label_smoothing=0.1 has no effect: Ultralytics 8.2.82's v8 pose loss does not read it either/.test(l),
    ),
    'label_smoothing is accepted and said to do nothing',
  );
});
