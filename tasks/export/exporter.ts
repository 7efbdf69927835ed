// `yolo export format=onnx` and YOLO.export(): Ultralytics' Exporter for the ONNX format, with the
// protobuf written by this project (engine/io/onnx_proto.ts), no ONNX library.
//
//   const f = await exportModel(model, { format: 'onnx', imgsz: 640 }, { file: 'yolov8n-pose.pt' });
//   // -> 'yolov8n-pose.onnx' beside the weights: input `images` (B, 3, H, W) float32,
//   //    output `output0` (B, 4 + nc + K * ndim, A), metadata_props as Ultralytics writes them.
//
// Options, and where they differ from Ultralytics 8.2.82:
//   opset     default 17 (see DEFAULT_OPSET); 13 ... 21 accepted.
//   dynamic   symbolic batch / height / width (output batch / anchors), anchors computed in-graph.
//   half      float16 initializers, each read through a Cast to float: the file is half the size and
//             the input stays float32. (Ultralytics casts the whole model and its input to fp16, and
//             only on a GPU; on a CPU it warns and exports fp32.)
//   simplify  accepted; nothing to do: the graph is written already constant-folded (no Shape/Gather
//             chains around static shapes, no Identity), which is what onnxslim would give.
//   batch, imgsz  the fixed input shape (imgsz rounded up to a multiple of the largest stride).
//
// The graph comes from the tracer (engine/graph): the model's forward traced with symbolic sizes,
// BatchNorm folded, lowered to ONNX by ./onnx_lower.ts.
//
// Imports: engine, models, ./graph, ./onnx_lower, ./metadata, ./formats, ../predict (checkImgsz).

import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import YAML from 'yaml';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { packageVersion } from '../../engine/paths.js';
import { writeFileAtomic } from '../../engine/io/zip.js';
import { DataType, encodeModel, type ModelProto, type Dim } from '../../engine/io/onnx_proto.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { checkImgsz } from '../predict/predictor.js';
import { resolveFormat } from './formats.js';
import { lowerToOnnx } from './onnx_lower.js';
import { exportMore, MORE_FORMATS } from './export_more.js';
import { lowerToTf, type TfGraph } from './tf_lower.js';
import { buildTfjs, type TfjsModel } from './tfjs.js';
import { encodeTflite, lowerToTflite, tfliteWithMetadata } from './tflite.js';
import { writeTfliteInt8 } from './tflite_int8.js';
import { exportEdgeTpu } from './edgetpu_export.js';
import { encodeGraphDef, encodeSavedModel } from './tf_proto.js';
import { lowerToTorchScript, pyJsonDumps, torchScriptArchive, type TorchScriptModule } from './torchscript.js';
import { traceModule, type Graph } from '../../engine/graph/index.js';
import { eliminateDeadCode } from '../../engine/graph/passes/dead_code.js';
import { foldBatchNorm } from '../../engine/graph/passes/fold_batch_norm.js';

/** Host copies of the model's state dict: name -> (shape, float32 values). */
export type HostWeights = Map<string, { shape: readonly number[]; data: Float32Array }>;
import { isoformatNow, metadataProps, type ExportMetadata } from './metadata.js';

/**
 * The default opset. Ultralytics uses the newest opset the installed torch can export, minus one
 * (get_latest_opset); with the torch 2.0-2.3 that Ultralytics 8.2 ran on that is 17. It is also
 * the newest opset in which every op we emit keeps the form torch writes (18 adds Split's
 * num_outputs and Resize's antialias/axes; 19 adds Resize's half_pixel_symmetric), and every
 * runtime of the last years reads it: onnxruntime >= 1.13, onnx >= 1.12 (its checker), TensorRT 8.6,
 * OpenVINO 2022.3.
 */
export const DEFAULT_OPSET = 17;
/** The ONNX IR version released with each opset (onnx 1.8 ... 1.16): the lowest a reader must know. */
const IR_VERSION: Record<number, number> = { 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };
/** The Ultralytics release whose export format (metadata, graph) this reproduces. */
export const ULTRALYTICS_VERSION = '8.2.82';

