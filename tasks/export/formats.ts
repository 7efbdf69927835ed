// Ultralytics' export format table (ultralytics/engine/exporter.py export_formats, 8.2.82) and the
// format-name resolution its Exporter does: lower-casing, the TensorRT and CoreML aliases, and a
// close-match correction (difflib.get_close_matches, cutoff 0.6) with a warning. This toolkit
// writes ONNX and TorchScript; every other format of the table is recognised and refused by name.
//
// Imports: node only.

export interface ExportFormat {
  /** what Ultralytics prints ('TensorFlow Lite') */
  format: string;
  /** the format= value */
  argument: string;
  /** file suffix or folder suffix added to the weights stem */
  suffix: string;
  cpu: boolean;
  gpu: boolean;
  /** whether this toolkit writes it */
  implemented: boolean;
}

const row = (format: string, argument: string, suffix: string, cpu: boolean, gpu: boolean): ExportFormat => ({
  format,
  argument,
  suffix,
  cpu,
  gpu,
  implemented: [
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
  ].includes(argument),
});

export const EXPORT_FORMATS: readonly ExportFormat[] = [
  row('PyTorch', '-', '.pt', true, true),
  row('TorchScript', 'torchscript', '.torchscript', true, true),
  row('ONNX', 'onnx', '.onnx', true, true),
  row('OpenVINO', 'openvino', '_openvino_model', true, false),
  row('TensorRT', 'engine', '.engine', false, true),
  row('CoreML', 'coreml', '.mlpackage', true, false),
  row('TensorFlow SavedModel', 'saved_model', '_saved_model', true, true),
  row('TensorFlow GraphDef', 'pb', '.pb', true, true),
  row('TensorFlow Lite', 'tflite', '.tflite', true, false),
  row('TensorFlow Edge TPU', 'edgetpu', '_edgetpu.tflite', true, false),
  row('TensorFlow.js', 'tfjs', '_web_model', true, false),
  row('PaddlePaddle', 'paddle', '_paddle_model', true, true),
  row('NCNN', 'ncnn', '_ncnn_model', true, true),
];

/** The format= values Ultralytics accepts (its table without the PyTorch row). */
export const FORMAT_ARGUMENTS: readonly string[] = EXPORT_FORMATS.slice(1).map((f) => f.argument);

/** The table as Ultralytics' `yolo export` help prints it, with what this toolkit writes. */
export function formatsTable(): string {
  const lines = EXPORT_FORMATS.map(
    (f) =>
      `${f.format.padEnd(22)} ${(f.argument === '-' ? '-' : f.argument).padEnd(12)} ${f.suffix.padEnd(16)} ${f.argument === '-' ? '(source)' : f.implemented ? 'yes' : 'not implemented yet'}`,
  );
  return [`${'Format'.padEnd(22)} ${'format='.padEnd(12)} ${'Suffix'.padEnd(16)} written here`, ...lines].join('\n');
}

/**
 * format= -> its table row, as Ultralytics' Exporter resolves it. An unknown name with a close
 * match is corrected with a warning; without one it is an error listing the valid formats. A
 * known format not written here is an error saying it is not implemented and what is.
 */
export function resolveFormat(format: string, warn: (s: string) => void = console.warn): ExportFormat {
  let fmt = String(format ?? '').toLowerCase();
  if (fmt === 'tensorrt' || fmt === 'trt') fmt = 'engine';
  if (['mlmodel', 'mlpackage', 'mlprogram', 'apple', 'ios', 'coreml'].includes(fmt)) fmt = 'coreml';
  const valid = `(${FORMAT_ARGUMENTS.map((f) => `'${f}'`).join(', ')})`;
  if (!FORMAT_ARGUMENTS.includes(fmt)) {
    const match = closeMatch(fmt, FORMAT_ARGUMENTS, 0.6);
    if (!match) throw new Error(`Invalid export format='${fmt}'. Valid formats are ${valid}`);
    warn(`WARNING ⚠️ Invalid export format='${fmt}', updating to format='${match}'`);
    fmt = match;
  }
  const f = EXPORT_FORMATS.find((r) => r.argument === fmt)!;
  if (!f.implemented) {
    const done = EXPORT_FORMATS.filter((r) => r.implemented)
      .map((r) => `'${r.argument}'`)
      .join(', ');
    throw new Error(
      `export format='${fmt}' (${f.format}) is not implemented yet in this toolkit; supported: ${done}. Ultralytics' formats are ${valid}`,
    );
  }
  return f;
}

/** difflib.get_close_matches(word, choices, n=1, cutoff): the best choice with ratio >= cutoff. */
export function closeMatch(word: string, choices: readonly string[], cutoff = 0.6): string | null {
  let best: string | null = null,
    bestScore = -1;
  for (const c of choices) {
    const r = sequenceRatio(c, word); // difflib: SequenceMatcher with seq2 = word, seq1 = choice
    if (r >= cutoff && r > bestScore) [best, bestScore] = [c, r];
  }
  return best;
}

/** difflib.SequenceMatcher(None, a, b).ratio(): 2 * matched characters / total (Ratcliff-Obershelp). */
export function sequenceRatio(a: string, b: string): number {
  if (!a.length && !b.length) return 1;
  return (2 * matched(a, 0, a.length, b, 0, b.length)) / (a.length + b.length);
}

/** Characters matched by recursively taking the longest common block (leftmost in a, then in b), as difflib. */
function matched(a: string, alo: number, ahi: number, b: string, blo: number, bhi: number): number {
  let bi = alo,
    bj = blo,
    size = 0;
  for (let i = alo; i < ahi; i++)
    for (let j = blo; j < bhi; j++) {
      let k = 0;
      while (i + k < ahi && j + k < bhi && a[i + k] === b[j + k]) k++;
      if (k > size) [bi, bj, size] = [i, j, k];
    }
  if (!size) return 0;
  return size + matched(a, alo, bi, b, blo, bj) + matched(a, bi + size, ahi, b, bj + size, bhi);
}
