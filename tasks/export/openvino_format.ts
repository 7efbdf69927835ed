// A reader for OpenVINO IR v11 (the .xml topology + .bin weights) written from the published IR
// format: <net version="11"> with <layers> (each: id, name, type, version, <data> attributes, <input>
// and <output> ports with precision and <dim>s) and <edges> (from-layer/from-port -> to-layer/to-port),
// Const data at byte `offset`, `size` in the .bin.
//
// readIr checks as it decodes: ids unique, every edge joins an existing output port to an existing
// input port, each input port fed exactly once, the graph acyclic (so in topological order nothing
// is read before it is written), every port's dims equal the shape its op gives (from the opset
// specs; a dynamic dim, -1, matches anything), each Const's byte range inside the .bin and matching its shape and element type. A layer
// type it does not know is an error naming it and the file.
//
// Imports: engine (fp16).
import { f16ToF32 } from '../../engine/io/safetensors.js';

export interface XmlNode {
  tag: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}

/** A small XML reader for IR files: elements, attributes, text; no DTDs or CDATA. */
export function parseXml(text: string, file: string): XmlNode {
  const root: XmlNode = { tag: '#root', attrs: {}, children: [], text: '' };
  const stack = [root];
  const re =
    /<\?[^>]*\?>|<!--[\s\S]*?-->|<\/([\w:.-]+)\s*>|<([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*"[^"]*")*)\s*(\/?)>|([^<]+)/g;
  const unesc = (s: string) =>
    s
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, '&');
  let m: RegExpExecArray | null,
    last = 0;
  while ((m = re.exec(text))) {
    if (m.index !== last) throw new Error(`${file}: not well-formed XML at character ${last}`);
    last = re.lastIndex;
    if (m[1]) {
      const top = stack.pop()!;
      if (top.tag !== m[1]) throw new Error(`${file}: </${m[1]}> closes <${top.tag}>`);
    } else if (m[2]) {
      const attrs: Record<string, string> = {};
      for (const a of m[3].matchAll(/([\w:.-]+)\s*=\s*"([^"]*)"/g)) attrs[a[1]] = unesc(a[2]);
      const node: XmlNode = { tag: m[2], attrs, children: [], text: '' };
      stack[stack.length - 1].children.push(node);
      if (!m[4]) stack.push(node);
    } else if (m[5]) stack[stack.length - 1].text += unesc(m[5]);
  }
  if (last !== text.length || stack.length !== 1)
    throw new Error(`${file}: truncated XML (unclosed <${stack[stack.length - 1].tag}>)`);
  return root;
}

export interface IrPort {
  id: number;
  precision: string;
  dims: number[];
}
export interface IrLayer {
  id: number;
  name: string;
  type: string;
  version: string;
  data: Record<string, string>;
  inputs: IrPort[];
  outputs: IrPort[];
  /** per input port: [layer id, output port index] */
  from: [number, number][];
  /** Const: its values (floats as Float32Array, i64 as numbers) */
  value?: Float32Array | number[];
  elementType?: string;
}
export interface IrModel {
  layers: IrLayer[];
  order: IrLayer[];
  rtInfo: Record<string, string>;
}

const SUPPORTED = [
  'Parameter',
  'Const',
  'Convert',
  'ShapeOf',
  'Gather',
  'Range',
  'Broadcast',
  'Convolution',
  'Add',
  'Subtract',
  'Multiply',
  'Divide',
  'Swish',
  'Sigmoid',
  'Concat',
  'VariadicSplit',
  'Slice',
  'MaxPool',
  'Interpolate',
  'Reshape',
  'Transpose',
  'SoftMax',
  'Result',
];
const BYTES: Record<string, number> = { f32: 4, f16: 2, i64: 8 };
const PREC: Record<string, string> = { f32: 'FP32', f16: 'FP16', i64: 'I64' };