export interface ExportArgs {
  format?: string;
  imgsz?: number | number[];
  batch?: number;
  dynamic?: boolean;
  half?: boolean;
  opset?: number | null;
  simplify?: boolean;
  int8?: boolean;
  /** int8 calibration dataset yaml (TFLite / Edge TPU): its val images */
  data?: string;
  /** the dataset split int8 calibration images come from (default val, as Ultralytics) */
  split?: 'train' | 'val' | 'test';
  /** OpenVINO: the rt_info model_info iou_threshold (Ultralytics' only use of export's iou; default 0.7) */
  iou?: number;
  /** TensorRT builder workspace in GB (format=engine) */
  workspace?: number;
  /** TorchScript: accepted (what it means here is printed); refused for ncnn, as Ultralytics does */
  optimize?: boolean;
  /** print Ultralytics' export log lines (default true) */
  verbose?: boolean;
}

/** Where the model came from: the weights path decides the output path and the description. */
export interface ExportSource {
  /** weights file ('runs/pose/train/weights/best.pt') or model yaml ('yolov8n-pose.yaml') */
  file: string;
  /** the dataset the checkpoint was trained on (its train_args.data), for the description */
  data?: string | null;
}

export interface OnnxExport {
  proto: ModelProto;
  bytes: Uint8Array;
  metadata: ExportMetadata;
  /** [B, C, A] with 'batch' / 'anchors' names when dynamic */
  outputShape: (number | string)[];
}

/** Reads every float tensor of the model's state dict to the host. */
export async function hostWeights(model: PoseModel): Promise<HostWeights> {
  const out: HostWeights = new Map();
  for (const [k, t] of model.stateDict())
    if (t.dtype === 'f32') out.set(k, { shape: t.shape, data: (await t.data()) as Float32Array });
  return out;
}

/**
 * What every graph-lowering export starts from: the checked batch and imgsz (rounded up to the
 * largest stride), the traced graph (BatchNorm folded; every dim a number when `fixed`), the host
 * weights and `read`, the host values of a graph value (constant, parameter or buffer).
 */
async function prepareGraph(model: PoseModel, args: ExportArgs, opts: { fixed?: boolean } = {}) {
  const batch = args.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`export: batch=${batch} must be a positive integer`);
  const sz = args.imgsz ?? 640;
  const imgsz = checkImgsz(
    Array.isArray(sz) ? sz : [sz, sz],
    Math.max(...model.stride),
    args.verbose === false ? () => {} : console.warn,
  );
  const g = await exportGraph(model, batch, imgsz, opts);
  const weights = await hostWeights(model);
  const read = (id: number) => {
    const v = g.values[id];
    const data = v.data ?? (v.name ? weights.get(v.name)?.data : undefined);
    if (!data) throw new Error(`export: no host values for ${v.kind} %${id} ${v.name ?? ''}`);
    return data as Float32Array;
  };
  return { batch, imgsz, g, weights, read };
}

/** Builds the ONNX model of `model` (any device; unfused BatchNorms are folded on the host, the model is not changed). */
export async function buildOnnx(
  model: PoseModel,
  args: ExportArgs = {},
  src: ExportSource = { file: model.yaml.yaml_file },
): Promise<OnnxExport> {
  const opset = args.opset ?? DEFAULT_OPSET;
  if (!(opset in IR_VERSION))
    throw new Error(
      `export: opset=${opset} is not supported; use 13 ... 21 (default ${DEFAULT_OPSET}). Opset 13 is the first with Split sizes and Unsqueeze axes as inputs and Softmax over one axis`,
    );
  const { batch, imgsz, g, weights, read } = await prepareGraph(model, args);
  const dynamic = !!args.dynamic,
    half = !!args.half;
  const { builder, outputs } = lowerToOnnx(g, {
    dynamic,
    half,
    input: 'images',
    read,
    weight: (n) => weights.get(n)?.data,
  });
  // the last node's output becomes output0
  const last = builder.nodes[builder.nodes.length - 1];
  if (last.output[0] !== outputs[0]) throw new Error('export: internal error, the predictions are not the last node');
  last.output = ['output0'];

  const head = model.head;
  const C = 4 + head.nc + head.nk;
  const outputShape: (number | string)[] = dynamic
    ? ['batch', C, 'anchors']
    : [batch, C, anchorCount(head.stride, imgsz)];
  const dims = (d: (number | string)[]): Dim[] =>
    d.map((v) => (typeof v === 'number' ? { dim_value: v } : { dim_param: v }));
  const f32 = (name: string, shape: (number | string)[]) => ({
    name,
    type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: dims(shape) } } },
  });

  const metadata = exportMetadata(model, src, batch, imgsz);
  const proto: ModelProto = {
    ir_version: IR_VERSION[opset],
    opset_import: [{ domain: '', version: opset }],
    producer_name: 'yolo-ts',
    producer_version: packageVersion(),
    graph: {
      name: 'main_graph',
      node: builder.nodes,
      initializer: builder.initializers,
      input: [f32('images', dynamic ? ['batch', 3, 'height', 'width'] : [batch, 3, ...imgsz])],
      output: [f32('output0', outputShape)],
    },
    metadata_props: metadataProps(metadata),
  };
  return { proto, bytes: encodeModel(proto), metadata, outputShape };
}

