// ncnn's model files (model.ncnn.param + model.ncnn.bin) from a fixed-size traced graph, with the
// layers, names and param ids that pnnx (ncnn's PyTorch converter, which Ultralytics' ncnn export
// runs) writes for these PyTorch ops:
//
//   conv2d -> Convolution (ConvolutionDepthWise when grouped) + Swish for a fused SiLU
//   | silu -> Swish | sigmoid -> Sigmoid | add/sub/mul/div (+ scalar rows) -> BinaryOp (with_scalar)
//   | concat -> Concat | narrows that tile an axis (chunk/split) -> Slice; a lone narrow -> Crop
//   | max_pool2d -> Pooling | upsample_nearest2d -> Interp | reshape -> Reshape | permute -> Permute
//   | softmax -> Softmax | dfl -> Reshape, Permute, Softmax, Convolution(0..15), Reshape
//   | constants (anchor points, strides) -> MemoryData | a blob read by k > 1 layers -> Split.
//
// ncnn blobs carry no batch axis: a (1, C, H, W) value is the blob (c=C, h=H, w=W), axes shift by
// one, and Reshape/MemoryData list sizes innermost first (0=w 1=h 11=d 2=c). The .bin holds, per
// layer in file order, Convolution weights behind a 4-byte tag (0 = float32, 0x01306B47 = float16,
// padded to 4 bytes) then the float32 bias, and MemoryData as raw float32.
//
// Imports: engine (fp16), engine/graph, ./static_graph.
import { f32ToF16 } from '../../engine/io/torch_pt.js';
import type { Graph, Node } from '../../engine/graph/index.js';
import { batchedValues } from './static_graph.js';

export const NCNN_MAGIC = 7767517;
export const NCNN_TAG_FP16 = 0x01306b47;

interface Layer {
  type: string;
  name: string;
  inputs: string[];
  outputs: string[];
  params: [number, string][];
  data: Uint8Array[];
}

const f = (v: number) => {
  const s = v.toExponential(6); // C's %e: 2.000000e+00
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
};
const ints = (v: number[]) => `${v.length},${v.join(',')}`;

/** Weight blob behind its tag (ModelBin::load type 0): float32 after a zero tag, or float16 padded to 4 bytes. */
function taggedWeights(w: Float32Array, half: boolean): Uint8Array {
  if (!half) {
    const out = new Uint8Array(4 + w.byteLength);
    out.set(new Uint8Array(w.buffer, w.byteOffset, w.byteLength), 4);
    return out;
  }
  const h = f32ToF16(w);
  const out = new Uint8Array(4 + ((h.byteLength + 3) & ~3));
  new DataView(out.buffer).setUint32(0, NCNN_TAG_FP16, true);
  out.set(new Uint8Array(h.buffer, h.byteOffset, h.byteLength), 4);
  return out;
}
const raw = (a: Float32Array) => new Uint8Array(Float32Array.from(a).buffer);

/** ncnn sizes of a value without its batch: innermost first as the param ids want them. */
function ncnnDims(shape: number[]): [number, string][] {
  const r = [...shape].reverse(); // w, h, (d), c
  const ids = r.length === 4 ? [0, 1, 11, 2] : [0, 1, 2];
  return r.map((d, k) => [ids[k], String(d)]);
}

/** Permute order_type for a rank-3 blob (c, h, w) given torch axes over it. */
const PERMUTE3: Record<string, number> = { '0,1,2': 0, '1,0,2': 2, '0,2,1': 1, '1,2,0': 3, '2,0,1': 4, '2,1,0': 5 };

export interface NcnnFiles {
  param: string;
  bin: Uint8Array;
  /** every layer type written, with how many */
  layerTypes: Map<string, number>;
}

