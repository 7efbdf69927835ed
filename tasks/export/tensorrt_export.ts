// `yolo export format=engine` (TensorRT) as a guided step. TensorRT's builder needs NVIDIA's
// libraries and GPU, so this writes the ONNX that Ultralytics' export_engine parses (its own ONNX
// export: float32 weights, dynamic when dynamic=True or int8) and gives the one trtexec command that
// builds the same engine (workspace, FP16 flag, and for dynamic the optimization profile Ultralytics
// sets: min 1x3x32x32, opt the export shape, max the export batch with each side x max(1, workspace)).
// When a WebGPU adapter reports an NVIDIA GPU and trtexec is on PATH, it runs it and writes the
// .engine as Ultralytics does: 4-byte little-endian metadata length, the metadata JSON, the plan.
//
// Imports: node, engine (devices), models (type), ./exporter.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { openWebGPU } from '../../engine/index.js';
import { writeFileAtomic } from '../../engine/io/zip.js';
import { buildOnnx, exportPath, DEFAULT_OPSET, type ExportArgs, type ExportSource } from './exporter.js';

export interface TrtPlan {
  onnx: string;
  engine: string;
  command: string[];
}

/** The trtexec command that builds Ultralytics' engine from `onnx`. */
export function trtexecCommand(
  onnx: string,
  engine: string,
  o: { half: boolean; dynamic: boolean; workspace: number; batch: number; imgsz: [number, number] },
): string[] {
  const mib = Math.round(o.workspace * 1024);
  const cmd = ['trtexec', `--onnx=${onnx}`, `--saveEngine=${engine}`, `--memPoolSize=workspace:${mib}M`];
  if (o.half) cmd.push('--fp16');
  if (o.dynamic) {
    const k = Math.max(1, o.workspace),
      [h, w] = o.imgsz;
    cmd.push(
      `--minShapes=images:1x3x32x32`,
      `--optShapes=images:${o.batch}x3x${h}x${w}`,
      `--maxShapes=images:${o.batch}x3x${h * k}x${w * k}`,
    );
  }
  return cmd;
}

export async function exportTensorRt(
  model: PoseModel,
  args: ExportArgs,
  src: ExportSource,
  log: (s: string) => void,
): Promise<string> {
  if (args.int8)
    throw new Error(
      "export: int8=True for format='engine' needs TensorRT's INT8 calibrator fed with images from data= (Ultralytics' EngineCalibrator inside TensorRT's Python API), which this toolkit does not run; build FP16 with half=True",
    );
  const workspace = args.workspace ?? 4; // Ultralytics' default: 4 GB
  const dynamic = !!args.dynamic,
    batch = args.batch ?? 1;
  if (dynamic && batch <= 1) log("TensorRT: WARNING ⚠️ 'dynamic=True' model requires max batch size, i.e. 'batch=16'");
  const t0 = performance.now();
  const ex = await buildOnnx(model, { ...args, half: false, dynamic, opset: args.opset ?? DEFAULT_OPSET }, src); // the ONNX export_engine parses: float32
  const onnx = exportPath(src.file, '.onnx'),
    engine = exportPath(src.file, '.engine');
  writeFileAtomic(onnx, [ex.bytes]);
  log(
    `\nONNX: export success ✅ ${((performance.now() - t0) / 1000).toFixed(1)}s, saved as '${onnx}' (${(ex.bytes.byteLength / (1 << 20)).toFixed(1)} MB)`,
  );
  const cmd = trtexecCommand(onnx, engine, { half: !!args.half, dynamic, workspace, batch, imgsz: ex.metadata.imgsz });
  const gpu = await openWebGPU();
  const nvidia = !!gpu && /nvidia/i.test(gpu.name);
  const onPath = spawnSync('trtexec', ['--help'], { encoding: 'utf8' }).error === undefined;
  if (!nvidia || !onPath) {
    log(
      `TensorRT: ${!onPath ? 'trtexec is not on PATH' : 'no NVIDIA GPU adapter'}; build the ${args.half ? 'FP16' : 'FP32'} engine on an NVIDIA GPU with: ${cmd.join(' ')}`,
    );
    return onnx;
  }
  log(`TensorRT: building ${args.half ? 'FP16' : 'FP32'} engine as ${engine}: ${cmd.join(' ')}`);
  const plan = `${engine}.plan`;
  const r = spawnSync(cmd[0], [...cmd.slice(1, 2), `--saveEngine=${plan}`, ...cmd.slice(3)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.status !== 0 || !existsSync(plan))
    throw new Error(`TensorRT: trtexec failed (exit ${r.status}): ${(r.stderr || r.stdout || '').slice(-800)}`);
  const meta = new TextEncoder().encode(JSON.stringify(ex.metadata));
  const len = new Uint8Array(4);
  new DataView(len.buffer).setInt32(0, meta.byteLength, true);
  writeFileSync(engine, Buffer.concat([len, meta, readFileSync(plan)]));
  rmSync(plan);
  log(`TensorRT: export success ✅ ${((performance.now() - t0) / 1000).toFixed(1)}s, saved as '${engine}'`);
  return engine;
}
