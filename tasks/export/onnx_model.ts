// An exported pose model (.onnx) as a model the predictor and validator can use, like
// Ultralytics' AutoBackend for ONNX: names, stride, imgsz, batch and kpt_shape come from the
// metadata_props the exporter wrote; predict(x) runs the graph through the engine (OnnxSession).
//
// A model exported with a fixed input (dynamic=False) only takes that shape. Ultralytics feeds it
// images letterboxed to the full square imgsz (auto=False) in batches of the exported size; here
// predict() accepts the smaller, stride-aligned letterboxed input the predictor makes and centres
// it in the fixed size with the letterbox grey (114) — which is exactly the auto=False letterbox,
// because both letterboxes centre the resized image and the extra is a multiple of the stride on
// each axis — runs it in chunks of the exported batch, and shifts x and y back, so boxes and
// keypoints come out in the caller's input pixels.
//
// Imports: engine, ./onnx_runtime, ./metadata.

import { Tensor, add, concat, full, narrow, tensor, tidy, type Device } from '../../engine/index.js';
import { OnnxSession } from './onnx_runtime.js';
import { readMetadata } from './metadata.js';

export class OnnxPoseModel {
  readonly names: Record<number, string>;
  readonly stride: number[];
  readonly kptShape: [number, number];
  /** the exported input size [h, w] (metadata imgsz, else the input's declared dims) */
  readonly imgsz: [number, number];
  /** the exported batch size (1 unless exported with batch=) */
  readonly batch: number;
  /** symbolic height and width: any stride-aligned input runs as it is */
  readonly dynamic: boolean;
  readonly metadata: Record<string, unknown>;
  /** Ultralytics' AutoBackend.pt: false for exported models */
  readonly pt = false;

  constructor(
    readonly session: OnnxSession,
    readonly file: string,
  ) {
    const md = readMetadata(session.proto.metadata_props, file);
    this.metadata = md;
    if (md.task && md.task !== 'pose') throw new Error(`${file}: a '${md.task}' model; this toolkit runs pose models`);
    const input = session.inputNames[0];
    const dims = session.inputDims.get(input) ?? [];
    if (session.inputNames.length !== 1 || dims.length !== 4)
      throw new Error(
        `${file}: expected one (B, 3, H, W) input, found ${session.inputNames.length} input(s) '${session.inputNames.join("', '")}' of rank ${dims.length}`,
      );
    const kpt = md.kpt_shape as unknown;
    if (!Array.isArray(kpt) || kpt.length !== 2)
      throw new Error(`${file}: no kpt_shape in the metadata (not a pose model exported by Ultralytics or yolo-ts?)`);
    this.kptShape = [Number(kpt[0]), Number(kpt[1])];
    this.names = (md.names as Record<number, string> | undefined) ?? { 0: 'person' };
    this.stride = [md.stride ?? 32];
    this.dynamic = typeof dims[2] !== 'number' || typeof dims[3] !== 'number' || !dims[2] || !dims[3];
    const mi = md.imgsz as unknown;
    this.imgsz =
      Array.isArray(mi) && mi.length === 2
        ? [Number(mi[0]), Number(mi[1])]
        : this.dynamic
          ? [640, 640]
          : [dims[2] as number, dims[3] as number];
    this.batch = typeof dims[0] === 'number' && dims[0] > 0 ? dims[0] : (md.batch ?? 1);
    if (!this.dynamic && (dims[2] !== this.imgsz[0] || dims[3] !== this.imgsz[1]))
      throw new Error(`${file}: metadata imgsz [${this.imgsz}] disagrees with the input shape [${dims.join(', ')}]`);
  }

  static load(file: string, device: Device): OnnxPoseModel {
    return new OnnxPoseModel(OnnxSession.load(file, device), file);
  }

  /** What AutoBackend prints when it opens an exported model (a PoseModel prints its summary here). */
  info(_imgsz?: number | [number, number], opts: { verbose?: boolean } = {}): { line: string } {
    const line = `Loading ${this.file} for ONNX inference through the engine (${this.session.device.type})...`;
    if (opts.verbose ?? true) console.log(line);
    return { line };
  }

  get device(): Device {
    return this.session.device;
  }

  /** (B, 3, h, w) in [0, 1] -> (B, 4 + nc + K * ndim, A), boxes and keypoints in the input's pixels. */
  predict(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== 3)
      throw new Error(`${this.file}: expected a (B, 3, H, W) input, got [${x.shape.join(', ')}]`);
    const fixedBatch = typeof this.session.inputDims.get(this.session.inputNames[0])![0] === 'number';
    const [B, , h, w] = x.shape;
    const [H, W] = this.imgsz;
    if (this.dynamic && !fixedBatch) return this.run(x);
    if (!this.dynamic && (h > H || w > W || (H - h) % 2 || (W - w) % 2))
      throw new Error(
        `${this.file}: this model takes a fixed input of (${this.batch}, 3, ${H}, ${W}) (exported without dynamic=True); got (${x.shape.join(', ')}). Use imgsz=${Math.max(H, W)}, or export with dynamic=True`,
      );
    return tidy(() => {
      const top = this.dynamic ? 0 : (H - h) / 2,
        left = this.dynamic ? 0 : (W - w) / 2;
      const padded = top || left ? this.pad(x, top, left) : x;
      const outs: Tensor[] = [];
      for (let b = 0; b < B; b += this.batch) {
        const n = Math.min(this.batch, B - b);
        let chunk = narrow(padded, 0, b, n);
        if (n < this.batch)
          chunk = concat([chunk, full([this.batch - n, ...chunk.shape.slice(1)], 114 / 255, { device: x.device })], 0);
        const y = this.run(chunk);
        outs.push(n < this.batch ? narrow(y, 0, 0, n) : y);
      }
      const y = outs.length === 1 ? outs[0] : concat(outs, 0);
      return top || left ? this.unshift(y, top, left) : y;
    });
  }

  private run(x: Tensor): Tensor {
    return this.session.run({ [this.session.inputNames[0]]: x })[0];
  }

  /** Centres (B, 3, h, w) in (B, 3, h + 2 top, w + 2 left) filled with the letterbox grey. */
  private pad(x: Tensor, top: number, left: number): Tensor {
    const [B, C, h, w] = x.shape,
      grey = 114 / 255,
      dev = x.device;
    let y = x;
    if (left)
      y = concat([full([B, C, h, left], grey, { device: dev }), y, full([B, C, h, left], grey, { device: dev })], 3);
    if (top)
      y = concat(
        [
          full([B, C, top, w + 2 * left], grey, { device: dev }),
          y,
          full([B, C, top, w + 2 * left], grey, { device: dev }),
        ],
        2,
      );
    return y;
  }

  /** Moves box centres and keypoint x, y from padded-input pixels back to the caller's input pixels. */
  private unshift(y: Tensor, top: number, left: number): Tensor {
    const C = y.shape[1],
      [K, ndim] = this.kptShape,
      nc = C - 4 - K * ndim;
    const off = new Float32Array(C);
    off[0] = -left;
    off[1] = -top;
    for (let k = 0; k < K; k++) ((off[4 + nc + k * ndim] = -left), (off[4 + nc + k * ndim + 1] = -top));
    return add(y, tensor(off, [1, C, 1], { device: y.device }));
  }

  dispose() {
    this.session.dispose();
  }
}
