import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { f16ToF32 } from '../../engine/io/safetensors.js';
import { PY_INT_KEYS, PY_ORDERED, PyFloat, PyInstance, intKeys, isTuple, pickle } from '../../engine/io/pickle.js';
import {
  TorchTensor,
  extractStateDict,
  f32ToBF16,
  f32ToF16,
  loadTorchCheckpoint,
  parseTorchCheckpoint,
  saveTorchCheckpoint,
  serializeTorchCheckpoint,
  tensorToFloat32,
} from '../../engine/io/torch_pt.js';
import { ZipReader, crc32, zipToBuffer } from '../../engine/io/zip.js';
import { findPython, runPython } from './python.js';

const FIX = join(import.meta.dirname, '../fixtures/io');
// The reference checkpoints ship with the repo as test fixtures (copied from ../shared/reference);
// YOLO_REFERENCE_DIR points at another folder holding both.
const REF_FILES: Record<string, string> = {
  'yolov8n-pose-seed0': join(import.meta.dirname, '../fixtures/models/yolov8n-pose-seed0.pt'),
  'yolov8n-pose-coco128': join(import.meta.dirname, '../fixtures/predict/yolov8n-pose-coco128.pt'),
};
const refPath = (name: string) =>
  process.env.YOLO_REFERENCE_DIR ? join(process.env.YOLO_REFERENCE_DIR, `${name}.pt`) : REF_FILES[name];
const tmp = mkdtempSync(join(tmpdir(), 'torch-pt-test-'));
const torchPy = findPython(true);
const NO_TORCH =
  'PyTorch is not importable by $TORCH_PYTHON, python3 or /usr/bin/python3 (apt-get install -y python3-torch): cannot check with torch.load';
const noRef = (name: string) =>
  existsSync(refPath(name)) ? false : `reference checkpoint ${refPath(name)} not found (set YOLO_REFERENCE_DIR)`;
const json = (f: string) => JSON.parse(readFileSync(join(FIX, f), 'utf8'));

/**
 * Differences between a JS value (what we read or wrote) and gen_torch_fixtures.describe() of
 * what torch.load returned: types (int/float/tuple/list/dict/OrderedDict/set), keys in order,
 * tensors' dtype, shape, every value, Parameter-ness.
 */
