// ONNX from a traced graph (engine/graph): each engine op becomes the ONNX nodes torch.onnx.export
// writes for the same PyTorch code, named the way torch names them (`/model.2/cv1/conv/Conv`,
// scopes from the node's module path), so the file matches what Ultralytics exports node for node:
//
//   conv2d -> Conv (+ Sigmoid, Mul in the Conv's `act` scope when SiLU is fused in) | silu -> Sigmoid, Mul
//   | adjacent narrows that cut an axis in pieces (chunk/split) -> Split; a lone narrow -> Slice
//   | reshape -> Reshape with copied (0) batch and -1 for the size-dependent dim | max_pool2d -> MaxPool
//   | upsample_nearest2d -> Resize | dfl -> Reshape, Transpose, Softmax, Conv(0..15), Reshape
//   | anchors -> initializers `<head>.anchors` (2, A), `<head>.strides` (1, A) for a fixed size,
//     or computed from the maps' shapes (Shape, Gather, Range, Expand...) for a dynamic export
//   | elementwise rows -> Add, Sub, Mul, Div, Sigmoid (scalars as Constant nodes).
//
// The graph must be traced with symbolic sizes (B, H, W): which reshape dims follow the input is
// read off the Syms. BatchNorm is folded first (engine/graph/passes/fold_batch_norm.ts).
//
// Imports: engine, ./graph.
import { DataType } from '../../engine/io/onnx_proto.js';
import { Sym, evalDim, type Graph, type Node } from '../../engine/graph/index.js';
import { anchorGrid } from '../../engine/ops/anchors.js';
import { GraphBuilder, floatTensor, type Attr } from './graph.js';

export interface LowerOptions {
  dynamic: boolean;
  half: boolean;
  /** the graph input's ONNX name */
  input: string;
  /** host values of parameters, buffers and named constants by value id */
  read: (id: number) => Float32Array;
  /** a parameter the graph does not read but an ONNX rule needs (the DFL conv weight), by state-dict name */
  weight: (name: string) => Float32Array | undefined;
}

/** '/model.22/cv2.0.0/conv' for module path 'model.22.cv2.0.0.conv' (indices stay with their attribute). */
export function scopeOf(path: string): string {
  const parts: string[] = [];
  for (const seg of path.split('.')) {
    if (/^\d+$/.test(seg) && parts.length) parts[parts.length - 1] += `.${seg}`;
    else parts.push(seg);
  }
  return '/' + parts.join('/');
}

const parentPath = (p: string) => p.split('.').slice(0, -1).join('.');

