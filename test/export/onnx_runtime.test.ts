// The ONNX importer (tasks/export/onnx_runtime.ts) on small hand-built graphs, on every device,
// against onnxruntime-node; and the errors a bad file gives.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as E from '../../engine/index.js';
import { DataType, encodeModel, type ModelProto } from '../../engine/io/onnx_proto.js';
import { GraphBuilder, floatTensor } from '../../tasks/export/graph.js';
import { OnnxSession } from '../../tasks/export/onnx_runtime.js';
import { testDevices } from '../helpers.js';

const devices = await testDevices(t);
const dir = mkdtempSync(join(tmpdir(), 'onnx-rt-'));

const f32 = (name: string, dims: (number | string)[]) => ({
  name,
  type: {
    tensor_type: {
      elem_type: DataType.FLOAT,
      shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
    },
  },
});
function modelOf(g: GraphBuilder, inputs: [string, (number | string)[]][], outputs: string[]): ModelProto {
  return {
    ir_version: 8,
    opset_import: [{ domain: '', version: 17 }],
    producer_name: 'test',
    graph: {
      name: 'g',
      node: g.nodes,
      initializer: g.initializers,
      input: inputs.map(([n, d]) => f32(n, d)),
      output: outputs.map((name) => ({ name })),
    },
  };
}
const seq = (n: number, f = (i: number) => Math.sin(i * 0.37) * 2) => Float32Array.from({ length: n }, (_, i) => f(i));

/** A small CNN with the ops of the pose graph and a few more, plus shape arithmetic. */
function cnn(half: boolean): ModelProto {
  const g = new GraphBuilder(half);
  const w = g.weight('w', seq(8 * 2 * 3 * 3), [8, 2, 3, 3]),
    b = g.weight(
      'b',
      seq(8, (i) => i / 10 - 0.3),
      [8],
    );
  const c = g.op('/c', 'Conv', ['x', w, b], {
    group: { i: 2 },
    kernel_shape: { ints: [3, 3] },
    pads: { ints: [1, 1, 1, 1] },
    strides: { ints: [1, 1] },
    dilations: { ints: [1, 1] },
  });
  const act = g.op('/act', 'Mul', [c, g.op('/act', 'Sigmoid', [c])]); // fused into conv + SiLU by the importer
  const pool = g.op('/p', 'MaxPool', [act], {
    ceil_mode: { i: 0 },
    kernel_shape: { ints: [3, 3] },
    pads: { ints: [1, 1, 1, 1] },
    strides: { ints: [2, 2] },
  });
  const up = g.op('/u', 'Resize', [pool, '', g.constant('/u', floatTensor([1, 1, 2, 2], [4]))], {
    coordinate_transformation_mode: { s: 'asymmetric' },
    mode: { s: 'nearest' },
    nearest_mode: { s: 'floor' },
  });
  const sizes = g.op('/u2', 'Mul', [g.op('/u2', 'Shape', [pool]), g.ints('/u2', [1, 1, 2, 2])]);
  const up2 = g.op('/u2', 'Resize', [pool, '', '', sizes], { mode: { s: 'nearest' } }); // half_pixel + round_prefer_floor defaults, by sizes
  const [a, bb] = g.node(
    '/s',
    'Split',
    [g.op('/cat', 'Concat', [up, up2], { axis: { i: 1 } }), g.ints('/s', [5, 11])],
    { axis: { i: 1 } },
    2,
  );
  const r = g.op('/r', 'Reshape', [bb, g.ints('/r', [0, 11, -1])]); // (B, 11, 36)
  const sm = g.op('/sm', 'Softmax', [g.op('/t', 'Transpose', [r], { perm: { ints: [0, 2, 1] } })], { axis: { i: 1 } }); // over 36
  const sl = g.op('/sl', 'Slice', [
    sm,
    g.ints('/sl', [1]),
    g.ints('/sl', [100]),
    g.ints('/sl', [1]),
    g.ints('/sl', [3]),
  ]); // rows 1, 4, ...
  const gathered = g.op('/g', 'Gather', [a, g.ints('/g', [4, 0])], { axis: { i: 1 } }); // channels 4, 0
  // shape arithmetic as a dynamic export does it: h of `a` -> Range -> (1, h) row, broadcast into a
  const shape = g.op('/sh', 'Shape', [a]);
  const h = g.op('/sh', 'Gather', [shape, g.ints('/sh', [2], [])], { axis: { i: 0 } });
  const ramp = g.op('/sh', 'Range', [
    g.scalar('/sh', 0),
    g.op('/sh', 'Cast', [h], { to: { i: DataType.FLOAT } }),
    g.scalar('/sh', 1),
  ]);
  const grid = g.op('/sh', 'Expand', [
    g.op('/sh', 'Unsqueeze', [ramp, g.ints('/sh', [1])]),
    g.op('/sh', 'Shape', [gathered]),
  ]);
  const out1 = g.op('/o', 'Div', [g.op('/o', 'Sub', [gathered, grid]), g.scalar('/o', 4)]);
  const added = g.op('/o', 'Add', [sl, g.op('/o', 'ConstantOfShape', [g.ints('/o', [1])], {})]);
  const out2 = g.op('/o', 'Squeeze', [g.op('/o', 'Unsqueeze', [added, g.ints('/o', [1])]), g.ints('/o', [1])]);
  return modelOf(g, [['x', ['n', 4, 'h', 'w']]], [out1, out2]);
}

