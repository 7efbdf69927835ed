// Paddle's inference model (model.pdmodel ProgramDesc + model.pdiparams) from a fixed-size traced
// graph, with the static-graph ops (Paddle's operator definitions: inputs/outputs by parameter
// name, attrs) that x2paddle's PyTorch conversion produces for these ops:
//
//   feed/fetch around the program | conv2d (Input, Filter -> Output) + elementwise_add of the bias
//   (axis 1) | silu | sigmoid | add/sub/mul/div -> elementwise_add/sub/mul/div (axis -1)
//   | scalar rows -> scale (scale, bias) | concat | tiling narrows -> split (sections); a lone
//   narrow -> slice | max_pool2d -> pool2d (max) | upsample_nearest2d -> nearest_interp_v2 (scale)
//   | reshape -> reshape2 | permute -> transpose2 | softmax | dfl -> reshape2, transpose2,
//   softmax, conv2d(0..15), reshape2 | parameters and constants -> persistable LoD tensors.
// half=True stores the float weights as FP16 tensors (the graph's vars stay FP32; the reader casts).
//
// Imports: engine (fp16, protobuf), engine/graph, ./paddle_proto, ./ncnn_lower (tileGroup).
import { f32ToF16 } from '../../engine/io/torch_pt.js';
import { encode, type Message } from '../../engine/io/protobuf.js';
import type { Graph } from '../../engine/graph/index.js';
import { ATTR, PADDLE_SCHEMA, VT } from './paddle_proto.js';
import { tileGroup } from './ncnn_lower.js';

type A = { i: number } | { f: number } | { s: string } | { ints: number[] } | { floats: number[] } | { b: boolean };
const attr = (name: string, a: A): Message => {
  if ('i' in a) return { name, type: ATTR.INT, i: a.i };
  if ('f' in a) return { name, type: ATTR.FLOAT, f: a.f };
  if ('s' in a) return { name, type: ATTR.STRING, s: a.s };
  if ('ints' in a) return { name, type: ATTR.INTS, ints: a.ints };
  if ('floats' in a) return { name, type: ATTR.FLOATS, floats: a.floats };
  return { name, type: ATTR.BOOLEAN, b: a.b ? 1 : 0 };
};
const tensorVar = (name: string, dims: number[], persistable = false, dtype: number = VT.FP32): Message => ({
  name,
  type: { type: VT.LOD_TENSOR, lod_tensor: { tensor: { data_type: dtype, dims }, lod_level: 0 } },
  persistable: persistable ? 1 : 0,
});

/** One LoDTensor of the pdiparams stream. */
export function lodTensorBytes(dims: number[], data: Float32Array, half: boolean): Uint8Array {
  const desc = encode(PADDLE_SCHEMA, 'TensorDesc', { data_type: half ? VT.FP16 : VT.FP32, dims });
  const raw = half ? new Uint8Array(f32ToF16(data).buffer) : new Uint8Array(Float32Array.from(data).buffer);
  const out = new Uint8Array(4 + 8 + 4 + 4 + desc.byteLength + raw.byteLength);
  const dv = new DataView(out.buffer);
  // uint32 LoDTensor version 0, uint64 lod levels 0, uint32 tensor version 0, int32 desc size
  dv.setInt32(16, desc.byteLength, true);
  out.set(desc, 20);
  out.set(raw, 20 + desc.byteLength);
  return out;
}

export interface PaddleFiles {
  pdmodel: Uint8Array;
  pdiparams: Uint8Array;
  opTypes: Map<string, number>;
}