export function lowerToNcnn(g: Graph, o: { half: boolean; read: (id: number) => Float32Array }): NcnnFiles {
  const batched = batchedValues(g);
  const layers: Layer[] = [];
  const counters = new Map<string, number>();
  const nameOf = (kind: string) => {
    const n = counters.get(kind) ?? 0;
    counters.set(kind, n + 1);
    return `${kind}_${n}`;
  };
  let tmp = 0;
  const fresh = () => `t${tmp++}`; // an intermediate blob of a multi-layer lowering
  const key = (id: number) => `v${id}`;
  const defined = new Set<number>();
  const add = (
    type: string,
    kind: string,
    inputs: string[],
    outputs: string[],
    params: [number, string][] = [],
    data: Uint8Array[] = [],
  ) => layers.push({ type, name: kind.startsWith('pnnx_') ? kind : nameOf(kind), inputs, outputs, params, data });

  const shape = (id: number) => g.shapeOf(id);
  const noBatch = (id: number) => (batched[id] ? shape(id).slice(1) : shape(id));
  const axisOf = (id: number, axis: number) => (batched[id] ? axis - 1 : axis);
  const alias = new Map<number, string>();
  const blob = (id: number): string => {
    const v = g.values[id];
    if (alias.has(id)) return alias.get(id)!;
    if (v.kind === 'input' || v.kind === 'node') {
      if (!defined.has(id)) throw new Error(`ncnn export: value %${id} is read before it is written`);
      return key(id);
    }
    if (!defined.has(id)) {
      // a constant: MemoryData named after it, as pnnx's pnnx_fold_* attributes
      defined.add(id);
      add(
        'MemoryData',
        `pnnx_fold_${(v.name ?? `const_${id}`).replace(/\W/g, '_')}`,
        [],
        [key(id)],
        ncnnDims(shape(id)),
        [raw(o.read(id))],
      );
    }
    return key(id);
  };
  const conv = (
    kind: string,
    x: string,
    out: string,
    w: Float32Array,
    ws: number[],
    bias: Float32Array | null,
    a: Record<string, any>,
  ) => {
    const [O, , kh, kw] = ws;
    const params: [number, string][] = [
      [0, String(O)],
      [1, String(kw)],
      [11, String(kh)],
      [12, String(a.dilation[0])],
      [13, String(a.stride[0])],
      [14, String(a.padding[0])],
      [2, String(a.dilation[1])],
      [3, String(a.stride[1])],
      [4, String(a.padding[1])],
      [5, bias ? '1' : '0'],
      [6, String(w.length)],
    ];
    if (a.groups > 1) params.push([7, String(a.groups)]);
    add(a.groups > 1 ? 'ConvolutionDepthWise' : 'Convolution', kind, [x], [out], params, [
      taggedWeights(w, o.half),
      ...(bias ? [raw(bias)] : []),
    ]);
  };
  const binary = (kind: string, opType: number, ins: string[], out: string, scalar?: number) =>
    add(
      'BinaryOp',
      kind,
      ins,
      [out],
      scalar === undefined
        ? [[0, String(opType)]]
        : [
            [0, String(opType)],
            [1, '1'],
            [2, f(scalar)],
          ],
    );

  g.inputs.forEach((id) => defined.add(id));
  add('Input', 'in0', [], [key(g.inputs[0])]);
  layers[0].name = 'in0';
  const tiled = new Set<number>();
  for (const n of g.nodes) {
    if (tiled.has(n.id)) continue;
    const a = n.attrs as Record<string, any>;
    const out = key(n.outputs[0]);
    const x = () => blob(n.inputs[0]!);
    switch (n.op) {
      case 'conv2d': {
        const w = n.inputs[1]!,
          b = n.inputs[2];
        const y = a.act === 'silu' ? fresh() : out;
        conv('conv', x(), y, o.read(w), shape(w), b == null ? null : o.read(b), a);
        if (a.act === 'silu') add('Swish', 'silu', [y], [out]);
        else if (a.act) throw new Error(`ncnn export: conv2d activation '${a.act}' has no rule (at '${n.module}')`);
        break;
      }
      case 'silu':
        add('Swish', 'silu', [x()], [out]);
        break;
      case 'sigmoid':
        add('Sigmoid', 'sigmoid', [x()], [out]);
        break;
      case 'identity':
        alias.set(n.outputs[0], x());
        break; // a contiguous copy: nothing to do in ncnn
      case 'add':
      case 'sub':
      case 'mul':
      case 'div':
        binary(n.op, ['add', 'sub', 'mul', 'div'].indexOf(n.op), [blob(n.inputs[0]!), blob(n.inputs[1]!)], out);
        break;
      case 'add_scalar':
        binary('add', 0, [x()], out, a.alpha);
        break;
      case 'mul_scalar':
        binary('mul', 2, [x()], out, a.alpha);
        break;
      case 'div_scalar':
        binary('div', 3, [x()], out, a.alpha);
        break;
      case 'rsub_scalar':
        binary('rsub', 7, [x()], out, a.alpha);
        break;
      case 'rdiv_scalar':
        binary('rdiv', 8, [x()], out, a.alpha);
        break;
      case 'concat':
        add(
          'Concat',
          'cat',
          n.inputs.map((i) => blob(i!)),
          [out],
          [[0, String(axisOf(n.outputs[0], a.axis))]],
        );
        break;
      case 'softmax':
        add(
          'Softmax',
          'softmax',
          [x()],
          [out],
          [
            [0, String(axisOf(n.outputs[0], a.axis))],
            [1, '1'],
          ],
        );
        break;
      case 'narrow': {
        const group = tileGroup(g, n);
        const ax = axisOf(n.inputs[0]!, a.axis);
        if (group) {
          group.forEach((m) => tiled.add(m.id));
          add(
            'Slice',
            'split',
            [x()],
            group.map((m) => key(m.outputs[0])),
            [
              [-23300, ints(group.map((m) => m.attrs.length as number))],
              [1, String(ax)],
            ],
          );
        } else
          add(
            'Crop',
            'slice',
            [x()],
            [out],
            [
              [-23309, ints([a.start])],
              [-23310, ints([a.start + a.length])],
              [-23311, ints([ax])],
            ],
          );
        break;
      }
      case 'max_pool2d': {
        const [kh, kw] = a.kernelSize,
          [sh, sw] = a.stride,
          [ph, pw] = a.padding;
        if (a.dilation[0] !== 1 || a.dilation[1] !== 1)
          throw new Error(`ncnn export: dilated max_pool2d has no ncnn Pooling (at '${n.module}')`);
        add(
          'Pooling',
          'maxpool2d',
          [x()],
          [out],
          [
            [0, '0'],
            [1, String(kw)],
            [11, String(kh)],
            [12, String(sh)],
            [13, String(ph)],
            [2, String(sw)],
            [3, String(pw)],
            [5, '1'],
          ],
        );
        break;
      }
      case 'upsample_nearest2d':
        add(
          'Interp',
          'upsample',
          [x()],
          [out],
          [
            [0, '1'],
            [1, f(a.scale[0])],
            [2, f(a.scale[1])],
          ],
        );
        break;
      case 'reshape':
        add('Reshape', 'view', [x()], [out], ncnnDims(noBatch(n.outputs[0])));
        break;
      case 'permute': {
        const axes = (a.axes as number[])
          .slice(batched[n.inputs[0]!] ? 1 : 0)
          .map((d) => d - (batched[n.inputs[0]!] ? 1 : 0));
        const t = PERMUTE3[axes.join(',')];
        if (t === undefined)
          throw new Error(`ncnn export: permute [${a.axes}] has no ncnn Permute order (at '${n.module}')`);
        add('Permute', 'permute', [x()], [out], [[0, String(t)]]);
        break;
      }
      case 'dfl': {
        // Ultralytics' DFL: view (4, 16, A) -> transpose (16, 4, A) -> softmax over bins -> 1x1 conv 0..15 -> (4, A)
        const c1 = a.regMax as number,
          A = noBatch(n.inputs[0]!)[1];
        const [v, p, s, c] = [fresh(), fresh(), fresh(), fresh()];
        add(
          'Reshape',
          'view',
          [x()],
          [v],
          [
            [0, String(A)],
            [1, String(c1)],
            [2, '4'],
          ],
        );
        add('Permute', 'permute', [v], [p], [[0, '2']]);
        add(
          'Softmax',
          'softmax',
          [p],
          [s],
          [
            [0, '0'],
            [1, '1'],
          ],
        );
        conv(
          'conv',
          s,
          c,
          Float32Array.from({ length: c1 }, (_, k) => k),
          [1, c1, 1, 1],
          null,
          { dilation: [1, 1], stride: [1, 1], padding: [0, 0], groups: 1 },
        );
        add(
          'Reshape',
          'view',
          [c],
          [out],
          [
            [0, String(A)],
            [1, '4'],
          ],
        );
        break;
      }
      default:
        throw new Error(`ncnn export: no ncnn rule for the op '${n.op}' (at '${n.module}')`);
    }
    n.outputs.forEach((id) => defined.add(id));
    if (tiled.size) for (const id of tiled) g.nodes[id].outputs.forEach((v) => defined.add(v));
  }
  return serialize(layers, blob(g.outputIds()[0]));
}