/** Lowers the graph; returns the builder and the ONNX name of each graph output. */
export function lowerToOnnx(g: Graph, o: LowerOptions): { builder: GraphBuilder; outputs: string[] } {
  const b = new GraphBuilder(o.half);
  const env = g.symbols;
  const names = new Map<number, string>();
  g.inputs.forEach((id) => names.set(id, o.input));
  const shape = (id: number) => g.shapeOf(id);
  const batchSpec = () => (o.dynamic ? 0 : evalDim(g.values[g.inputs[0]].shape[0], env)); // Reshape's 0 copies the batch
  const valueName = (id: number): string => {
    const known = names.get(id);
    if (known !== undefined) return known;
    const v = g.values[id];
    if (v.kind === 'input' || v.kind === 'node') throw new Error(`export: value %${id} is read before it is written`);
    if (o.dynamic && v.shape.some((d) => d instanceof Sym))
      throw new Error(`export: constant %${id} depends on the input size and cannot be stored in a dynamic export`);
    const name = b.weight(v.name ?? `const_${id}`, o.read(id), shape(id));
    names.set(id, name);
    return name;
  };
  const ins = (n: Node) => n.inputs.map((i) => (i === null ? '' : valueName(i)));
  const set = (n: Node, outs: string[]) => n.outputs.forEach((id, k) => names.set(id, outs[k]));
  const one = (n: Node, op: string, inputs: string[], attrs: Record<string, Attr> = {}) =>
    set(n, [b.op(scopeOf(n.module), op, inputs, attrs)]);

  for (let i = 0; i < g.nodes.length; i++) {
    const n = g.nodes[i],
      scope = scopeOf(n.module),
      a = n.attrs as Record<string, any>;
    switch (n.op) {
      case 'conv2d': {
        const [x, w, bias] = ins(n);
        const ws = shape(n.inputs[1]!);
        const y = b.op(scope, 'Conv', bias ? [x, w, bias] : [x, w], {
          dilations: { ints: a.dilation },
          group: { i: a.groups },
          kernel_shape: { ints: [ws[2], ws[3]] },
          pads: { ints: [...a.padding, ...a.padding] },
          strides: { ints: a.stride },
        });
        if (a.act !== 'silu') set(n, [y]);
        else {
          const act = scopeOf(`${parentPath(n.module)}.act`); // Ultralytics' Conv.act
          set(n, [b.op(act, 'Mul', [y, b.op(act, 'Sigmoid', [y])])]);
        }
        break;
      }
      case 'silu': {
        const [x] = ins(n);
        set(n, [b.op(scope, 'Mul', [x, b.op(scope, 'Sigmoid', [x])])]);
        break;
      }
      case 'sigmoid':
        one(n, 'Sigmoid', ins(n));
        break;
      case 'add':
      case 'sub':
      case 'mul':
      case 'div':
        one(n, n.op[0].toUpperCase() + n.op.slice(1), ins(n));
        break;
      case 'add_scalar': {
        const [x] = ins(n);
        one(n, a.alpha < 0 ? 'Sub' : 'Add', [x, b.scalar(scope, Math.abs(a.alpha))]);
        break;
      }
      case 'mul_scalar':
      case 'div_scalar': {
        const [x] = ins(n);
        one(n, n.op === 'mul_scalar' ? 'Mul' : 'Div', [x, b.scalar(scope, a.alpha)]);
        break;
      }
      case 'rsub_scalar':
      case 'rdiv_scalar': {
        const [x] = ins(n);
        one(n, n.op === 'rsub_scalar' ? 'Sub' : 'Div', [b.scalar(scope, a.alpha), x]);
        break;
      }
      case 'identity':
        set(n, ins(n));
        break;
      case 'concat':
        one(n, 'Concat', ins(n), { axis: { i: a.axis } });
        break;
      case 'softmax':
        one(n, 'Softmax', ins(n), { axis: { i: a.axis } });
        break;
      case 'permute':
        one(n, 'Transpose', ins(n), { perm: { ints: a.axes } });
        break;
      case 'narrow': {
        const group = splitGroup(g, i);
        const [x] = ins(n);
        if (group.length > 1) {
          const sizes = group.map((k) => g.nodes[k].attrs.length as number);
          const outs = b.node(scope, 'Split', [x, b.ints(scope, sizes)], { axis: { i: a.axis } }, group.length);
          group.forEach((k, j) => names.set(g.nodes[k].outputs[0], outs[j]));
          i += group.length - 1;
        } else
          one(n, 'Slice', [
            x,
            b.ints(scope, [a.start]),
            b.ints(scope, [a.start + a.length]),
            b.ints(scope, [a.axis]),
            b.ints(scope, [1]),
          ]);
        break;
      }
      case 'slice': {
        const [x] = ins(n);
        one(n, 'Slice', [
          x,
          b.ints(scope, [a.start]),
          b.ints(scope, [a.end]),
          b.ints(scope, [a.axis]),
          b.ints(scope, [a.step]),
        ]);
        break;
      }
      case 'reshape': {
        const [x] = ins(n);
        one(n, 'Reshape', [x, b.ints(scope, reshapeSpec(g, n, o.dynamic))]);
        break;
      }
      case 'max_pool2d':
        one(n, 'MaxPool', ins(n), {
          ceil_mode: { i: 0 },
          kernel_shape: { ints: a.kernelSize },
          pads: { ints: [...a.padding, ...a.padding] },
          strides: { ints: a.stride },
        });
        break;
      case 'upsample_nearest2d': {
        const [x] = ins(n);
        const scales = b.constant(scope, floatTensor([1, 1, ...a.scale], [4]));
        one(n, 'Resize', [x, '', scales], {
          coordinate_transformation_mode: { s: 'asymmetric' },
          cubic_coeff_a: { f: -0.75 },
          mode: { s: 'nearest' },
          nearest_mode: { s: 'floor' },
        });
        break;
      }
      case 'dfl': {
        // Ultralytics' DFL: view (B, 4, c1, A) -> transpose (B, c1, 4, A) -> softmax over bins -> 1x1 conv with 0..c1-1 -> (B, 4, A)
        const [x] = ins(n),
          c1 = a.regMax as number,
          bs = batchSpec();
        const v = b.op(scope, 'Reshape', [x, b.ints(scope, [bs, 4, c1, -1])]);
        const p = b.op(scope, 'Softmax', [b.op(scope, 'Transpose', [v], { perm: { ints: [0, 2, 1, 3] } })], {
          axis: { i: 1 },
        });
        const wName = `${n.module}.conv.weight`;
        const w = b.weight(wName, o.weight(wName) ?? Float32Array.from({ length: c1 }, (_, k) => k), [1, c1, 1, 1]);
        const conv = b.op(scopeOf(`${n.module}.conv`), 'Conv', [p, w], {
          dilations: { ints: [1, 1] },
          group: { i: 1 },
          kernel_shape: { ints: [1, 1] },
          pads: { ints: [0, 0, 0, 0] },
          strides: { ints: [1, 1] },
        });
        set(n, [b.op(scope, 'Reshape', [conv, b.ints(scope, [bs, 4, -1])])]);
        break;
      }
      case 'anchors':
        set(n, anchorValues(b, g, n, o, ins(n)));
        break;
      default:
        throw new Error(`export: no ONNX rule for the op '${n.op}' (at '${n.module}')`);
    }
  }
  return { builder: b, outputs: g.outputIds().map((id) => valueName(id)) };
}