export function lowerToPaddle(g: Graph, o: { half: boolean; read: (id: number) => Float32Array }): PaddleFiles {
  const vars: Message[] = [tensorVar('feed', []), tensorVar('fetch', [])];
  ((vars[0].type = { type: VT.FEED_MINIBATCH }), (vars[0].persistable = 1));
  ((vars[1].type = { type: VT.FETCH_LIST }), (vars[1].persistable = 1));
  const ops: Message[] = [];
  const params = new Map<string, { dims: number[]; data: Float32Array }>();
  const names = new Map<number, string>();
  let tmp = 0;
  const fresh = (op: string, dims: number[]) => {
    const n = `${op}_${tmp++}.tmp_0`;
    vars.push(tensorVar(n, dims));
    return n;
  };
  const op = (
    type: string,
    ins: Record<string, string[]>,
    outs: Record<string, string[]>,
    attrs: Record<string, A> = {},
  ) =>
    ops.push({
      type,
      inputs: Object.entries(ins).map(([parameter, args]) => ({ parameter, arguments: args })),
      outputs: Object.entries(outs).map(([parameter, args]) => ({ parameter, arguments: args })),
      attrs: Object.entries(attrs).map(([k, v]) => attr(k, v)),
    });
  const param = (name: string, dims: number[], data: Float32Array) => {
    if (!params.has(name)) {
      params.set(name, { dims, data });
      vars.push(tensorVar(name, dims, true));
    }
    return name;
  };
  const value = (id: number): string => {
    const known = names.get(id);
    if (known) return known;
    const v = g.values[id];
    if (v.kind === 'input' || v.kind === 'node')
      throw new Error(`Paddle export: value %${id} is read before it is written`);
    const n = param((v.name ?? `constant_${id}`).replace(/[^\w.]/g, '_'), g.shapeOf(id), o.read(id));
    names.set(id, n);
    return n;
  };
  const withXShape = (type: string, x: string, out: number[], attrs: Record<string, A>, inDims: number[]) => {
    const y = fresh(type, out),
      xs = fresh(`${type}_xshape`, [0, ...inDims]);
    op(type, { X: [x] }, { Out: [y], XShape: [xs] }, attrs);
    return y;
  };
  const convOp = (x: string, w: string, out: number[], a: Record<string, any>) => {
    const y = fresh('conv2d', out);
    op(
      'conv2d',
      { Input: [x], Filter: [w] },
      { Output: [y] },
      {
        strides: { ints: a.stride },
        paddings: { ints: a.padding },
        dilations: { ints: a.dilation },
        groups: { i: a.groups },
        padding_algorithm: { s: 'EXPLICIT' },
        data_format: { s: 'NCHW' },
      },
    );
    return y;
  };

  const input = g.inputs[0];
  vars.push({ ...tensorVar('x0', g.shapeOf(input)), need_check_feed: 1 });
  op('feed', { X: ['feed'] }, { Out: ['x0'] }, { col: { i: 0 } });
  names.set(input, 'x0');
  const tiled = new Set<number>();
  for (const n of g.nodes) {
    if (tiled.has(n.id)) continue;
    const a = n.attrs as Record<string, any>;
    const out = g.shapeOf(n.outputs[0]);
    const x = () => value(n.inputs[0]!);
    let y: string;
    const ew = (t: string, p: string, q: string) => {
      const r = fresh(t, out);
      op(t, { X: [p], Y: [q] }, { Out: [r] }, { axis: { i: -1 } });
      return r;
    };
    const unary = (t: string, p: string, attrs: Record<string, A> = {}) => {
      const r = fresh(t, out);
      op(t, { X: [p] }, { Out: [r] }, attrs);
      return r;
    };
    switch (n.op) {
      case 'conv2d': {
        const w = n.inputs[1]!,
          b = n.inputs[2];
        y = convOp(x(), value(w), out, a);
        if (b != null) {
          const r = fresh('elementwise_add', out);
          op('elementwise_add', { X: [y], Y: [value(b)] }, { Out: [r] }, { axis: { i: 1 } });
          y = r;
        }
        if (a.act === 'silu') y = unary('silu', y);
        else if (a.act) throw new Error(`Paddle export: conv2d activation '${a.act}' has no rule (at '${n.module}')`);
        break;
      }
      case 'silu':
        y = unary('silu', x());
        break;
      case 'sigmoid':
        y = unary('sigmoid', x());
        break;
      case 'identity':
        y = x();
        break;
      case 'add':
      case 'sub':
      case 'mul':
      case 'div':
        y = ew(
          { add: 'elementwise_add', sub: 'elementwise_sub', mul: 'elementwise_mul', div: 'elementwise_div' }[
            n.op as 'add'
          ],
          value(n.inputs[0]!),
          value(n.inputs[1]!),
        );
        break;
      case 'add_scalar':
        y = unary('scale', x(), { scale: { f: 1 }, bias: { f: a.alpha }, bias_after_scale: { b: true } });
        break;
      case 'mul_scalar':
        y = unary('scale', x(), { scale: { f: a.alpha }, bias: { f: 0 }, bias_after_scale: { b: true } });
        break;
      case 'div_scalar':
        y = unary('scale', x(), { scale: { f: 1 / a.alpha }, bias: { f: 0 }, bias_after_scale: { b: true } });
        break;
      case 'concat': {
        y = fresh('concat', out);
        op('concat', { X: n.inputs.map((i) => value(i!)) }, { Out: [y] }, { axis: { i: a.axis } });
        break;
      }
      case 'softmax':
        y = unary('softmax', x(), { axis: { i: a.axis } });
        break;
      case 'permute':
        y = withXShape('transpose2', x(), out, { axis: { ints: a.axes } }, g.shapeOf(n.inputs[0]!));
        break;
      case 'reshape':
        y = withXShape('reshape2', x(), out, { shape: { ints: out } }, g.shapeOf(n.inputs[0]!));
        break;
      case 'narrow': {
        const group = tileGroup(g, n);
        if (group) {
          group.forEach((m) => tiled.add(m.id));
          const outs = group.map((m) => fresh('split', g.shapeOf(m.outputs[0])));
          op(
            'split',
            { X: [x()] },
            { Out: outs },
            { axis: { i: a.axis }, sections: { ints: group.map((m) => m.attrs.length as number) }, num: { i: 0 } },
          );
          group.forEach((m, k) => names.set(m.outputs[0], outs[k]));
          continue;
        }
        y = fresh('slice', out);
        op(
          'slice',
          { Input: [x()] },
          { Out: [y] },
          {
            axes: { ints: [a.axis] },
            starts: { ints: [a.start] },
            ends: { ints: [a.start + a.length] },
            infer_flags: { ints: [1] },
            decrease_axis: { ints: [] },
          },
        );
        break;
      }
      case 'max_pool2d':
        y = unary('pool2d', x(), {
          pooling_type: { s: 'max' },
          ksize: { ints: a.kernelSize },
          strides: { ints: a.stride },
          paddings: { ints: a.padding },
          global_pooling: { b: false },
          ceil_mode: { b: false },
          exclusive: { b: true },
          adaptive: { b: false },
          padding_algorithm: { s: 'EXPLICIT' },
          data_format: { s: 'NCHW' },
        });
        break;
      case 'upsample_nearest2d':
        y = unary('nearest_interp_v2', x(), {
          interp_method: { s: 'nearest' },
          scale: { floats: a.scale },
          out_d: { i: -1 },
          out_h: { i: -1 },
          out_w: { i: -1 },
          align_corners: { b: false },
          align_mode: { i: 1 },
          data_layout: { s: 'NCHW' },
        });
        break;
      case 'dfl': {
        const c1 = a.regMax as number,
          [B, , An] = g.shapeOf(n.inputs[0]!);
        const v = withXShape('reshape2', x(), [B, 4, c1, An], { shape: { ints: [B, 4, c1, An] } }, [B, 4 * c1, An]);
        const t = withXShape('transpose2', v, [B, c1, 4, An], { axis: { ints: [0, 2, 1, 3] } }, [B, 4, c1, An]);
        const s = fresh('softmax', [B, c1, 4, An]);
        op('softmax', { X: [t] }, { Out: [s] }, { axis: { i: 1 } });
        const w = param(
          `${n.module}.conv.weight`,
          [1, c1, 1, 1],
          Float32Array.from({ length: c1 }, (_, k) => k),
        );
        const c = convOp(s, w, [B, 1, 4, An], { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 });
        y = withXShape('reshape2', c, [B, 4, An], { shape: { ints: [B, 4, An] } }, [B, 1, 4, An]);
        break;
      }
      default:
        throw new Error(`Paddle export: no Paddle rule for the op '${n.op}' (at '${n.module}')`);
    }
    names.set(n.outputs[0], y);
  }
  const res = value(g.outputIds()[0]);
  op('fetch', { X: [res] }, { Out: ['fetch'] }, { col: { i: 0 } });
  const pdmodel = encode(PADDLE_SCHEMA, 'ProgramDesc', {
    blocks: [{ idx: 0, parent_idx: -1, vars, ops }],
    version: { version: 0 },
  });
  const sorted = [...params.keys()].sort(); // save_combine writes the persistables sorted by name
  const chunks = sorted.map((k) => lodTensorBytes(params.get(k)!.dims, params.get(k)!.data, o.half));
  const pdiparams = new Uint8Array(chunks.reduce((s, c) => s + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) (pdiparams.set(c, at), (at += c.byteLength));
  const opTypes = new Map<string, number>();
  for (const p of ops) opTypes.set(p.type as string, (opTypes.get(p.type as string) ?? 0) + 1);
  return { pdmodel, pdiparams, opTypes };
}