/**
 * The model's eval-mode graph with symbolic batch and size (examples: the export's), predictions
 * only, BatchNorm folded into the convs (the model itself is not changed).
 */
export async function exportGraph(
  model: PoseModel,
  batch: number,
  [h, w]: [number, number],
  opts: { fixed?: boolean } = {},
): Promise<Graph> {
  const modes = model.modules().map((m) => [m, m.training] as const);
  model.eval();
  let g: Graph;
  try {
    g = opts.fixed // every dim a number (what constant folding and the fixed-shape formats want)
      ? traceModule(model, [{ shape: [batch, 3, h, w], name: 'images' }])
      : traceModule(model, [{ shape: ['B', 3, 'H', 'W'], name: 'images' }], { sizes: { B: batch, H: h, W: w } });
  } finally {
    for (const [m, t] of modes) m.training = t;
  }
  g.outputs = g.outputIds()[0]; // (B, 4 + nc + nk, A)
  eliminateDeadCode(g);
  const weights = await hostWeights(model);
  foldBatchNorm(g, (id) => {
    const v = g.values[id];
    return (v.data as Float32Array | undefined) ?? weights.get(v.name!)!.data;
  });
  return g;
}

/** Output anchors for a fixed input size: sum over levels of (h / s) * (w / s). */
export function anchorCount(strides: readonly number[], [h, w]: [number, number]): number {
  return strides.reduce((a, s) => a + (h / s) * (w / s), 0);
}

/** Ultralytics' Exporter.metadata for a pose model. */
export function exportMetadata(
  model: PoseModel,
  src: ExportSource,
  batch: number,
  imgsz: [number, number],
): ExportMetadata {
  const yamlFile = model.yaml.yaml_file || src.file;
  const prettyName = basename(yamlFile, extname(yamlFile)).replace(/yolo/g, 'YOLO');
  const data = src.data ? String(src.data) : '';
  return {
    description: `Ultralytics ${prettyName} model ${data ? `trained on ${data}` : ''}`,
    author: 'Ultralytics',
    date: isoformatNow(),
    version: ULTRALYTICS_VERSION,
    license: 'AGPL-3.0 License (https://ultralytics.com/license)',
    docs: 'https://docs.ultralytics.com',
    stride: Math.max(...model.stride),
    task: 'pose',
    batch,
    imgsz,
    names: { ...model.names },
    kpt_shape: [...model.kptShape] as [number, number],
  };
}

/** Where Ultralytics writes the file: beside the weights, or in the working folder for a yaml model. */
export function exportPath(file: string, suffix = '.onnx'): string {
  const ext = extname(file).toLowerCase();
  const stem = basename(file, extname(file));
  return ext === '.yaml' || ext === '.yml' || !ext ? `${stem}${suffix}` : join(dirname(file), `${stem}${suffix}`);
}

const mb = (f: string) => (existsSync(f) ? statSync(f).size / (1 << 20) : 0).toFixed(1);

