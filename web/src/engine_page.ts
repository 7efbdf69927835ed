// The engine in a page: the same YOLO class, Predictor and loaders as Node, fed from the browser.
// Files (shaders, package.json, checkpoints, dropped models) live in the in-memory file tree of
// ./platform/fs.ts; images arrive as bytes (fetch, File) and are decoded by our own decoders
// (JPEG, BMP, TIFF: tasks/data/image.ts) or, for PNG, by createImageBitmap without colour
// conversion (a lossless format: the same pixels pngjs gives in Node).
import './boot.js'; // first: the shared modules read package.json while they load
import { putFile } from './platform/fs.js';
import { getDevice, openWebGPU, cpu, type Device } from '../../engine/index.js';
import { decodeImage, type RgbImage } from '../../tasks/data/image.js';
import { YOLO } from '../../tasks/yolo.js';
import { Predictor } from '../../tasks/predict/predictor.js';
import type { PredictArgs, Results } from '../../tasks/yolo.js';

export interface DeviceChoice {
  device: Device;
  /** why the page runs on the cpu engine, when it does */
  fallback: string | null;
}

/** WebGPU through navigator.gpu when the browser has an adapter, else the cpu engine with a reason. */
export async function pickDevice(): Promise<DeviceChoice> {
  if (!('gpu' in navigator))
    return {
      device: cpu,
      fallback:
        'This browser has no WebGPU (navigator.gpu is missing): running on the cpu engine, which is much slower. Use a recent Chrome/Edge, or Firefox/Safari with WebGPU enabled.',
    };
  const gpu = await openWebGPU().catch((e: Error) => {
    console.warn(`WebGPU device request failed: ${e.message}`);
    return null;
  });
  if (!gpu)
    return {
      device: cpu,
      fallback:
        'WebGPU is present but gave no adapter (blocked GPU or driver): running on the cpu engine, which is much slower.',
    };
  return { device: await getDevice(gpu), fallback: null };
}

const MODEL_EXT = ['.pt', '.safetensors', '.onnx'];

/** A model file's bytes into the file tree, then the YOLO class loads it as in Node. Errors name the file. */
export async function loadModel(name: string, bytes: Uint8Array, device: Device): Promise<YOLO> {
  const ext = name.slice(name.lastIndexOf('.')).toLowerCase();
  if (!MODEL_EXT.includes(ext)) throw new Error(`${name}: not a model file (expected ${MODEL_EXT.join(', ')})`);
  if (!bytes.length) throw new Error(`${name}: empty file`);
  const path = putFile(`/models/${name.replace(/[^\w.-]/g, '_')}`, bytes);
  const model = new YOLO(path);
  try {
    await model.load(device);
  } catch (e) {
    // errors name the in-memory path; the user knows the file by its own name
    const msg = (e as Error).message.split(path).join(name);
    throw new Error(msg.includes(name) ? msg : `${name}: ${msg}`);
  }
  return model;
}

/** Image bytes to RGB: PNG through the browser (lossless), everything else through our decoders. */
export async function decodeBytes(bytes: Uint8Array, name: string): Promise<RgbImage> {
  const isPng = bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  if (!isPng) return decodeImage(bytes, name);
  let bmp: ImageBitmap;
  try {
    bmp = await createImageBitmap(new Blob([bytes as BlobPart], { type: 'image/png' }), {
      colorSpaceConversion: 'none',
      premultiplyAlpha: 'none',
    });
  } catch (e) {
    throw new Error(`${name}: corrupt PNG data (${(e as Error).message})`);
  }
  const c = new OffscreenCanvas(bmp.width, bmp.height);
  const ctx = c.getContext('2d')!;
  ctx.drawImage(bmp, 0, 0);
  const rgba = ctx.getImageData(0, 0, bmp.width, bmp.height).data;
  const data = new Uint8Array(bmp.width * bmp.height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    data[j] = rgba[i];
    data[j + 1] = rgba[i + 1];
    data[j + 2] = rgba[i + 2];
  }
  return { width: bmp.width, height: bmp.height, data };
}

/** A frame (video, webcam) from a canvas-drawable source to RGB. */
export function grabFrame(src: CanvasImageSource, width: number, height: number): RgbImage {
  const c = new OffscreenCanvas(width, height);
  const ctx = c.getContext('2d')!;
  ctx.drawImage(src, 0, 0, width, height);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    data[j] = rgba[i];
    data[j + 1] = rgba[i + 1];
    data[j + 2] = rgba[i + 2];
  }
  return { width, height, data };
}

/**
 * One image through the Predictor's three stages, the code path of Node's `YOLO.predict` for one
 * image. A Predictor is only its arguments, so one per call is cheap; unlike YOLO.predict it does
 * not warm up with a blank forward every call (a page calls it once per video frame).
 */
export async function predictImage(
  model: YOLO,
  img: RgbImage,
  args: PredictArgs,
  name = 'image0.jpg',
): Promise<Results> {
  if (!model.model || !model.device) throw new Error('predict: no model loaded');
  const p = new Predictor(model.model, model.device, { verbose: false, save: false, ...args });
  return p.predictImage(img, name);
}

/** Results as plain JSON (what the test compares with Node's). */
export function resultsJson(r: Results) {
  return {
    shape: [r.origShape[0], r.origShape[1]],
    xyxy: r.boxes.xyxy,
    conf: r.boxes.conf,
    cls: r.boxes.cls,
    kpts: r.keypoints?.xy ?? [],
    kconf: r.keypoints?.conf ?? [],
    speed: r.speed,
  };
}

/** RGB to the canvas (drawn at the image's own size). */
export function blit(canvas: HTMLCanvasElement, img: RgbImage) {
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d')!;
  const out = ctx.createImageData(img.width, img.height);
  for (let i = 0, j = 0; j < img.data.length; i += 4, j += 3) {
    out.data[i] = img.data[j];
    out.data[i + 1] = img.data[j + 1];
    out.data[i + 2] = img.data[j + 2];
    out.data[i + 3] = 255;
  }
  ctx.putImageData(out, 0, 0);
}