/** Node i and the narrows right after it that cut the same value along the same axis into consecutive pieces covering it. */
function splitGroup(g: Graph, i: number): number[] {
  const n = g.nodes[i];
  const x = n.inputs[0]!,
    axis = n.attrs.axis as number;
  const full = g.shapeOf(x)[axis];
  const group = [i];
  let end = (n.attrs.start as number) + (n.attrs.length as number);
  if (n.attrs.start !== 0) return [i];
  for (let k = i + 1; k < g.nodes.length && end < full; k++) {
    const m = g.nodes[k];
    if (m.op !== 'narrow' || m.inputs[0] !== x || m.attrs.axis !== axis || m.attrs.start !== end) break;
    group.push(k);
    end += m.attrs.length as number;
  }
  return end === full && group.length > 1 ? group : [i];
}

/** A Reshape's shape input: fixed dims as numbers, the batch copied (0) in a dynamic export, the one size-dependent dim -1. */
function reshapeSpec(g: Graph, n: Node, dynamic: boolean): number[] {
  const target = n.attrs.shape as (number | Sym)[];
  const inShape = g.values[n.inputs[0]!].shape;
  const same = (d: number | Sym, e: number | Sym | undefined) => e !== undefined && String(d) === String(e);
  const spec = target.map((d, k) =>
    typeof d === 'number' ? d : same(d, inShape[k]) ? (dynamic ? 0 : d.eval(g.symbols)) : -1,
  );
  if (spec.filter((d) => d === -1).length > 1) {
    if (dynamic)
      throw new Error(`export: reshape at '${n.module}' to [${target.join(', ')}] has two size-dependent dims`);
    return target.map((d) => evalDim(d, g.symbols));
  }
  return spec;
}

/** Anchor points (2, A) and strides (1, A): initializers for a fixed size, else computed from the maps' shapes. */
function anchorValues(b: GraphBuilder, g: Graph, n: Node, o: LowerOptions, feats: string[]): string[] {
  const scope = scopeOf(n.module),
    strides = n.attrs.strides as number[],
    offset = n.attrs.offset as number;
  if (!o.dynamic) {
    const a = anchorGrid(
      n.inputs.map((id) => g.shapeOf(id!).slice(2, 4) as [number, number]),
      strides,
      offset,
    );
    const A = a.strides.length,
      pts = new Float32Array(2 * A);
    for (let k = 0; k < A; k++) ((pts[k] = a.points[2 * k]), (pts[A + k] = a.points[2 * k + 1]));
    return [b.weight(`${n.module}.anchors`, pts, [2, A]), b.weight(`${n.module}.strides`, a.strides, [1, A])];
  }
  // as tracing Ultralytics' make_anchors with dynamic axes gives
  const perLevel = feats.map((f, i) => {
    const shape = b.op(scope, 'Shape', [f]);
    const dim = (axis: number) => b.op(scope, 'Gather', [shape, b.ints(scope, [axis], [])], { axis: { i: 0 } }); // scalar int64
    const [h, w] = [dim(2), dim(3)];
    const range = (v: string) =>
      b.op(scope, 'Add', [
        b.op(scope, 'Range', [
          b.scalar(scope, 0),
          b.op(scope, 'Cast', [v], { to: { i: DataType.FLOAT } }),
          b.scalar(scope, 1),
        ]),
        b.scalar(scope, offset),
      ]);
    const unsq = (v: string) => b.op(scope, 'Unsqueeze', [v, b.ints(scope, [0])]);
    const hw = b.op(scope, 'Concat', [unsq(h), unsq(w)], { axis: { i: 0 } }); // [h, w]
    // meshgrid(sy, sx, indexing='ij'): x varies along w, y along h
    const sx = b.op(scope, 'Expand', [b.op(scope, 'Reshape', [range(w), b.ints(scope, [1, -1])]), hw]);
    const sy = b.op(scope, 'Expand', [b.op(scope, 'Reshape', [range(h), b.ints(scope, [-1, 1])]), hw]);
    const row = (v: string) => b.op(scope, 'Reshape', [v, b.ints(scope, [1, -1])]);
    const pts = b.op(scope, 'Concat', [row(sx), row(sy)], { axis: { i: 0 } }); // (2, h*w)
    const count = b.op(scope, 'Mul', [unsq(h), unsq(w)]);
    const st = b.op(scope, 'Expand', [
      b.constant(scope, floatTensor([strides[i]], [1, 1])),
      b.op(scope, 'Concat', [b.ints(scope, [1]), count], { axis: { i: 0 } }),
    ]); // (1, h*w)
    return { pts, st };
  });
  return [
    b.op(
      scope,
      'Concat',
      perLevel.map((l) => l.pts),
      { axis: { i: 1 } },
    ),
    b.op(
      scope,
      'Concat',
      perLevel.map((l) => l.st),
      { axis: { i: 1 } },
    ),
  ];
}