function diffs(ours: any, d: any, path = '$', out: string[] = []): string[] {
  const bad = (what: string) => {
    out.push(`${path}: ${what}`);
    return out;
  };
  if (d === null || typeof d !== 'object') return ours === d ? out : bad(`${String(ours)} !== ${String(d)}`);
  if ('int' in d)
    return (typeof ours === 'number' || typeof ours === 'bigint') && BigInt(ours) === BigInt(d.int)
      ? out
      : bad(`${ours} is not int ${d.int}`);
  if ('float' in d)
    return (ours instanceof PyFloat ? ours.value : ours) === d.float ? out : bad(`${ours} is not float ${d.float}`);
  if ('tuple' in d || 'list' in d) {
    const items = d.tuple ?? d.list;
    if (!Array.isArray(ours) || isTuple(ours) !== 'tuple' in d || ours.length !== items.length)
      return bad(`not a ${'tuple' in d ? 'tuple' : 'list'} of ${items.length}`);
    items.forEach((x: any, i: number) => diffs(ours[i], x, `${path}[${i}]`, out));
    return out;
  }
  if ('set' in d) {
    const plain = (x: any) => (x && typeof x === 'object' ? ('int' in x ? Number(x.int) : x.float) : x);
    return ours instanceof Set && JSON.stringify([...ours].sort()) === JSON.stringify(d.set.map(plain).sort())
      ? out
      : bad('set differs');
  }
  if ('dict' in d) {
    if (!ours || typeof ours !== 'object' || Array.isArray(ours) || ours instanceof PyInstance)
      return bad('not a dict');
    if ((ours[PY_ORDERED] === true || ours instanceof Map) !== (d.dict === 'OrderedDict'))
      bad(`dict type is not ${d.dict}`);
    const get = (k: string) => (ours instanceof Map ? ours.get(ours.has(k) ? k : Number(k)) : ours[k]);
    const keys = d.items.map(([k]: any) => (typeof k === 'string' ? k : k.int));
    const ourKeys = ours instanceof Map ? [...ours.keys()].map(String) : Object.keys(ours);
    const numeric = keys.some((k: string) => /^\d+$/.test(k)); // JS orders integer-like keys first
    if (JSON.stringify(numeric ? [...ourKeys].sort() : ourKeys) !== JSON.stringify(numeric ? [...keys].sort() : keys))
      bad(`keys ${ourKeys} !== ${keys}`);
    for (const [k, v] of d.items) {
      if (typeof k !== 'string' && !(ours instanceof Map) && !ours[PY_INT_KEYS]?.has(k.int))
        bad(`key ${k.int} is not marked int`);
      diffs(get(typeof k === 'string' ? k : k.int), v, `${path}.${typeof k === 'string' ? k : k.int}`, out);
    }
    return out;
  }
  if ('tensor' in d) {
    if (!ours || ours.dtype !== d.tensor || JSON.stringify(ours.shape) !== JSON.stringify(d.shape))
      return bad(`tensor ${ours?.dtype} ${JSON.stringify(ours?.shape)} is not ${d.tensor} ${JSON.stringify(d.shape)}`);
    const vals =
      ours.dtype === 'float16' && ours.data instanceof Float32Array
        ? f16ToF32(f32ToF16(ours.data))
        : ours.dtype === 'bfloat16' && ours.data instanceof Float32Array
          ? tensorToFloat32({ dtype: 'bfloat16', data: f32ToBF16(ours.data) })
          : ours.dtype === 'int64'
            ? Array.from(ours.data as BigInt64Array, Number)
            : ours.dtype === 'float64'
              ? ours.data
              : tensorToFloat32(ours);
    const want = d.values.map((x: any) => (typeof x === 'boolean' ? Number(x) : x));
    if (vals.length !== want.length || want.some((x: number, i: number) => !Object.is(vals[i], x)))
      bad(`values ${Array.from(vals).slice(0, 6)}... !== ${want.slice(0, 6)}...`);
    if (!!ours.isParameter !== d.parameter || !!ours.requiresGrad !== d.requires_grad)
      bad('Parameter / requires_grad differ');
    return out;
  }
  return bad(`unknown description ${JSON.stringify(d).slice(0, 80)}`);
}

const tensorCrc = (e: { data: ArrayBufferView }) =>
  crc32(new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength));

t.test('reads a torch.save file: all dtypes, views, storage offsets, stride 0, Parameter, OrderedDict', async (t) => {
  const ck = loadTorchCheckpoint(join(FIX, 'torch_small.pt')) as any;
  t.same(diffs(ck, json('torch_small.json')), []);
  t.ok(ck.sliced instanceof TorchTensor);
  t.same(ck.sliced.strides, [3, 1], 'views are materialized contiguous');
  // Our float32 -> half rounding agrees with torch's .half() on the same values.
  const scaled = Float32Array.from(tensorToFloat32(ck.f32), (x) => x * 3.3);
  t.same([...f32ToF16(scaled)], [...ck.f16.data]);
});

t.test('f32ToF16 inverts f16ToF32 on every finite half', async (t) => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i).filter((h) => (h & 0x7c00) !== 0x7c00);
  const back = f32ToF16(f16ToF32(all));
  t.equal(all.filter((h, i) => back[i] !== h).length, 0, `${all.length} halves survive the round trip`);
  t.same(
    [...f32ToF16(Float32Array.of(65520, 1e-8, -Infinity, NaN))].map((h) => h.toString(16)),
    ['7c00', '0', 'fc00', '7e00'],
  );
});

