// Export format names as Ultralytics' Exporter resolves them, and the metadata literals it writes.
import t from 'tap';
import {
  EXPORT_FORMATS,
  FORMAT_ARGUMENTS,
  resolveFormat,
  sequenceRatio,
  closeMatch,
} from '../../tasks/export/formats.js';
import {
  parsePyLiteral,
  pyRepr,
  pyStr,
  readMetadata,
  metadataProps,
  isoformatNow,
} from '../../tasks/export/metadata.js';

t.test('the format table is Ultralytics 8.2.82', async (t) => {
  t.same(FORMAT_ARGUMENTS, [
    'torchscript',
    'onnx',
    'openvino',
    'engine',
    'coreml',
    'saved_model',
    'pb',
    'tflite',
    'edgetpu',
    'tfjs',
    'paddle',
    'ncnn',
  ]);
  t.same(
    EXPORT_FORMATS.filter((f) => f.implemented).map((f) => f.argument),
    FORMAT_ARGUMENTS,
    'every format is written (edgetpu up to the compiler step)',
  );
});

t.test('format names resolve like Exporter.__call__', async (t) => {
  const warnings: string[] = [];
  const warn = (s: string) => warnings.push(s);
  t.equal(resolveFormat('onnx', warn).suffix, '.onnx');
  t.equal(resolveFormat('ONNX', warn).argument, 'onnx', 'case-insensitive');
  t.equal(resolveFormat('onx', warn).argument, 'onnx', 'a close match is corrected');
  t.match(warnings.pop(), "WARNING ⚠️ Invalid export format='onx', updating to format='onnx'");
  t.throws(
    () => resolveFormat('xyz', warn),
    /Invalid export format='xyz'\. Valid formats are \('torchscript', 'onnx', 'openvino', 'engine', .*'ncnn'\)/,
    'unknown: the list of valid formats',
  );
  t.throws(() => resolveFormat('tensorflow', warn), /Invalid export format='tensorflow'/);
  t.equal(resolveFormat('edgetp', warn).argument, 'edgetpu', 'edgetp: corrected');
});

t.test('sequenceRatio and closeMatch equal difflib', async (t) => {
  // goldens: difflib.SequenceMatcher(None, choice, word).ratio() and get_close_matches(word, formats, 1, 0.6)
  const ratios: [string, string, number][] = [
    ['onnx', 'onx', 0.8571],
    ['tflite', 'tflit', 0.9091],
    ['saved_model', 'savedmodel', 0.9524],
    ['onnx', 'xyz', 0.2857],
    ['saved_model', 'paddlepaddle', 0.4348],
    ['tflite', 'tensorflow', 0.375],
  ];
  for (const [a, b, r] of ratios) t.equal(+sequenceRatio(a, b).toFixed(4), r, `${a} / ${b}`);
  const matches: [string, string | null][] = [
    ['torch', 'torchscript'],
    ['openvin', 'openvino'],
    ['pt', null],
    ['tensorflow', null],
    ['paddlepaddle', 'paddle'],
    ['onnxx', 'onnx'],
  ];
  for (const [w, m] of matches) t.equal(closeMatch(w, FORMAT_ARGUMENTS), m, `${w} -> ${m}`);
});

t.test('metadata values are Python str() literals, read back like AutoBackend', async (t) => {
  t.equal(pyRepr({ 0: 'person', 1: "it's" } as never, true), `{0: 'person', 1: "it's"}`);
  t.equal(pyRepr([640, 480]), '[640, 480]');
  t.equal(pyStr('plain text'), 'plain text');
  t.equal(pyRepr([true, null, 0.5, 'a\\b']), "[True, None, 0.5, 'a\\\\b']");
  t.same(parsePyLiteral(`{0: 'person', 1: "it's", 2: 'a\\'b'}`), { 0: 'person', 1: "it's", 2: "a'b" });
  t.same(parsePyLiteral('[17, 3]'), [17, 3]);
  t.same(parsePyLiteral('(640, 640)'), [640, 640]);
  t.throws(() => parsePyLiteral("__import__('os')"), /not a Python literal/, 'never evaluated');
  const md = {
    description: 'd',
    author: 'Ultralytics',
    date: isoformatNow(),
    version: '8.2.82',
    license: 'l',
    docs: 'x',
    stride: 32,
    task: 'pose',
    batch: 1,
    imgsz: [320, 320] as [number, number],
    names: { 0: 'person' },
    kpt_shape: [17, 3] as [number, number],
  };
  const props = metadataProps(md);
  t.same(
    props.find((p) => p.key === 'names'),
    { key: 'names', value: "{0: 'person'}" },
  );
  const back = readMetadata(props, 'x.onnx');
  t.same(
    [back.stride, back.batch, back.imgsz, back.names, back.kpt_shape],
    [32, 1, [320, 320], { 0: 'person' }, [17, 3]],
  );
  t.throws(() => readMetadata([{ key: 'imgsz', value: '[640,' }], 'bad.onnx'), /bad\.onnx: metadata 'imgsz'/);
});