export function readIr(xmlText: string, bin: Uint8Array, file: string): IrModel {
  const net = parseXml(xmlText, file).children.find((c) => c.tag === 'net');
  if (!net) throw new Error(`${file}: no <net> element (not an OpenVINO IR file)`);
  if (net.attrs.version !== '11')
    throw new Error(`${file}: IR version ${net.attrs.version}; this reader implements IR v11`);
  const child = (n: XmlNode, tag: string) => n.children.find((c) => c.tag === tag);
  const ports = (n: XmlNode | undefined): IrPort[] =>
    (n?.children ?? [])
      .filter((c) => c.tag === 'port')
      .map((p) => ({
        id: Number(p.attrs.id),
        precision: p.attrs.precision,
        dims: p.children.filter((d) => d.tag === 'dim').map((d) => Number(d.text.trim())),
      }));
  const layers = (child(net, 'layers')?.children ?? [])
    .filter((c) => c.tag === 'layer')
    .map((l): IrLayer => ({
      id: Number(l.attrs.id),
      name: l.attrs.name,
      type: l.attrs.type,
      version: l.attrs.version,
      data: child(l, 'data')?.attrs ?? {},
      inputs: ports(child(l, 'input')),
      outputs: ports(child(l, 'output')),
      from: [],
    }));
  const byId = new Map<number, IrLayer>();
  for (const l of layers) {
    if (byId.has(l.id)) throw new Error(`${file}: two layers with id ${l.id}`);
    if (!SUPPORTED.includes(l.type))
      throw new Error(
        `${file}: layer '${l.name}' (id ${l.id}) uses the OpenVINO op '${l.type}' (${l.version}), which this importer does not implement (it implements ${SUPPORTED.join(', ')})`,
      );
    byId.set(l.id, l);
  }
  for (const e of (child(net, 'edges')?.children ?? []).filter((c) => c.tag === 'edge')) {
    const [fl, fp, tl, tp] = ['from-layer', 'from-port', 'to-layer', 'to-port'].map((k) => Number(e.attrs[k]));
    const a = byId.get(fl),
      b = byId.get(tl);
    const oi = a?.outputs.findIndex((p) => p.id === fp) ?? -1,
      ii = b?.inputs.findIndex((p) => p.id === tp) ?? -1;
    if (!a || !b || oi < 0 || ii < 0)
      throw new Error(`${file}: edge ${fl}:${fp} -> ${tl}:${tp} joins ports that do not exist`);
    if (b.from[ii]) throw new Error(`${file}: input port ${tp} of layer '${b.name}' is fed twice`);
    b.from[ii] = [fl, oi];
  }
  // topological order (Kahn); a layer left over is on a cycle
  const order: IrLayer[] = [],
    done = new Set<number>();
  let progress = true;
  while (progress) {
    progress = false;
    for (const l of layers) {
      if (done.has(l.id)) continue;
      l.inputs.forEach((p, k) => {
        if (!l.from[k])
          throw new Error(
            `${file}: input port ${p.id} of layer '${l.name}' has no edge (read before anything writes it)`,
          );
      });
      if (l.from.every(([f]) => done.has(f))) (order.push(l), done.add(l.id), (progress = true));
    }
  }
  if (order.length !== layers.length)
    throw new Error(`${file}: the graph has a cycle through '${layers.find((l) => !done.has(l.id))!.name}'`);

  for (const l of order) {
    const where = `${file}: layer '${l.name}' (${l.type})`;
    const inDims = l.from.map(([f, k]) => byId.get(f)!.outputs[k].dims);
    l.inputs.forEach((p, k) => {
      if (!sameDims(p.dims, inDims[k]))
        throw new Error(`${where}: input port ${p.id} says [${p.dims}], its source gives [${inDims[k]}]`);
    });
    const val = (k: number) => byId.get(l.from[k][0])!.value;
    const ints = (s: string | undefined) =>
      (s ?? '')
        .split(',')
        .filter(Boolean)
        .map((d) => (d.trim() === '?' ? -1 : Number(d)));
    const conv = (x: number, k: number, p: number, s: number, d = 1) =>
      x < 0 ? -1 : Math.floor((x + 2 * p - d * (k - 1) - 1) / s) + 1;
    let out: number[][];
    switch (l.type) {
      case 'Parameter':
        out = [ints(l.data.shape)];
        break;
      case 'Const': {
        const et = l.data.element_type,
          shape = ints(l.data.shape),
          off = Number(l.data.offset),
          size = Number(l.data.size);
        const n = shape.reduce((a, b) => a * b, 1);
        if (!BYTES[et]) throw new Error(`${where}: element_type '${et}' is not implemented (f32, f16, i64 are)`);
        if (size !== n * BYTES[et])
          throw new Error(`${where}: size ${size} bytes, expected ${n} x ${BYTES[et]} for ${et}[${shape}]`);
        if (!(off >= 0 && off + size <= bin.byteLength))
          throw new Error(`${where}: bytes ${off}..${off + size} are outside the .bin (${bin.byteLength} bytes)`);
        const bytes = bin.slice(off, off + size);
        l.value =
          et === 'f32'
            ? new Float32Array(bytes.buffer)
            : et === 'f16'
              ? f16ToF32(new Uint16Array(bytes.buffer))
              : Array.from(new BigInt64Array(bytes.buffer), Number);
        l.elementType = et;
        if (l.outputs[0]?.precision !== PREC[et])
          throw new Error(`${where}: port precision ${l.outputs[0]?.precision} disagrees with element_type ${et}`);
        out = [shape];
        break;
      }
      case 'Convert': {
        l.value = byId.get(l.from[0][0])!.value instanceof Float32Array ? (val(0) as Float32Array) : undefined;
        out = [inDims[0]];
        break;
      }
      case 'Convolution': {
        const [x, w] = inDims,
          s = ints(l.data.strides),
          d = ints(l.data.dilations),
          pb = ints(l.data.pads_begin),
          pe = ints(l.data.pads_end);
        if (x[1] !== w[1]) throw new Error(`${where}: input has ${x[1]} channels, the weight expects ${w[1]}`);
        if (pb.join() !== pe.join() || (l.data.auto_pad && l.data.auto_pad !== 'explicit'))
          throw new Error(`${where}: only explicit symmetric pads are implemented`);
        out = [[x[0], w[0], ...[0, 1].map((k) => conv(x[2 + k], w[2 + k], pb[k], s[k], d[k]))]];
        break;
      }
      case 'Add':
      case 'Subtract':
      case 'Multiply':
      case 'Divide':
        out = [broadcast(inDims[0], inDims[1], where)];
        break;
      case 'Swish':
      case 'Sigmoid':
      case 'SoftMax':
        out = [inDims[0]];
        break;
      case 'Concat': {
        const r = inDims[0].length,
          ax = (Number(l.data.axis) + r) % r;
        out = [
          inDims[0].map((v, k) =>
            k === ax ? (inDims.some((x) => x[k] < 0) ? -1 : inDims.reduce((s, x) => s + x[k], 0)) : v,
          ),
        ];
        break;
      }
      case 'VariadicSplit': {
        const [ax] = val(1) as number[],
          lens = val(2) as number[];
        if (lens.reduce((a, b) => a + b, 0) !== inDims[0][ax])
          throw new Error(`${where}: split_lengths [${lens}] do not cover ${inDims[0][ax]}`);
        out = lens.map((n) => inDims[0].map((v, k) => (k === ax ? n : v)));
        break;
      }
      case 'Slice': {
        const [st] = val(1) as number[],
          [en] = val(2) as number[],
          [step] = val(3) as number[],
          [ax] = val(4) as number[];
        if (step !== 1) throw new Error(`${where}: only step 1 is implemented`);
        out = [inDims[0].map((v, k) => (k === ax ? Math.min(en, v) - st : v))];
        break;
      }
      case 'MaxPool': {
        const x = inDims[0],
          k = ints(l.data.kernel),
          s = ints(l.data.strides),
          pb = ints(l.data.pads_begin);
        if (l.data.rounding_type !== 'floor' || ints(l.data.dilations).some((v) => v !== 1))
          throw new Error(`${where}: only floor rounding without dilation is implemented`);
        const o = [x[0], x[1], ...[0, 1].map((j) => conv(x[2 + j], k[j], pb[j], s[j]))];
        out = [o, o];
        break;
      }
      case 'Interpolate': {
        const sc = val(1) as Float32Array,
          ax = val(2) as number[];
        if (l.data.mode !== 'nearest' || l.data.shape_calculation_mode !== 'scales')
          throw new Error(`${where}: only nearest by scales is implemented`);
        out = [inDims[0].map((v, k) => (ax.includes(k) && v >= 0 ? v * sc[ax.indexOf(k)] : v))];
        break;
      }
      case 'Reshape': {
        const target = val(1) as number[] | undefined,
          x = inDims[0];
        if (!target) throw new Error(`${where}: the target shape is not a Const (not implemented)`);
        const shape = target.map((d, k) => (d === 0 && l.data.special_zero === 'true' ? x[k] : d));
        if (shape.filter((d) => d === -1).length > 1 && !x.some((d) => d < 0))
          throw new Error(`${where}: two -1 dims in [${target}]`);
        const n = x.reduce((a, b) => a * b, 1),
          known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
        if (!x.some((d) => d < 0)) {
          const filled = shape.map((d) => (d === -1 ? n / known : d));
          if (!Number.isInteger(n / known) || filled.reduce((a, b) => a * b, 1) !== n)
            throw new Error(`${where}: cannot reshape [${x}] to [${target}]`);
          out = [filled];
        } else out = [shape];
        break;
      }
      case 'Transpose':
        out = [(val(1) as number[]).map((a) => inDims[0][a])];
        break;
      case 'ShapeOf':
        out = [[inDims[0].length]];
        break;
      case 'Gather': {
        const [ax] = (val(2) as number[] | undefined) ?? [NaN];
        if (!(ax >= 0 && ax < inDims[0].length) || Number(l.data.batch_dims ?? 0) !== 0)
          throw new Error(`${where}: only a Const axis and batch_dims 0 are implemented`);
        out = [[...inDims[0].slice(0, ax), ...inDims[1], ...inDims[0].slice(ax + 1)]];
        break;
      }
      case 'Range': {
        if (inDims.some((d) => d.length !== 0)) throw new Error(`${where}: start, stop and step must be scalars`);
        out = [[-1]];
        break;
      }
      case 'Broadcast': {
        if ((l.data.mode ?? 'numpy') !== 'numpy' || inDims[1].length !== 1)
          throw new Error(`${where}: only numpy mode with a 1-D target shape is implemented`);
        const t = val(1) as number[] | undefined;
        out = [t ? broadcast(inDims[0], t, where) : Array.from({ length: inDims[1][0] }, () => -1)];
        break;
      }
      case 'Result':
        out = [];
        break;
      default:
        throw new Error(`${where}: unreachable`);
    }
    if (out.length !== l.outputs.length)
      throw new Error(`${where}: ${l.outputs.length} output ports, the op gives ${out.length}`);
    l.outputs.forEach((p, k) => {
      if (!sameDims(p.dims, out[k]))
        throw new Error(`${where}: output port ${p.id} says [${p.dims}], the op gives [${out[k]}]`);
    });
  }
  const rtInfo: Record<string, string> = {};
  for (const c of child(child(net, 'rt_info') ?? { tag: '', attrs: {}, children: [], text: '' }, 'model_info')
    ?.children ?? [])
    rtInfo[c.tag] = c.attrs.value;
  return { layers, order, rtInfo };
}

/** Port dims against the op's: equal where both are known (-1: a dynamic dim). */
const sameDims = (a: number[], b: number[]) =>
  a.length === b.length && a.every((d, k) => d === b[k] || d < 0 || b[k] < 0);

function broadcast(a: number[], b: number[], where: string): number[] {
  const r = Math.max(a.length, b.length),
    out: number[] = [];
  for (let k = 0; k < r; k++) {
    const x = a[a.length - r + k] ?? 1,
      y = b[b.length - r + k] ?? 1;
    if (x >= 0 && y >= 0 && x !== y && x !== 1 && y !== 1)
      throw new Error(`${where}: shapes [${a}] and [${b}] do not broadcast`);
    out.push(x === 1 ? y : y === 1 ? x : x < 0 ? y : x);
  }
  return out;
}
