// model.info(): the one-line summary Ultralytics prints (torch_utils.model_info), and GFLOPs
// counted as its get_flops counts them with thop, from the traced graph (engine/graph/flops.ts has
// thop's rules). get_flops profiles one (1, 3, s, s) image with s = max(32, largest stride), doubles
// thop's count, and scales the result linearly to the requested size.
import type { Module } from '../nn/module.js';
import { traceModule, type Graph } from '../engine/graph/index.js';
import { graphOps } from '../engine/graph/flops.js';

export interface ModelInfo {
  line: string;
  layers: number;
  parameters: number;
  gradients: number;
  gflops: number;
}

interface Summarizable extends Module {
  readonly yaml: { yaml_file: string };
  readonly stride: number[];
  readonly isFused: boolean;
}

/** GFLOPs at imgsz (a number or [h, w]), as Ultralytics' get_flops. */
export function getFlops(model: Summarizable, imgsz: number | [number, number] = 640): number {
  const [h, w] = typeof imgsz === 'number' ? [imgsz, imgsz] : imgsz;
  const s = Math.max(Math.max(...model.stride), 32);
  const ops = graphOps(traceEval(model, [1, 3, s, s])).total;
  return ((ops / 1e9) * 2 * h * w) / (s * s);
}

/** The model's graph in eval mode (thop profiles the whole head, DFL included), its modes restored after. */
export function traceEval(model: Module, shape: number[]): Graph {
  const modes = model.modules().map((m) => [m, m.training] as const);
  model.eval();
  try {
    return traceModule(model, [shape]);
  } finally {
    for (const [m, t] of modes) m.training = t;
  }
}

export function modelInfo(model: Summarizable, imgsz: number | [number, number] = 640): ModelInfo {
  const params = model.parameters();
  const count = (ts: typeof params) => ts.reduce((s, t) => s + t.numel, 0);
  const layers = model.modules().length; // len(list(model.modules())): shared modules once
  const parameters = count(params);
  const gradients = count(params.filter((p) => p.requiresGrad));
  const gflops = getFlops(model, imgsz);
  const name =
    model.yaml.yaml_file
      .replace(/^.*[\\/]/, '')
      .replace(/\.[^.]*$/, '')
      .replace('yolo', 'YOLO') || 'Model';
  const n = (v: number) => v.toLocaleString('en-US');
  const line = `${name} summary${model.isFused ? ' (fused)' : ''}: ${n(layers)} layers, ${n(parameters)} parameters, ${n(gradients)} gradients, ${gflops.toFixed(1)} GFLOPs`;
  return { line, layers, parameters, gradients, gflops };
}
