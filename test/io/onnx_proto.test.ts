import t from 'tap';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import { decodeModel, encodeModel, DataType, AttrType, type ModelProto } from '../../engine/io/onnx_proto.js';

const fixture = new URL('../fixtures/onnx/tiny_official.onnx', import.meta.url).pathname;

t.test('reads a model written by the official onnx package', async (t) => {
  const m = decodeModel(readFileSync(fixture), fixture);
  t.equal(m.producer_name, 'onnx-python');
  t.same(
    m.opset_import.map((o) => o.version),
    [17],
  );
  t.same(
    m.graph.node.map((n) => n.op_type),
    ['Conv', 'Sigmoid', 'Reshape'],
  );
  const conv = m.graph.node[0];
  t.same(conv.attribute!.find((a) => a.name === 'kernel_shape')!.ints, [2, 2], 'packed int64 attribute');
  const w = m.graph.initializer.find((i) => i.name === 'w')!;
  t.same(w.dims, [2, 1, 2, 2]);
  t.same(
    [...new Float32Array(w.raw_data!.slice().buffer)].map((v) => +v.toFixed(3)),
    [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
  );
  const shape = m.graph.initializer.find((i) => i.name === 'shape')!;
  t.same([...new BigInt64Array(shape.raw_data!.slice().buffer)].map(Number), [-1, 2], 'negative int64 survives');
  t.equal(m.graph.input[0].type!.tensor_type!.shape!.dim[0].dim_param, 'batch', 'symbolic dimension');
  t.same(m.metadata_props, [{ key: 'stride', value: '32' }]);
  // decode → encode → decode is stable
  t.same(decodeModel(encodeModel(m)), m, 'round trip through our encoder');
});

t.test('a model we encode runs in onnxruntime and passes the official checker', async (t) => {
  const weights = new Float32Array([0.5, -1, 2, 0.25]);
  const model: ModelProto = {
    ir_version: 8,
    opset_import: [{ domain: '', version: 17 }],
    producer_name: 'yolo-ts',
    graph: {
      name: 'g',
      node: [
        {
          op_type: 'Conv',
          input: ['x', 'w'],
          output: ['c'],
          name: 'conv',
          attribute: [{ name: 'kernel_shape', type: AttrType.INTS, ints: [1, 1] }],
        },
        {
          op_type: 'LeakyRelu',
          input: ['c'],
          output: ['y'],
          attribute: [{ name: 'alpha', type: AttrType.FLOAT, f: 0.125 }],
        },
      ],
      initializer: [
        { name: 'w', dims: [4, 1, 1, 1], data_type: DataType.FLOAT, raw_data: new Uint8Array(weights.buffer) },
      ],
      input: [
        {
          name: 'x',
          type: {
            tensor_type: {
              elem_type: DataType.FLOAT,
              shape: { dim: [{ dim_param: 'b' }, { dim_value: 1 }, { dim_value: 2 }, { dim_value: 2 }] },
            },
          },
        },
      ],
      output: [
        {
          name: 'y',
          type: {
            tensor_type: {
              elem_type: DataType.FLOAT,
              shape: { dim: [{ dim_param: 'b' }, { dim_value: 4 }, { dim_value: 2 }, { dim_value: 2 }] },
            },
          },
        },
      ],
    },
    metadata_props: [{ key: 'task', value: 'pose' }],
  };
  const bytes = encodeModel(model);
  const session = await ort.InferenceSession.create(bytes);
  const x = new Float32Array([1, -2, 3, -4]);
  const out = await session.run({ x: new ort.Tensor('float32', x, [1, 1, 2, 2]) });
  const y = out.y.data as Float32Array;
  const expect = [...weights].flatMap((w) => [...x].map((v) => (w * v >= 0 ? w * v : 0.125 * w * v)));
  t.same([...y], expect, 'onnxruntime computes conv + leaky relu from our file');
  const py = spawnSync(
    '/usr/bin/python3',
    [
      '-c',
      'import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1])); print("ok")',
      join(mkdtempSync(join(tmpdir(), 'onnx-')), 'm.onnx'),
    ],
    { encoding: 'utf8' },
  );
  if (py.error || /No module named/.test(py.stderr))
    return t.comment('python3-onnx not installed: official checker skipped');
  const dir = mkdtempSync(join(tmpdir(), 'onnx-'));
  writeFileSync(join(dir, 'm.onnx'), bytes);
  const r = spawnSync(
    '/usr/bin/python3',
    [
      '-c',
      'import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print("ok")',
      join(dir, 'm.onnx'),
    ],
    { encoding: 'utf8' },
  );
  t.equal(r.stdout.trim(), 'ok', `onnx.checker accepts it ${r.stderr.slice(-300)}`);
});

t.test('truncated or garbled bytes give a clear error', async (t) => {
  const bytes = readFileSync(fixture);
  t.throws(() => decodeModel(bytes.subarray(0, bytes.length - 7), 'cut.onnx'), /cut\.onnx: malformed protobuf/);
  t.throws(
    () => decodeModel(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), 'junk.onnx'),
    /junk\.onnx: malformed protobuf/,
  );
  t.throws(() => decodeModel(new TextEncoder().encode('hello world'), 'text.onnx'), /text\.onnx/);
});