/** Exports `model` as Ultralytics' Exporter does (format checks, log lines), returns the written path. */
export async function exportModel(model: PoseModel, args: ExportArgs, src: ExportSource): Promise<string> {
  args = { ...args };
  const log = args.verbose === false ? () => {} : (s: string) => console.log(s);
  const warn = args.verbose === false ? () => {} : (s: string) => console.warn(s);
  const t0 = performance.now();
  const fmt = resolveFormat(args.format ?? 'torchscript', warn); // Ultralytics' default format is torchscript
  if (MORE_FORMATS.includes(fmt.argument)) return exportMore(fmt.argument, model, args, src, log, t0); // ./export_more.ts
  if (args.int8 && fmt.argument === 'onnx')
    throw new Error(
      'export: int8=True is not implemented for ONNX (Ultralytics quantizes only TensorRT, OpenVINO, CoreML and TFLite)',
    );
  if (args.half && args.int8 && ['tflite', 'saved_model', 'edgetpu'].includes(fmt.argument)) {
    warn('WARNING ⚠️ half=True and int8=True are mutually exclusive, setting half=False.');
    args.half = false;
  }
  if (fmt.argument === 'edgetpu' && (args.batch ?? 1) !== 1) {
    warn('WARNING ⚠️ Edge TPU export requires batch size 1, setting batch=1.');
    args.batch = 1;
  }
  if (fmt.argument === 'edgetpu') args.int8 = true; // Ultralytics: self.args.int8 |= edgetpu (after its data check, as here)
  if ((args.int8 || fmt.argument === 'edgetpu') && !args.data) {
    args.data = 'coco8-pose.yaml'; // Ultralytics' TASK2DATA['pose'] (DEFAULT_CFG.data is None)
    warn(`WARNING ⚠️ INT8 export requires a missing 'data' arg for calibration. Using default 'data=${args.data}'.`);
  }
  const opset = args.opset ?? DEFAULT_OPSET;
  const t1 = performance.now();
  let f = exportPath(src.file, fmt.suffix);
  const head = model.head;
  const pytorchLine = (imgsz: [number, number]) => {
    const inShape = [args.batch ?? 1, 3, ...imgsz];
    const outShape = [inShape[0], 4 + head.nc + head.nk, anchorCount(head.stride, imgsz)]; // what the dry run gives
    log(
      `\nPyTorch: starting from '${src.file}' with input shape (${inShape.join(', ')}) BCHW and output shape(s) (${outShape.join(', ')}) (${mb(src.file)} MB)`,
    );
  };
  let metadata: ExportMetadata;
  if (fmt.argument === 'torchscript') {
    if (args.dynamic)
      warn(
        'WARNING ⚠️ dynamic=True: TorchScript is exported at the fixed imgsz and batch here (torch.jit.trace records them too), setting dynamic=False.',
      );
    const ex = await buildTorchScript(model, args, src, f);
    metadata = ex.metadata;
    pytorchLine(metadata.imgsz);
    log(
      `\nTorchScript: starting export with yolo-ts ${packageVersion()} (own TorchScript writer, for torch >= 1.10)...`,
    );
    if (args.optimize)
      log(
        'TorchScript: optimize=True: the graph is already what optimize_for_mobile leaves on CPU (BatchNorm folded into the convs, no training ops); the file stays a full-JIT archive for torch.jit.load (no lite-interpreter bytecode)',
      );
    writeFileAtomic(f, ex.chunks);
    log(
      `TorchScript: export success ✅ ${((performance.now() - t1) / 1000).toFixed(1)}s, saved as '${f}' (${mb(f)} MB)`,
    );
  } else if (fmt.argument === 'tflite') {
    if (args.dynamic)
      warn('WARNING ⚠️ dynamic=True: TFLite is written at the fixed imgsz and batch, setting dynamic=False.');
    const ex = await buildTfGraph(model, args, src);
    metadata = ex.metadata;
    pytorchLine(metadata.imgsz);
    log(`\nTensorFlow Lite: starting export with yolo-ts ${packageVersion()} (own flatbuffer writer, schema v3)...`);
    const folder = exportPath(src.file, '_saved_model');
    const stem = basename(src.file, extname(src.file));
    f = join(folder, `${stem}_${args.half ? 'float16' : 'float32'}.tflite`);
    mkdirSync(folder, { recursive: true });
    if (args.int8)
      f = (
        await writeTfliteInt8(
          folder,
          stem,
          ex.graph,
          metadata,
          args.data!,
          log,
          warn,
          `yolo-ts ${packageVersion()}`,
          args.split ?? 'val',
        )
      ).dynamic_range; // Ultralytics returns _int8.tflite
    else
      writeFileAtomic(f, [
        tfliteWithMetadata(
          encodeTflite(lowerToTflite(ex.graph, { half: !!args.half, description: `yolo-ts ${packageVersion()}` })),
          metadata,
        ),
      ]);
    log(
      `TensorFlow Lite: export success ✅ ${((performance.now() - t1) / 1000).toFixed(1)}s, saved as '${f}' (${mb(f)} MB)`,
    );
  } else if (fmt.argument === 'pb' || fmt.argument === 'saved_model' || fmt.argument === 'edgetpu') {
    // edgetpu: the SavedModel folder, then the compiler step
    if (fmt.argument === 'edgetpu') f = exportPath(src.file, '_saved_model');
    if (args.int8 && fmt.argument === 'pb')
      throw new Error(
        `export: int8=True does not apply to ${fmt.format} (a float graph); int8 TFLite files are written by format=tflite or format=saved_model int8=True`,
      );
    if (args.dynamic)
      warn(`WARNING ⚠️ dynamic=True: ${fmt.format} is written at the fixed imgsz and batch, setting dynamic=False.`);
    const ex = await buildTfGraph(model, args, src);
    metadata = ex.metadata;
    pytorchLine(metadata.imgsz);
    if (fmt.argument === 'pb') {
      log(
        `\nTensorFlow GraphDef: starting export with yolo-ts ${packageVersion()} (own protobuf writer, frozen graph)...`,
      );
      writeFileAtomic(f, [encodeGraphDef(ex.graph)]);
      log(
        `TensorFlow GraphDef: export success ✅ ${((performance.now() - t1) / 1000).toFixed(1)}s, saved as '${f}' (${mb(f)} MB)`,
      );
    } else {
      log(
        `\nTensorFlow SavedModel: starting export with yolo-ts ${packageVersion()} (own protobuf writer, frozen graph with a serving_default signature)...`,
      );
      mkdirSync(join(f, 'variables'), { recursive: true }); // a frozen graph: every weight is a Const, no variables to restore
      writeFileAtomic(join(f, 'saved_model.pb'), [encodeSavedModel(ex.graph)]);
      const stem = basename(src.file, extname(src.file));
      for (const half of [false, true])
        // the TFLite files Ultralytics writes beside the SavedModel
        writeFileAtomic(join(f, `${stem}_${half ? 'float16' : 'float32'}.tflite`), [
          tfliteWithMetadata(
            encodeTflite(lowerToTflite(ex.graph, { half, description: `yolo-ts ${packageVersion()}` })),
            metadata,
          ),
        ]);
      const q = args.int8
        ? await writeTfliteInt8(
            f,
            stem,
            ex.graph,
            metadata,
            args.data!,
            log,
            warn,
            `yolo-ts ${packageVersion()}`,
            args.split ?? 'val',
          )
        : null; // onnx2tf's int8 files too
      writeFileAtomic(join(f, 'metadata.yaml'), [new TextEncoder().encode(metadataYaml(metadata))]);
      log(
        `TensorFlow SavedModel: export success ✅ ${((performance.now() - t1) / 1000).toFixed(1)}s, saved as '${f}' (${mbDir(f)} MB)`,
      );
      if (fmt.argument === 'edgetpu') f = await exportEdgeTpu(q!.full_integer, metadata, log, warn);
    }
  } else if (fmt.argument === 'tfjs') {
    if (args.dynamic)
      warn(
        'WARNING ⚠️ dynamic=True: the TF.js graph model is written at the fixed imgsz and batch, setting dynamic=False.',
      );
    const ex = await buildTfGraph(model, args, src);
    metadata = ex.metadata;
    pytorchLine(metadata.imgsz);
    log(`\nTensorFlow.js: starting export with yolo-ts ${packageVersion()} (own graph-model writer)...`);
    log(`\nTensorFlow.js: output node names: ${ex.graph.output.name}`);
    // Ultralytics: tensorflowjs_converter --quantize_float16 (half) / --quantize_uint8 (int8)
    if (args.half && args.int8) warn('WARNING ⚠️ half=True and int8=True are mutually exclusive, setting half=False.');
    const tj = buildTfjs(
      ex.graph,
      `yolo-ts ${packageVersion()}`,
      undefined,
      args.int8 ? 'uint8' : args.half ? 'float16' : undefined,
    );
    writeTfjsFolder(f, tj, metadata);
    log(
      `TensorFlow.js: export success ✅ ${((performance.now() - t1) / 1000).toFixed(1)}s, saved as '${f}' (${mbDir(f)} MB)`,
    );
  } else {
    const ex = await buildOnnx(model, { ...args, opset }, src);
    metadata = ex.metadata;
    pytorchLine(metadata.imgsz);
    log(`\nONNX: starting export with yolo-ts ${packageVersion()} (own protobuf writer) opset ${opset}...`);
    if (args.simplify)
      log('ONNX: simplify=True: nothing to do, the graph is written constant-folded (what onnxslim would leave)');
    writeFileAtomic(f, [ex.bytes]);
    log(`ONNX: export success ✅ ${((performance.now() - t1) / 1000).toFixed(1)}s, saved as '${f}' (${mb(f)} MB)`);
  }

  const [h, w] = metadata.imgsz;
  const square = h === w;
  const imgszArg = square ? String(h) : `${h},${w}`;
  const q = args.int8 ? 'int8' : args.half ? 'half' : '';
  const data = src.data ?? null;
  const s = square
    ? ''
    : `WARNING ⚠️ non-PyTorch val requires square images, 'imgsz=[${h}, ${w}]' will not work. Use export 'imgsz=${Math.max(h, w)}' if val is required.`;
  log(
    `\nExport complete (${((performance.now() - t0) / 1000).toFixed(1)}s)` +
      `\nResults saved to ${resolve(dirname(f))}` +
      `\nPredict:         yolo predict task=pose model=${f} imgsz=${imgszArg} ${q} ` +
      `\nValidate:        yolo val task=pose model=${f} imgsz=${imgszArg} data=${data ?? 'None'} ${q} ${s}` +
      `\nVisualize:       https://netron.app`,
  );
  return f;
}