for (const name of ['yolov8n-pose-seed0', 'yolov8n-pose-coco128']) {
  t.test(`${name}.pt: state dict matches PyTorch's, value for value`, { skip: noRef(name) }, async (t) => {
    const file = refPath(name);
    const gold = json(`golden-${name}.json`);
    const ck = loadTorchCheckpoint(file) as any;
    const { stateDict, meta } = extractStateDict(ck);
    t.equal(meta.source, gold.source);
    t.same(
      [...stateDict.keys()],
      gold.tensors.map((g: any) => g.key),
      'keys, in PyTorch order',
    );
    let params = 0;
    const bad: string[] = [];
    for (const g of gold.tensors) {
      const e = stateDict.get(g.key)!;
      if (!/running_|num_batches/.test(g.key)) params += e.data.length;
      if (e.dtype !== g.dtype || JSON.stringify(e.shape) !== JSON.stringify(g.shape) || tensorCrc(e) !== g.crc32)
        bad.push(g.key);
      if (
        e.data instanceof Float32Array &&
        Math.abs(e.data.reduce((a, b) => a + b, 0) - g.sum) > 1e-6 * (1 + g.abs_sum)
      )
        bad.push(`${g.key} sum`);
    }
    t.same(bad, [], 'dtype, shape, crc32 of every value, sums');
    t.equal(params, 3_295_470, 'parameter count of yolov8n-pose');
    t.same(stateDict.get('model.0.conv.weight')!.shape, [16, 3, 3, 3]);
    t.same(stateDict.get('model.22.cv4.0.2.weight')!.shape, [51, 51, 1, 1]);
    t.equal(stateDict.get('model.0.bn.num_batches_tracked')!.data.constructor, BigInt64Array);
    t.same(Array.from(stateDict.get('model.0.conv.weight')!.data as Float32Array).slice(0, 4), gold.tensors[0].first);

    const m = gold.meta;
    t.same(
      {
        epoch: meta.epoch,
        date: meta.date,
        version: meta.version,
        best_fitness: meta.best_fitness,
        nc: meta.nc,
        kpt_shape: meta.kpt_shape,
        stride: meta.stride,
      },
      {
        epoch: m.epoch,
        date: m.date,
        version: m.version,
        best_fitness: m.best_fitness,
        nc: m.nc,
        kpt_shape: m.kpt_shape,
        stride: m.stride,
      },
    );
    t.same({ ...meta.names }, m.names);
    // ckpt.train_args, or the model's own args when that is empty (as in the seed0 file)
    t.same(meta.train_args, Object.keys(m.train_args).length ? m.train_args : m.model_args);
    t.equal(meta.model_class, 'ultralytics.nn.tasks.PoseModel');
    if (gold.optimizer) {
      const o = ck.optimizer,
        g0 = o.param_groups[0];
      t.equal(Object.keys(o.state).length, gold.optimizer.num_state);
      t.equal(g0.params.length, gold.optimizer.group0_num_params);
      t.same(
        Object.fromEntries(
          Object.entries(g0)
            .filter(([k]) => k !== 'params')
            .map(([k, v]) => [k, isTuple(v) ? [...v] : v]),
        ),
        gold.optimizer.group0,
      );
      for (const [k, g] of Object.entries<any>(gold.optimizer.state0)) {
        const v = o.state[0][k] as TorchTensor;
        const data = v.dtype === 'int64' ? v.data : v.toFloat32();
        t.equal(tensorCrc({ data }), g.crc32, `optimizer state[0].${k}`);
      }
      t.equal(ck.ema.args.__class__, 'ultralytics.utils.IterableSimpleNamespace');
    }
  });
}

t.test('writer: our reader reads it back', async (t) => {
  const small = loadTorchCheckpoint(join(FIX, 'torch_small.pt'));
  const file = join(tmp, 'small_again.pt');
  saveTorchCheckpoint(file, small);
  t.same(diffs(loadTorchCheckpoint(file), json('torch_small.json')), []);
  t.ok(
    readdirSync(tmp).every((f) => !f.includes('.tmp-')),
    'no temp files left',
  );
  const zipNames = new ZipReader(readFileSync(file)).names();
  t.same([zipNames[0], zipNames.at(-1)], ['small_again/data.pkl', 'small_again/version']);
});

