// A reader for ncnn's model files written from ncnn's published format (docs: param-and-model-file-
// structure, operation-param-weight-table): the .param grammar (magic 7767517, "layer_count
// blob_count", then per layer `type name inputs outputs blobs... id=value ...`, array values as
// `-233xx=n,v1,...,vn`), and the .bin walked layer by layer with ModelBin's rules (a weight behind a
// 4-byte tag: 0 float32, 0x01306B47 float16 padded to 4 bytes; biases and MemoryData raw float32).
//
// readNcnn checks the structure as it goes: every blob written by one layer and read by at most one
// (ncnn's rule; a Split copies a blob), nothing read before it is written, each layer's output shape
// (from the input shape), weight sizes against those shapes, each weight's byte range inside the
// .bin and the .bin used exactly. A layer type it does not know is an error naming it and the file.
//
// Imports: engine (fp16).
import { f16ToF32 } from '../../engine/io/safetensors.js';
import { NCNN_MAGIC, NCNN_TAG_FP16 } from './ncnn_lower.js';

export type ParamValue = number | number[];

export interface NcnnLayer {
  type: string;
  name: string;
  inputs: string[];
  outputs: string[];
  params: Map<number, ParamValue>;
  /** weights read from the .bin (Convolution: weight, bias; MemoryData: data) */
  weights: Float32Array[];
  /** byte ranges of those weights in the .bin, tags included */
  ranges: [number, number][];
  /** 'fp16' when a weight was stored as float16 */
  storage?: 'fp32' | 'fp16';
}

export interface NcnnModel {
  layers: NcnnLayer[];
  blobCount: number;
  /** every blob's shape without the batch axis, torch order ((c, h, w), (h, w) or (w)) */
  shapes: Map<string, number[]>;
}

const SUPPORTED = [
  'Input',
  'Convolution',
  'ConvolutionDepthWise',
  'Swish',
  'Sigmoid',
  'BinaryOp',
  'Concat',
  'Slice',
  'Crop',
  'Pooling',
  'Interp',
  'Reshape',
  'Permute',
  'Softmax',
  'MemoryData',
  'Split',
];

export function parseNcnnParam(text: string, file: string): { layers: NcnnLayer[]; blobCount: number } {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length);
  const fail = (line: number, why: string): never => {
    throw new Error(`${file}: line ${line + 1}: ${why}`);
  };
  if (Number(lines[0]) !== NCNN_MAGIC)
    fail(0, `expected the ncnn magic ${NCNN_MAGIC}, found '${lines[0]?.slice(0, 20)}'`);
  const counts = (lines[1] ?? '').split(/\s+/).map(Number);
  if (counts.length !== 2 || !counts.every(Number.isInteger)) fail(1, `expected 'layer_count blob_count'`);
  const [layerCount, blobCount] = counts;
  if (lines.length - 2 !== layerCount) fail(1, `header says ${layerCount} layers, the file has ${lines.length - 2}`);
  const layers = lines.slice(2).map((l, k): NcnnLayer => {
    const tok = l.split(/\s+/);
    const [type, name] = tok;
    const nin = Number(tok[2]),
      nout = Number(tok[3]);
    if (!type || !name || !Number.isInteger(nin) || !Number.isInteger(nout))
      fail(k + 2, `expected 'type name input_count output_count ...'`);
    const blobs = tok.slice(4, 4 + nin + nout);
    if (blobs.length !== nin + nout || blobs.some((b) => b.includes('=')))
      fail(k + 2, `layer '${name}' lists fewer blobs than ${nin} + ${nout}`);
    const params = new Map<number, ParamValue>();
    for (const kv of tok.slice(4 + nin + nout)) {
      const m = /^(-?\d+)=(.+)$/.exec(kv);
      if (!m) fail(k + 2, `layer '${name}': '${kv}' is not id=value`);
      const id = Number(m![1]);
      const num = (s: string) => {
        const v = Number(s);
        if (!Number.isFinite(v)) fail(k + 2, `layer '${name}': '${kv}' is not a number`);
        return v;
      };
      if (id <= -23300) {
        const vals = m![2].split(',').map(num);
        if (vals[0] !== vals.length - 1)
          fail(k + 2, `layer '${name}': array ${id} says ${vals[0]} values, has ${vals.length - 1}`);
        params.set(-id - 23300, vals.slice(1));
      } else params.set(id, num(m![2]));
    }
    return { type, name, inputs: blobs.slice(0, nin), outputs: blobs.slice(nin), params, weights: [], ranges: [] };
  });
  return { layers, blobCount };
}

