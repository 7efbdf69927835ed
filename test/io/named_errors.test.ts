// Errors that name the file and the field (issue 16 item 5): each case is a file a user could
// really meet, and the message must say which file, which field, and what was expected.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpu } from '../../engine/index.js';
import { InputError } from '../../engine/errors.js';
import { DataType, decodeModel, encodeModel } from '../../engine/io/onnx_proto.js';
import { readSafetensors, serializeSafetensors } from '../../engine/io/safetensors.js';
import { saveTorchCheckpoint } from '../../engine/io/torch_pt.js';
import { modelFromCheckpoint, readPoseCheckpoint, savePoseCheckpoint } from '../../models/checkpoint.js';
import { buildPoseModel } from '../../models/yolov8_pose.js';
import { loadDatasetYaml } from '../../tasks/data/dataset.js';
import { OnnxSession } from '../../tasks/export/onnx_runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'named-errors-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, bytes: Uint8Array | string) => (writeFileSync(join(dir, name), bytes), join(dir, name));
const err = (f: () => unknown): Error => {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
};

t.test('safetensors: a null or malformed field names the tensor and the field', async (t) => {
  const good = serializeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
  const withHeader = (h: unknown) => {
    const json = Buffer.from(JSON.stringify(h));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    return Buffer.concat([len, json, Buffer.alloc(8)]);
  };
  t.equal(readSafetensors(file('good.safetensors', good)).tensors.get('w')!.shape[0], 2);
  const e = err(() =>
    readSafetensors(file('null.safetensors', withHeader({ w: { dtype: 'F32', shape: [2], data_offsets: null } }))),
  );
  t.ok(e instanceof InputError);
  t.equal(
    e.message,
    `${join(dir, 'null.safetensors')}: tensor 'w': 'data_offsets' must be [begin, end] with 0 <= begin <= end, got null`,
  );
  t.match(
    err(() =>
      readSafetensors(
        file('shape.safetensors', withHeader({ w: { dtype: 'F32', shape: 'two', data_offsets: [0, 8] } })),
      ),
    ).message,
    /shape\.safetensors: tensor 'w': 'shape' must be a list of non-negative integers, got "two"/,
  );
  t.match(
    err(() => readSafetensors(file('entry.safetensors', withHeader({ w: null })))).message,
    /entry\.safetensors: tensor 'w': '\(entry\)' must be an object/,
  );
  t.match(
    err(() => readSafetensors(file('list.safetensors', withHeader([1, 2])))).message,
    /list\.safetensors: safetensors header must be a JSON object/,
  );
  t.match(
    err(() => readSafetensors(join(dir, 'missing.safetensors'))).message,
    /missing\.safetensors: cannot read \(ENOENT\)/,
  );
});

t.test('a checkpoint without ema/model names the file', async (t) => {
  const p = join(dir, 'nomodel.pt');
  saveTorchCheckpoint(p, { epoch: 3, optimizer: null });
  const e = err(() => readPoseCheckpoint(p));
  t.ok(e instanceof InputError);
  t.match(e.message, new RegExp(`^${p}: .*no module under 'ema' or 'model' \\(keys: epoch, optimizer\\)`));
});

t.test('a checkpoint whose head has another kpt_shape says so, not 36 tensor mismatches', async (t) => {
  const m5 = buildPoseModel('yolov8n-pose.yaml', { kptShape: [5, 3], device: cpu });
  const p = join(dir, 'kpt5.safetensors');
  await savePoseCheckpoint(m5, p);
  const ck = readPoseCheckpoint(p);
  t.same(ck.yaml.kpt_shape, [5, 3]);
  t.ok(modelFromCheckpoint(ck, p), 'the consistent checkpoint loads');
  ck.yaml = { ...ck.yaml, kpt_shape: [17, 3] }; // metadata that disagrees with the weights
  t.equal(
    err(() => modelFromCheckpoint(ck, p)).message,
    `${p}: checkpoint kpt_shape [5, 3] (its 'model.22.cv4.0.2.weight' has 15 outputs), model [17, 3]`,
  );
  ck.yaml = { ...ck.yaml, kpt_shape: [5, 3], nc: 3 };
  t.equal(
    err(() => modelFromCheckpoint(ck, p)).message,
    `${p}: checkpoint nc 1 (its 'model.22.cv3.0.2.weight' has 1 outputs), model nc 3`,
  );
});

t.test('an oversized ONNX tensor names the tensor (initializer or Constant node)', async (t) => {
  const good = readFileSync(join(import.meta.dirname, '../fixtures/onnx/tiny_official.onnx'));
  const proto = decodeModel(good);
  t.ok(OnnxSession.load(file('good.onnx', good), cpu));
  const init = proto.graph.initializer[0];
  const big = {
    ...proto,
    graph: {
      ...proto.graph,
      initializer: [{ ...init, dims: [100000, 100000, 64] }, ...proto.graph.initializer.slice(1)],
    },
  };
  const e = err(() => OnnxSession.load(file('big.onnx', encodeModel(big)), cpu));
  t.ok(e instanceof InputError);
  t.match(
    e.message,
    new RegExp(
      `big\\.onnx: initializer '${init.name}': dims \\[100000, 100000, 64\\] declare 640000000000 elements, more than the 268435456`,
    ),
  );
  const node = {
    op_type: 'Constant',
    name: 'huge_const',
    output: ['hc'],
    input: [],
    attribute: [
      { name: 'value', type: 4, t: { dims: [1 << 20, 1 << 20], data_type: DataType.FLOAT, float_data: [1] } },
    ],
  };
  const withConst = { ...proto, graph: { ...proto.graph, node: [node, ...proto.graph.node] } };
  t.match(
    err(() => OnnxSession.load(file('const.onnx', encodeModel(withConst)), cpu)).message,
    /const\.onnx: .*Constant 'huge_const'.*dims \[1048576, 1048576\] declare/,
  );
});

t.test("a dataset yaml whose 'path:' is missing names the yaml and the key", async (t) => {
  const root = join(dir, 'ds');
  mkdirSync(root);
  const y = file(
    'ds/data.yaml',
    'path: ../no-such-dataset\ntrain: images/train\nval: images/val\nkpt_shape: [17, 3]\nnames: {0: person}\n',
  );
  t.match(
    err(() => loadDatasetYaml(y, { datasetsDir: join(dir, 'datasets') })).message,
    new RegExp(
      `^${y}: 'path: \\.\\./no-such-dataset' not found \\(looked for .*no-such-dataset and .*no-such-dataset\\)`,
    ),
  );
  const abs = file('ds/abs.yaml', 'path: /no/such/root\ntrain: a\nval: b\nkpt_shape: [17, 3]\nnames: [p]\n');
  t.match(err(() => loadDatasetYaml(abs)).message, /abs\.yaml: 'path: \/no\/such\/root' not found/);
});