/** A checkpoint built in JS: plain values, int-keyed names, a state dict (Map -> OrderedDict) of mixed dtypes. */
function builtCheckpoint() {
  const seq = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
  return {
    epoch: 3,
    best_fitness: new PyFloat(1),
    lr: 0.01,
    date: '2026-11-25',
    names: intKeys({ 0: 'person' }),
    flags: [true, false, null],
    state_dict: new Map<string, unknown>([
      [
        'model.0.conv.weight',
        new TorchTensor(
          'float32',
          [2, 1, 3, 3],
          seq(18, (i) => i / 7 - 1),
        ),
      ],
      ['model.0.bn.num_batches_tracked', new TorchTensor('int64', [], BigInt64Array.of(123456789012n))],
      ['half_from_f32', { dtype: 'float16', shape: [5], data: seq(5, (i) => i * 0.1 + 1e-3) }],
      ['half_raw', new TorchTensor('float16', [2], Uint16Array.of(0x3c00, 0xc000))],
      ['bf16', { dtype: 'bfloat16', shape: [3], data: seq(3, (i) => i * 1.5 - 1.1) }],
      ['f64', new TorchTensor('float64', [2], Float64Array.of(Math.PI, -1e300))],
      ['i32', new TorchTensor('int32', [3], Int32Array.of(-7, 0, 7))],
      ['mask', new TorchTensor('bool', [2, 2], Uint8Array.of(1, 0, 0, 1))],
      ['param', new TorchTensor('float32', [2], Float32Array.of(1, 2), undefined, true, true)],
      ['empty', new TorchTensor('float32', [0, 4], new Float32Array(0))],
    ]),
  };
}

t.test('writer: a checkpoint built in JS reads back', async (t) => {
  const built = builtCheckpoint();
  const file = join(tmp, 'built.pt');
  saveTorchCheckpoint(file, built);
  const back = loadTorchCheckpoint(file) as any;
  t.equal(back.state_dict[PY_ORDERED], true);
  t.equal(back.state_dict['model.0.bn.num_batches_tracked'].data[0], 123456789012n);
  t.same([...back.state_dict.half_raw.data], [0x3c00, 0xc000]);
  t.same([...back.names[PY_INT_KEYS]], ['0']);
});

t.test(
  'writer: PyTorch 1.13 torch.load reads it and sees the same values',
  { skip: torchPy ? false : NO_TORCH },
  async (t) => {
    const built = builtCheckpoint();
    const file = join(tmp, 'built-for-torch.pt');
    saveTorchCheckpoint(file, built);
    for (const f of [file, join(tmp, 'small_again.pt')]) {
      const r = runPython(torchPy!, [join(FIX, 'torch_check.py'), 'describe', f]);
      t.ok(r.ok, r.stderr);
      if (r.ok)
        t.same(
          diffs(f === file ? built : loadTorchCheckpoint(f), JSON.parse(r.stdout)),
          [],
          `torch sees what we wrote in ${f}`,
        );
    }
  },
);

for (const name of ['yolov8n-pose-seed0', 'yolov8n-pose-coco128']) {
  const ref = refPath(name),
    ours = join(tmp, `${name}.pt`);
  t.test(`writer: ${name}.pt survives load + save (our reader)`, { skip: noRef(name) }, async (t) => {
    saveTorchCheckpoint(ours, loadTorchCheckpoint(ref));
    const a = extractStateDict(loadTorchCheckpoint(ref)).stateDict,
      b = extractStateDict(loadTorchCheckpoint(ours)).stateDict;
    t.same([...b.keys()], [...a.keys()]);
    t.ok(
      [...a].every(([k, e]) => tensorCrc(e) === tensorCrc(b.get(k)!)),
      'same state dict',
    );
  });
  t.test(
    `writer: ${name}.pt survives load + save (torch.load, Ultralytics classes stubbed)`,
    { skip: noRef(name) || (torchPy ? false : NO_TORCH) },
    async (t) => {
      const r = runPython(torchPy!, [join(FIX, 'torch_check.py'), 'ultralytics', ref, ours]);
      t.ok(r.ok, r.stderr);
      if (r.ok)
        t.same(
          JSON.parse(r.stdout),
          { ok: true, checked: JSON.parse(r.stdout).checked, mismatches: [] },
          'torch sees the same model, args, optimizer',
        );
    },
  );
}