/** The narrows of n's input along n's axis, anywhere in the graph, when together they tile it in order from n. */
export function tileGroup(g: Graph, n: Node): Node[] | null {
  const x = n.inputs[0],
    axis = n.attrs.axis;
  if (n.attrs.start !== 0) return null;
  const cuts = g.nodes
    .filter((m) => m.op === 'narrow' && m.inputs[0] === x && m.attrs.axis === axis)
    .sort((p, q) => (p.attrs.start as number) - (q.attrs.start as number));
  let end = 0;
  for (const m of cuts) {
    if (m.attrs.start !== end) return null;
    end += m.attrs.length as number;
  }
  return cuts.length > 1 && end === g.shapeOf(x!)[axis as number] ? cuts : null;
}

/** Split layers for blobs read more than once, names (in0, 0, 1, ..., out0), the text and the bin. */
function serialize(layers: Layer[], output: string): NcnnFiles {
  const readers = new Map<string, number>();
  for (const l of layers) for (const i of l.inputs) readers.set(i, (readers.get(i) ?? 0) + 1);
  const out: Layer[] = [];
  let splits = 0;
  const rename = new Map<string, string[]>(); // blob -> the Split outputs not yet handed out
  for (const l of layers) {
    l.inputs = l.inputs.map((i) => rename.get(i)?.shift() ?? i);
    out.push(l);
    for (const o of l.outputs) {
      const k = readers.get(o) ?? 0;
      if (k > 1) {
        const copies = Array.from({ length: k }, (_, j) => `${o}_s${j}`);
        out.push({ type: 'Split', name: `splitncnn_${splits++}`, inputs: [o], outputs: copies, params: [], data: [] });
        rename.set(o, [...copies]);
      }
    }
  }
  const names = new Map<string, string>();
  let next = 0;
  const nm = (b: string) => {
    if (!names.has(b)) names.set(b, b === output ? 'out0' : out[0].outputs[0] === b ? 'in0' : String(next++));
    return names.get(b)!;
  };
  const lines = out.map((l) => {
    const head = `${l.type.padEnd(24)} ${l.name.padEnd(24)} ${l.inputs.length} ${l.outputs.length}`;
    const blobs = [...l.inputs.map(nm), ...l.outputs.map(nm)].join(' ');
    const ps = l.params.map(([k, v]) => `${k}=${v}`).join(' ');
    return [head, blobs, ps].filter(Boolean).join(' ');
  });
  const param = `${NCNN_MAGIC}\n${out.length} ${names.size}\n${lines.join('\n')}\n`;
  const chunks = out.flatMap((l) => l.data);
  const bin = new Uint8Array(chunks.reduce((s, c) => s + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) (bin.set(c, off), (off += c.byteLength));
  const layerTypes = new Map<string, number>();
  for (const l of out) layerTypes.set(l.type, (layerTypes.get(l.type) ?? 0) + 1);
  return { param, bin, layerTypes };
}