async function compare(t: Test, proto: ModelProto, x: Float32Array, shape: number[], device: E.Device) {
  const s = await ort.InferenceSession.create(encodeModel(proto));
  const want = await s.run({ x: new ort.Tensor('float32', x, shape) });
  await s.release();
  const sess = new OnnxSession(proto, device, 'cnn.onnx');
  t.equal(sess.ops[0], 'ConvSiLU', 'Conv -> Sigmoid -> Mul runs as one conv with the SiLU epilogue');
  t.ok(
    !sess.ops.includes('Constant') && sess.ops.filter((o) => o === 'Cast').length === 1,
    'Constant nodes and Casts of initializers are folded at load (only the Cast of a run-time shape is left)',
  );
  const xt = E.tensor(x, shape, { device });
  const got = sess.run({ x: xt });
  for (const [k, name] of proto.graph.output.map((o, k) => [k, o.name] as const)) {
    const ref = want[name];
    t.same(got[k].shape, ref.dims.map(Number), `${name}: shape`);
    const a = await got[k].data(),
      b = ref.data as Float32Array;
    let d = 0;
    for (let i = 0; i < b.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
    t.ok(d <= 1e-5, `${name}: max |Δ| ${d.toExponential(2)}`);
  }
  [xt, ...got].forEach((v) => v.dispose());
  sess.dispose();
}
type Test = typeof t;

for (const device of devices)
  t.test(`importer equals onnxruntime on ${device.type}`, async (t) => {
    await compare(t, cnn(false), seq(2 * 4 * 6 * 6), [2, 4, 6, 6], device);
    await compare(
      t,
      cnn(false),
      seq(1 * 4 * 6 * 4, (i) => Math.cos(i)),
      [1, 4, 6, 4],
      device,
    ); // other sizes through the same graph
    await compare(t, cnn(true), seq(2 * 4 * 6 * 6), [2, 4, 6, 6], device); // float16 initializers through Cast
  });

t.test('bad files give clear errors naming the file', async (t) => {
  const good = encodeModel(cnn(false));
  const file = (name: string, bytes: Uint8Array) => (writeFileSync(join(dir, name), bytes), join(dir, name));
  t.ok(OnnxSession.load(file('good.onnx', good), E.cpu), 'the intact file loads');
  t.throws(
    () => OnnxSession.load(file('cut.onnx', good.subarray(0, good.length - 50)), E.cpu),
    /cut\.onnx: malformed protobuf .* truncated or not an ONNX model/,
  );
  t.throws(() => OnnxSession.load(file('half.onnx', good.subarray(0, 300)), E.cpu), /half\.onnx: /);
  t.throws(
    () => OnnxSession.load(file('text.onnx', new TextEncoder().encode('definitely not a model')), E.cpu),
    /text\.onnx/,
  );
  t.throws(() => OnnxSession.load(file('empty.onnx', new Uint8Array()), E.cpu), /empty\.onnx: empty file/);
  t.throws(
    () => OnnxSession.load(join(dir, 'missing.onnx'), E.cpu),
    /missing\.onnx: cannot read the ONNX model \(ENOENT\)/,
  );
  const noW = cnn(false);
  noW.graph.initializer = noW.graph.initializer.filter((i) => i.name !== 'w');
  t.throws(
    () => OnnxSession.load(file('now.onnx', encodeModel(noW)), E.cpu),
    /now\.onnx: node '\/c\/Conv' reads 'w', which nothing defines/,
  );
  const shortW = cnn(false);
  shortW.graph.initializer[0].raw_data = shortW.graph.initializer[0].raw_data!.subarray(0, 16);
  t.throws(
    () => OnnxSession.load(file('short.onnx', encodeModel(shortW)), E.cpu),
    /short\.onnx: initializer 'w': raw_data holds 16 bytes, expected 576/,
  );
  const odd = cnn(false);
  odd.graph.node.push({ op_type: 'LeakyRelu', input: ['x'], output: ['y'], name: 'lr' });
  t.throws(
    () => OnnxSession.load(file('odd.onnx', encodeModel(odd)), E.cpu),
    /odd\.onnx: unsupported ONNX op LeakyRelu \(this runtime covers .*Conv.*\)/,
  );
  t.equal(readFileSync(join(dir, 'good.onnx')).length, good.length);
});
