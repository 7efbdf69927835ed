// predict visualize=True against Ultralytics 8.2.82 itself (fixtures/predict/gen_visualize.py ran its
// feature_visualization on bus.jpg at imgsz 64): the same stage{i}_{Module}_features.png/.npy files in
// <save_dir>/bus/, and the same feature maps (x[0] of each layer) to float tolerance.
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpu, releaseDevices } from '../../engine/index.js';
import { readSafetensors } from '../../engine/io/safetensors.js';
import { readImage } from '../../tasks/data/image.js';
import { predictArgs } from '../../tasks/predict/cli.js';
import { encodeNpy, featureGrid } from '../../tasks/predict/visualize.js';
import { YOLO } from '../../tasks/yolo.js';
import { assertClose } from '../helpers.js';
import { FIXTURES } from './reference.js';

t.teardown(releaseDevices);

/** A float32 .npy back into shape and data (the header np.save writes, as encodeNpy writes it). */
function readNpy(bytes: Uint8Array): { shape: number[]; data: Float32Array } {
  const hlen = bytes[8] | (bytes[9] << 8);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + hlen));
  if (!header.includes("'descr': '<f4'")) throw new Error(`not float32: ${header}`);
  const shape = /'shape': \(([^)]*)\)/
    .exec(header)![1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const raw = bytes.slice(10 + hlen);
  return { shape, data: new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4) };
}

t.test('visualize=True writes what Ultralytics writes, with the same maps', async (t) => {
  const golden = readSafetensors(FIXTURES + 'visualize.safetensors');
  const project = mkdtempSync(join(tmpdir(), 'vis-'));
  const model = new YOLO(FIXTURES + 'yolov8n-pose-coco128.pt');
  const logs: string[] = [];
  const log = console.log;
  console.log = (s: string) => logs.push(s);
  try {
    await model.predict([FIXTURES + 'images/bus.jpg', FIXTURES + 'images/bus.jpg'], {
      imgsz: 64,
      visualize: true,
      project,
      name: 'p',
      device: cpu,
    });
  } finally {
    console.log = log;
  }
  const dir = join(project, 'p', 'bus');
  const files = readdirSync(dir).sort();
  t.same(
    files,
    golden.metadata.files.split(',').sort(),
    'file names: stage{i}_{Module}_features.{png,npy} for every layer before the head',
  );
  t.ok(
    existsSync(join(project, 'p', 'bus2', 'stage21_C2f_features.png')),
    'a second image with the same stem goes to bus2 (increment_path)',
  );
  t.ok(
    logs.some((l) => l.endsWith('stage3_Conv_features.png... (32/64)')),
    "logs 'Saving ...stage3_Conv_features.png... (32/64)' as Ultralytics",
  );
  for (const [name, g] of golden.tensors) {
    const ours = readNpy(readFileSync(join(dir, `${name}.npy`)));
    t.same(ours.shape, g.shape, `${name}.npy shape ${g.shape}`);
    assertClose(t, ours.data, g.data as Float32Array, `${name}.npy vs Ultralytics`, 1e-4, 1e-4);
  }
  const png = readImage(join(dir, 'stage0_Conv_features.png'));
  const npy = readNpy(readFileSync(join(dir, 'stage0_Conv_features.npy')));
  const grid = featureGrid(npy.data, npy.shape);
  t.same(
    [png.width, png.height],
    [grid.width, grid.height],
    'the PNG is the 8-per-row grid of the first min(32, C) channels',
  );
});

t.test('encodeNpy writes the header np.save writes', async (t) => {
  const b = encodeNpy(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
  const head = new TextDecoder().decode(b.subarray(0, 10 + (b[8] | (b[9] << 8))));
  t.equal(head.slice(1, 8), 'NUMPY\x01\x00', 'magic and version 1.0');
  t.match(head, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
  t.equal((10 + (b[8] | (b[9] << 8))) % 64, 0, 'header padded to 64 bytes');
  t.same(Array.from(readNpy(b).data), [1, 2, 3, 4, 5, 6]);
});

t.test('the predict CLI accepts visualize', async (t) => {
  t.equal(predictArgs({ model: 'm.pt', source: 'a.jpg', visualize: true }).visualize, true);
  t.throws(() => predictArgs({ model: 'm.pt', source: 'a.jpg', visualize: 3 }), /visualize=3' must be True or False/);
});
