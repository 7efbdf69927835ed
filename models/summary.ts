// model.info(): the one-line summary Ultralytics prints (torch_utils.model_info), and GFLOPs
// counted as its get_flops counts them with thop.
//
// thop's rules, which the layers' `profile` methods follow: a Conv2d costs output elements x
// (in / groups) x k x k (bias ignored); a BatchNorm2d 4 x input elements; SiLU, max-pool, nearest
// upsample, concat, residual adds and the decoding arithmetic cost nothing. get_flops profiles one
// (1, 3, s, s) image with s = max(32, largest stride), doubles thop's count, and scales the result
// linearly to the requested size.
import type { Module } from '../nn/module.js';

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
  const counter = { ops: 0 };
  model.profile([1, 3, s, s], counter);
  return ((counter.ops / 1e9) * 2 * h * w) / (s * s);
}

export function modelInfo(model: Summarizable, imgsz: number | [number, number] = 640): ModelInfo {
  const params = model.parameters();
  const count = (ts: typeof params) => ts.reduce((s, t) => s + t.numel, 0);
  const layers = model.modules().length; // len(list(model.modules())): shared modules once
  const parameters = count(params);
  const gradients = count(params.filter((p) => p.requiresGrad));
  const gflops = getFlops(model, imgsz);
  const name = model.yaml.yaml_file.replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '').replace('yolo', 'YOLO') || 'Model';
  const n = (v: number) => v.toLocaleString('en-US');
  const line = `${name} summary${model.isFused ? ' (fused)' : ''}: ${n(layers)} layers, ${n(parameters)} parameters, ${n(gradients)} gradients, ${gflops.toFixed(1)} GFLOPs`;
  return { line, layers, parameters, gradients, gflops };
}