/** The model as a TF graph on NHWC images at a fixed batch and imgsz (BatchNorm folded, anchors constant). */
export async function buildTfGraph(
  model: PoseModel,
  args: ExportArgs,
  src: ExportSource,
): Promise<{ graph: TfGraph; metadata: ExportMetadata }> {
  const { batch, imgsz, g, read } = await prepareGraph(model, args, { fixed: true });
  return { graph: lowerToTf(g, { read }), metadata: exportMetadata(model, src, batch, imgsz) };
}

/** Writes `<stem>_web_model/`: model.json, the shards, metadata.yaml (Ultralytics' yaml_save of the metadata). */
function writeTfjsFolder(dir: string, tj: TfjsModel, metadata: ExportMetadata) {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of tj.shards) writeFileAtomic(join(dir, name), [bytes]);
  writeFileAtomic(join(dir, 'model.json'), [new TextEncoder().encode(JSON.stringify(tj.json))]);
  writeFileAtomic(join(dir, 'metadata.yaml'), [new TextEncoder().encode(metadataYaml(metadata))]);
}

/** yaml.safe_dump(metadata, sort_keys=False) as Ultralytics' yaml_save writes it (names with int keys). */
export function metadataYaml(m: ExportMetadata): string {
  const doc = { ...m, names: new Map(Object.entries(m.names).map(([k, v]) => [Number(k), v])) };
  return YAML.stringify(doc, { indentSeq: false, lineWidth: 0 });
}

const mbDir = (d: string) =>
  (existsSync(d) ? readdirSync(d).reduce((s, f) => s + statSync(join(d, f)).size, 0) / (1 << 20) : 0).toFixed(1);

/**
 * The TorchScript archive of `model` at a fixed batch and imgsz (BatchNorm folded), with
 * Ultralytics' metadata as extra/config.txt (json.dumps). `file` names the archive's folder (its stem).
 */
export async function buildTorchScript(
  model: PoseModel,
  args: ExportArgs,
  src: ExportSource,
  file = 'model.torchscript',
): Promise<{ chunks: Uint8Array[]; metadata: ExportMetadata; module: TorchScriptModule }> {
  const { batch, imgsz, g, weights, read } = await prepareGraph(model, args);
  const module = lowerToTorchScript(g, { read, weight: (n) => weights.get(n)?.data });
  const metadata = exportMetadata(model, src, batch, imgsz);
  const archive = basename(file, extname(file)).replace(/[^\w.-]/g, '_') || 'archive';
  return { chunks: torchScriptArchive(module, archive, { 'config.txt': pyJsonDumps(metadata) }), metadata, module };
}