/** Decodes and checks model.ncnn.param + model.ncnn.bin for an input blob of shape (3, H, W). */
export function readNcnn(paramText: string, bin: Uint8Array, inputShape: number[], file: string): NcnnModel {
  const { layers, blobCount } = parseNcnnParam(paramText, file);
  const shapes = new Map<string, number[]>();
  const readBy = new Map<string, string>();
  const dv = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  let off = 0;
  for (const l of layers) {
    const where = `${file}: layer '${l.name}' (${l.type})`;
    if (!SUPPORTED.includes(l.type))
      throw new Error(
        `${file}: layer '${l.name}' uses the ncnn layer type '${l.type}', which this importer does not implement (it implements ${SUPPORTED.join(', ')})`,
      );
    const p = (id: number, dflt: number) => {
      const v = l.params.get(id);
      if (Array.isArray(v)) throw new Error(`${where}: param ${id} is an array, expected a number`);
      return v ?? dflt;
    };
    const arr = (id: number) => {
      const v = l.params.get(id);
      return Array.isArray(v) ? v : v === undefined ? [] : [v];
    };
    const ins = l.inputs.map((b) => {
      const s = shapes.get(b);
      if (!s) throw new Error(`${where}: reads blob '${b}' before any layer writes it`);
      if (readBy.has(b))
        throw new Error(
          `${where}: blob '${b}' is already read by '${readBy.get(b)}' (ncnn needs a Split for a blob read twice)`,
        );
      readBy.set(b, l.name);
      return s;
    });
    const take = (bytes: number, what: string) => {
      if (off + bytes > bin.byteLength)
        throw new Error(`${where}: ${what} needs bytes ${off}..${off + bytes} but the .bin has ${bin.byteLength}`);
      l.ranges.push([off, off + bytes]);
      off += bytes;
      return off - bytes;
    };
    const rawF32 = (n: number, what: string) => {
      const at = take(4 * n, what);
      return new Float32Array(bin.slice(at, at + 4 * n).buffer);
    };
    const tagged = (n: number, what: string) => {
      if (off + 4 > bin.byteLength) throw new Error(`${where}: ${what} tag is past the end of the .bin`);
      const tag = dv.getUint32(off, true);
      if (tag === 0) {
        const at = take(4 + 4 * n, what);
        l.storage = 'fp32';
        return new Float32Array(bin.slice(at + 4, at + 4 + 4 * n).buffer);
      }
      if (tag === NCNN_TAG_FP16) {
        const at = take(4 + ((2 * n + 3) & ~3), what);
        l.storage = 'fp16';
        return f16ToF32(new Uint16Array(bin.slice(at + 4, at + 4 + 2 * n).buffer));
      }
      throw new Error(
        `${where}: ${what} has storage tag 0x${tag.toString(16)} at byte ${off}; this importer reads float32 (0) and float16 (0x01306b47)`,
      );
    };
    const one = () => {
      if (ins.length !== 1) throw new Error(`${where}: expected 1 input, has ${ins.length}`);
      return ins[0];
    };
    let outs: number[][];
    switch (l.type) {
      case 'Input':
        outs = [inputShape];
        break;
      case 'Convolution':
      case 'ConvolutionDepthWise': {
        const x = one();
        if (x.length !== 3) throw new Error(`${where}: input of rank ${x.length}, expected (c, h, w)`);
        const O = p(0, 0),
          kw = p(1, 0),
          kh = p(11, kw),
          dw = p(2, 1),
          dh = p(12, dw),
          sw = p(3, 1),
          sh = p(13, sw);
        const pl = p(4, 0),
          pt = p(14, pl),
          pr = p(15, pl),
          pb = p(16, pt),
          group = l.type === 'Convolution' ? 1 : p(7, 1);
        if (pl !== pr || pt !== pb || pl < 0)
          throw new Error(`${where}: asymmetric or 'same' padding (${pl},${pr},${pt},${pb}) is not implemented`);
        const size = p(6, 0),
          expect = O * (x[0] / group) * kh * kw;
        if (size !== expect)
          throw new Error(
            `${where}: weight_data_size ${size}, expected ${O} x ${x[0] / group} x ${kh} x ${kw} = ${expect} for an input of ${x[0]} channels`,
          );
        l.weights.push(tagged(size, 'weight'));
        if (p(5, 0)) l.weights.push(rawF32(O, 'bias'));
        const act = p(9, 0);
        if (act !== 0 && act !== 4)
          throw new Error(`${where}: activation_type ${act} is not implemented (0 none, 4 sigmoid are)`);
        const o = (n: number, k: number, d: number, s: number, pad: number) =>
          Math.floor((n + 2 * pad - d * (k - 1) - 1) / s) + 1;
        outs = [[O, o(x[1], kh, dh, sh, pt), o(x[2], kw, dw, sw, pl)]];
        break;
      }
      case 'Swish':
      case 'Sigmoid':
      case 'Softmax':
        outs = [one()];
        break;
      case 'Split':
        outs = l.outputs.map(() => one());
        break;
      case 'BinaryOp': {
        const op = p(0, 0);
        if (![0, 1, 2, 3, 7, 8].includes(op))
          throw new Error(`${where}: op_type ${op} is not implemented (add, sub, mul, div, rsub, rdiv are)`);
        outs = [p(1, 0) ? one() : broadcast(ins[0], ins[1], where)];
        break;
      }
      case 'Concat': {
        const r = ins[0].length,
          axis = (p(0, 0) + r) % r;
        outs = [ins[0].map((d, k) => (k === axis ? ins.reduce((s, x) => s + x[k], 0) : d))];
        if (ins.some((x) => x.length !== r || x.some((d, k) => k !== axis && d !== ins[0][k])))
          throw new Error(`${where}: inputs [${ins.map((s) => s.join('x')).join(', ')}] do not agree off axis ${axis}`);
        break;
      }
      case 'Slice': {
        const x = one(),
          axis = (p(1, 0) + x.length) % x.length,
          sizes = arr(0);
        const known = sizes.filter((s) => s !== -233).reduce((a, b) => a + b, 0);
        const full = sizes.map((s) => (s === -233 ? x[axis] - known : s));
        if (full.reduce((a, b) => a + b, 0) !== x[axis] || full.length !== l.outputs.length)
          throw new Error(
            `${where}: slices [${sizes}] do not cover ${x[axis]} along axis ${axis} in ${l.outputs.length} pieces`,
          );
        outs = full.map((s) => x.map((d, k) => (k === axis ? s : d)));
        break;
      }
      case 'Crop': {
        const x = one(),
          [st] = arr(9),
          [en] = arr(10),
          [ax] = arr(11);
        if (st === undefined || en === undefined || ax === undefined || !(st >= 0 && en <= x[ax] && st < en))
          throw new Error(
            `${where}: only one-axis crops with starts/ends/axes (-23309/-23310/-23311) inside the blob are implemented`,
          );
        outs = [x.map((d, k) => (k === ax ? en - st : d))];
        break;
      }
      case 'Pooling': {
        const x = one(),
          kw = p(1, 0),
          kh = p(11, kw),
          sw = p(2, 1),
          sh = p(12, sw),
          pl = p(3, 0),
          pr = p(14, pl),
          pt = p(13, pl),
          pb = p(15, pt);
        if (p(0, 0) !== 0 || p(4, 0) || p(5, 0) !== 1 || pl !== pr || pt !== pb)
          throw new Error(`${where}: only max pooling with symmetric pads and pad_mode 1 (valid) is implemented`);
        outs = [[x[0], Math.floor((x[1] + 2 * pt - kh) / sh) + 1, Math.floor((x[2] + 2 * pl - kw) / sw) + 1]];
        break;
      }
      case 'Interp': {
        const x = one(),
          hs = p(1, 1),
          ws = p(2, 1);
        if (p(0, 0) !== 1 || !Number.isInteger(hs) || !Number.isInteger(ws) || l.params.has(3) || l.params.has(4))
          throw new Error(`${where}: only nearest resizing by whole scales is implemented`);
        outs = [[x[0], x[1] * hs, x[2] * ws]];
        break;
      }
      case 'Reshape': {
        const x = one(),
          w = p(0, -233),
          h = p(1, -233),
          d = p(11, -233),
          c = p(2, -233);
        const dims = h === -233 ? [w] : c === -233 ? [h, w] : d === -233 ? [c, h, w] : [c, d, h, w];
        const n = x.reduce((a, b) => a * b, 1);
        const known = dims.filter((v) => v !== -1).reduce((a, b) => a * b, 1);
        const s = dims.map((v) => (v === -1 ? n / known : v));
        if (s.reduce((a, b) => a * b, 1) !== n)
          throw new Error(`${where}: cannot reshape ${x.join('x')} to ${dims.join('x')}`);
        outs = [s];
        break;
      }
      case 'Permute': {
        const x = one(),
          axes = PERMUTE_AXES[x.length]?.[p(0, 0)];
        if (!axes) throw new Error(`${where}: order_type ${p(0, 0)} for a rank-${x.length} blob is not implemented`);
        outs = [axes.map((a) => x[a])];
        break;
      }
      case 'MemoryData': {
        const w = p(0, 0),
          h = p(1, 0),
          d = p(11, 0),
          c = p(2, 0);
        const s = [c, d, h, w].filter((v, k) => v > 0 || k === 3);
        l.weights.push(
          rawF32(
            s.reduce((a, b) => a * b, 1),
            'data',
          ),
        );
        outs = [s];
        break;
      }
      default:
        throw new Error(`${where}: unreachable`);
    }
    if (outs.length !== l.outputs.length)
      throw new Error(`${where}: writes ${l.outputs.length} blobs, expected ${outs.length}`);
    l.outputs.forEach((b, k) => {
      if (shapes.has(b)) throw new Error(`${where}: writes blob '${b}', which another layer already wrote`);
      shapes.set(b, outs[k]);
    });
  }
  if (shapes.size !== blobCount)
    throw new Error(`${file}: header says ${blobCount} blobs, the layers write ${shapes.size}`);
  if (off !== bin.byteLength)
    throw new Error(`${file}: the layers use ${off} bytes of the .bin, which has ${bin.byteLength}`);
  return { layers, blobCount, shapes };
}

/** Permute order_type -> the torch axes of the output, by rank (ncnn's Permute layer table). */
export const PERMUTE_AXES: Record<number, Record<number, number[]>> = {
  2: { 0: [0, 1], 1: [1, 0] },
  3: { 0: [0, 1, 2], 1: [0, 2, 1], 2: [1, 0, 2], 3: [1, 2, 0], 4: [2, 0, 1], 5: [2, 1, 0] },
};

function broadcast(a: number[], b: number[], where: string): number[] {
  const r = Math.max(a.length, b.length),
    out: number[] = [];
  for (let k = 0; k < r; k++) {
    const x = a[a.length - r + k] ?? 1,
      y = b[b.length - r + k] ?? 1;
    if (x !== y && x !== 1 && y !== 1)
      throw new Error(`${where}: shapes ${a.join('x')} and ${b.join('x')} do not broadcast`);
    out.push(Math.max(x, y));
  }
  return out;
}