/** A zip laid out like torch's, around the given pickle bytes (and storages). */
const fakeCheckpoint = (pkl: Uint8Array, storages: Record<string, Uint8Array> = {}) =>
  zipToBuffer([
    { name: 'evil/data.pkl', data: pkl },
    ...Object.entries(storages).map(([k, data]) => ({ name: `evil/data/${k}`, data })),
    { name: 'evil/version', data: Uint8Array.of(0x33, 0x0a) },
  ]);
const b = (...parts: (number[] | string)[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : p)));
/** _rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), offset, size, stride, False, OrderedDict()) */
const tensorPickle = (key: string, numel: number, offset: number, size: number[], stride: number[]) => {
  const tup = (xs: number[]) => [0x28, ...xs.flatMap((x) => [0x4a, ...new Uint8Array(Int32Array.of(x).buffer)]), 0x74];
  return b(
    [0x80, 2],
    'ctorch._utils\n_rebuild_tensor_v2\n((',
    [0x8c, 7],
    'storage',
    'ctorch\nFloatStorage\n',
    [0x8c, key.length],
    key,
    [0x8c, 3],
    'cpu',
    [
      0x4a,
      ...new Uint8Array(Int32Array.of(numel).buffer),
      0x74,
      0x51,
      0x4a,
      ...new Uint8Array(Int32Array.of(offset).buffer),
    ],
    tup(size),
    tup(stride),
    [0x89, 0x4e, 0x74, 0x52, 0x2e],
  );
};

t.test('bad files: truncated, random, malicious, inconsistent -> clear errors', async (t) => {
  const good = readFileSync(join(FIX, 'torch_small.pt'));
  t.throws(
    () => parseTorchCheckpoint(good.subarray(0, good.length >> 1), 'half.pt'),
    /half.pt: no end-of-central-directory record: not a zip archive, or truncated/,
  );
  t.throws(() => parseTorchCheckpoint(good.subarray(0, 3), 'tiny.pt'), /tiny.pt: not a torch checkpoint/);
  let seed = 3;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
  t.throws(
    () => parseTorchCheckpoint(Uint8Array.from({ length: 50_000 }, rand), 'random.pt'),
    /random.pt: not a torch checkpoint/,
  );
  t.throws(
    () => parseTorchCheckpoint(Uint8Array.from([0x50, 0x4b, ...Array.from({ length: 50_000 }, rand)]), 'pk.pt'),
    /pk.pt: no end-of-central-directory/,
  );
  t.throws(() => parseTorchCheckpoint(pickle({ a: 1 }), 'old.pt'), /old.pt: legacy \(pre-1.6, non-zip\) torch format/);
  t.throws(() => loadTorchCheckpoint(join(tmp, 'does-not-exist.pt')), /does-not-exist.pt: cannot read/);
  t.throws(
    () => parseTorchCheckpoint(zipToBuffer([{ name: 'x/other', data: new Uint8Array(1) }]), 'nopkl.pt'),
    /nopkl.pt: no '<folder>\/data.pkl' entry/,
  );

  const evil: [string, Uint8Array, RegExp][] = [
    [
      'os.system',
      b([0x80, 2], 'cos\nsystem\n', [0x8c, 4], 'echo', [0x85, 0x52, 0x2e]),
      /refers to 'os.system', which is not on the allow-list/,
    ],
    [
      'builtins.eval',
      b([0x80, 4, 0x8c, 8], 'builtins', [0x8c, 4], 'eval', [0x93, 0x8c, 1], '1', [0x85, 0x52, 0x2e]),
      /'builtins.eval'/,
    ],
    [
      'attribute smuggling',
      b([0x80, 4, 0x8c, 21], 'torch.nn.modules.conv', [0x8c, 15], 'Conv2d.__init__', [0x93, 0x2e]),
      /'torch.nn.modules.conv.Conv2d.__init__'/,
    ],
    ['torch internals', b([0x80, 2], 'ctorch.storage\n_load_from_bytes\n.'), /'torch.storage._load_from_bytes'/],
    ['numpy', b([0x80, 2], 'cnumpy.core.multiarray\n_reconstruct\n.'), /'numpy.core.multiarray._reconstruct'/],
    [
      'fake storage',
      b([0x80, 2], 'ctorch._utils\n_rebuild_tensor_v2\n', [0x8c, 1], 'x', [0x85, 0x52, 0x2e]),
      /_rebuild_tensor_v2 failed: its first argument is not a storage/,
    ],
    ['path in storage key', tensorPickle('../../x', 1, 0, [1], [1]), /bad storage key/],
    ['missing storage', tensorPickle('7', 4, 0, [4], [1]), /storage 'evil\/data\/7' is missing/],
    ['past the storage', tensorPickle('0', 4, 2, [2, 2], [2, 1]), /reads past its storage '0' of 4 elements/],
    [
      'huge stride-0 view',
      tensorPickle('0', 4, 0, [1 << 30, 1 << 30], [0, 0]),
      /would take the tensors past \d+ bytes/,
    ],
  ];
  for (const [what, pkl, re] of evil) {
    t.throws(
      () => parseTorchCheckpoint(fakeCheckpoint(pkl, { 0: new Uint8Array(16) }), 'evil.pt'),
      { message: new RegExp(`^evil.pt \\(evil/data.pkl\\): .*${re.source}`) },
      what,
    );
  }
  t.same(
    (
      parseTorchCheckpoint(
        fakeCheckpoint(tensorPickle('0', 4, 1, [3], [1]), { 0: new Uint8Array(Float32Array.of(1, 2, 3, 4).buffer) }),
      ) as TorchTensor
    ).data,
    Float32Array.of(2, 3, 4),
    'a well-formed tensor with an offset loads',
  );

  // Fuzz: corrupt the pickle (re-zipped, so the CRC passes) and the archive itself.
  const pkl = new ZipReader(good).read('torch_small/data.pkl');
  const storages = Object.fromEntries(
    new ZipReader(good)
      .names()
      .filter((n) => n.includes('/data/'))
      .map((n) => [n.split('/').pop()!, new ZipReader(good).read(n)]),
  );
  const check = (buf: Uint8Array, what: string) => {
    try {
      parseTorchCheckpoint(buf, 'fuzz.pt');
    } catch (e) {
      if (!(e instanceof Error) || !e.message.startsWith('fuzz.pt')) t.fail(`${what}: ${String(e)}`);
    }
  };
  for (let i = 0; i < 1500; i++) {
    const p = new Uint8Array(pkl);
    for (let k = 0; k < 1 + (i % 3); k++) p[((rand() << 8) | rand()) % p.length] = rand();
    check(fakeCheckpoint(p, storages), `pickle corruption ${i}`);
    const z = new Uint8Array(good);
    z[((rand() << 16) | (rand() << 8) | rand()) % z.length] = rand();
    check(z, `archive corruption ${i}`);
  }
  for (let n = 0; n < good.length; n += 97) check(good.subarray(0, n), `truncated to ${n}`);
  t.pass('fuzzed without hangs, crashes or anonymous errors');
});

t.test('serializeTorchCheckpoint rejects what it cannot write', async (t) => {
  t.throws(
    () => serializeTorchCheckpoint({ x: { dtype: 'float32', shape: [3], data: new Float32Array(2) } }),
    /has 2 elements, expected 3/,
  );
  t.throws(
    () => serializeTorchCheckpoint({ x: { dtype: 'int64', shape: [1], data: new Float32Array(1) } }),
    /int64 tensor has data of type Float32Array, expected BigInt64Array/,
  );
  t.throws(
    () =>
      serializeTorchCheckpoint({ x: { dtype: 'float32', shape: [2, 2], strides: [1, 2], data: new Float32Array(4) } }),
    /not contiguous/,
  );
});
