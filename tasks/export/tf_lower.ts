// A TensorFlow graph (GraphDef's nodes) from the traced graph, for the TF family of exports:
// TF.js (model.json's modelTopology), GraphDef (.pb) and SavedModel. The traced graph is made
// fixed-size, constant-folded (anchors and strides become constants) and put in NHWC by the graph
// passes (engine/graph/passes: foldConstants, toNHWC with an NHWC input, as TF models take images);
// each node then becomes the TF ops that compute it:
//
//   conv2d (NHWC) -> [Pad] Conv2D (HWIO weights) BiasAdd [Sigmoid Mul]  | max_pool2d -> MaxPool SAME
//   | upsample_nearest2d -> ResizeNearestNeighbor | permute -> Transpose | reshape -> Reshape
//   | narrow -> Slice | concat -> ConcatV2 | softmax -> Softmax (last axis) | add/sub/mul/div -> AddV2/Sub/Mul/RealDiv
//   | *_scalar -> the same with a scalar Const | sigmoid/silu -> Sigmoid [Mul]
//   | dfl -> Reshape, Transpose, Softmax, Conv2D with 0..c1-1, Reshape (Ultralytics' DFL: the expectation over bins).
//
// Imports: engine (graph), ../export/exporter (exportGraph is the caller's).

import { evalDim, foldConstants, toNHWC, type Graph, type Node } from '../../engine/graph/index.js';

export type TfDType = 'DT_FLOAT' | 'DT_INT32';
export interface TfTensor {
  dtype: TfDType;
  shape: number[];
  data: Float32Array | Int32Array;
}
export type TfAttr =
  | { type: TfDType }
  | { i: number }
  | { f: number }
  | { b: boolean }
  | { s: string }
  | { list: { i?: number[]; s?: string[] } }
  | { tensor: TfTensor }
  | { shape: number[] };
export interface TfNode {
  name: string;
  op: string;
  input: string[];
  attr: Record<string, TfAttr>;
}
export interface TfGraph {
  nodes: TfNode[];
  input: { name: string; shape: number[] };
  output: { name: string; shape: number[] };
}

export interface TfLowerOptions {
  /** host values of parameters and constants by value id */
  read: (id: number) => Float32Array;
}

const T = { type: 'DT_FLOAT' as const };

/** Lowers a fixed-size, BatchNorm-folded graph (NCHW, as traced) to TF ops on NHWC images. The graph is changed (passes run in place). */
export function lowerToTf(g: Graph, o: TfLowerOptions): TfGraph {
  foldConstants(g);
  toNHWC(g, { nhwcInputs: true });
  const env = g.symbols;
  const shape = (id: number) => g.values[id].shape.map((d) => evalDim(d, env));
  const nodes: TfNode[] = [];
  const used = new Set<string>();
  const unique = (base: string) => {
    let name = base,
      k = 0;
    while (used.has(name)) name = `${base}_${++k}`;
    used.add(name);
    return name;
  };
  const add = (base: string, op: string, input: string[], attr: Record<string, TfAttr> = {}) => {
    const name = unique(base);
    nodes.push({ name, op, input, attr });
    return name;
  };
  const konst = (base: string, t: TfTensor) =>
    add(base, 'Const', [], { dtype: { type: t.dtype }, value: { tensor: t } });
  const ints = (base: string, v: number[], dims = [v.length]) =>
    konst(base, { dtype: 'DT_INT32', shape: dims, data: Int32Array.from(v) });
  const scalar = (base: string, v: number) => konst(base, { dtype: 'DT_FLOAT', shape: [], data: Float32Array.of(v) });

  const names = new Map<number, string>();
  const [inputId] = g.inputs;
  const input = { name: 'images', shape: shape(inputId) };
  names.set(inputId, add('images', 'Placeholder', [], { dtype: T, shape: { shape: input.shape } }));
  const value = (id: number): string => {
    const known = names.get(id);
    if (known !== undefined) return known;
    const v = g.values[id];
    if (v.kind === 'input' || v.kind === 'node')
      throw new Error(`tf export: value %${id} is read before it is written`);
    const name = konst(v.name ?? `const_${id}`, { dtype: 'DT_FLOAT', shape: shape(id), data: o.read(id) });
    names.set(id, name);
    return name;
  };

  for (const n of g.nodes) {
    const a = n.attrs as Record<string, any>;
    const scope = n.module || 'model';
    const x = n.inputs.map((i, k) => (i === null || (n.op === 'conv2d' && k === 1) ? '' : value(i))); // conv weights go in as HWIO
    const set = (name: string) => names.set(n.outputs[0], name);
    const binary = (op: string, lhs: string, rhs: string) => add(`${scope}/${op}`, op, [lhs, rhs], { T });
    const silu = (y: string) => binary('Mul', y, add(`${scope}/Sigmoid`, 'Sigmoid', [y], { T }));
    switch (n.op) {
      case 'conv2d': {
        if (a.layout !== 'NHWC') throw new Error(`tf export: conv2d at '${n.module}' is not NHWC`);
        if (a.groups !== 1) unsupported(n, `groups=${a.groups}`);
        const ws = shape(n.inputs[1]!); // (O, I, kh, kw) -> HWIO
        const w = hwio(o.read(n.inputs[1]!), ws);
        const wName = konst(`${g.values[n.inputs[1]!].name ?? scope + '/weight'}`, {
          dtype: 'DT_FLOAT',
          shape: [ws[2], ws[3], ws[1], ws[0]],
          data: w,
        });
        const [ph, pw] = a.padding,
          [sh, sw] = a.stride;
        const same = sh === 1 && sw === 1 && ws[2] === 2 * ph + 1 && ws[3] === 2 * pw + 1;
        let inp = x[0];
        if (!same && (ph || pw))
          inp = add(`${scope}/Pad`, 'Pad', [inp, ints(`${scope}/Pad/paddings`, [0, 0, ph, ph, pw, pw, 0, 0], [4, 2])], {
            T,
            Tpaddings: { type: 'DT_INT32' },
          });
        let y = add(`${scope}/Conv2D`, 'Conv2D', [inp, wName], {
          T,
          strides: { list: { i: [1, sh, sw, 1] } },
          padding: { s: same ? 'SAME' : 'VALID' },
          dilations: { list: { i: [1, ...a.dilation, 1] } },
          data_format: { s: 'NHWC' },
          use_cudnn_on_gpu: { b: true },
          explicit_paddings: { list: {} },
        });
        if (x[2]) y = add(`${scope}/BiasAdd`, 'BiasAdd', [y, x[2]], { T, data_format: { s: 'NHWC' } });
        set(a.act === 'silu' ? silu(y) : a.act == null ? y : unsupported(n, `act=${a.act}`));
        break;
      }
      case 'max_pool2d': {
        const [k, ,] = a.kernelSize,
          [p] = a.padding;
        if (a.stride[0] !== 1 || k !== 2 * p + 1) unsupported(n, 'only stride 1 with same padding');
        set(
          add(`${scope}/MaxPool`, 'MaxPool', [x[0]], {
            T,
            ksize: { list: { i: [1, ...a.kernelSize, 1] } },
            strides: { list: { i: [1, ...a.stride, 1] } },
            padding: { s: 'SAME' },
            data_format: { s: 'NHWC' },
            explicit_paddings: { list: {} },
          }),
        );
        break;
      }
      case 'upsample_nearest2d': {
        const [, H, W] = shape(n.outputs[0]);
        set(
          add(`${scope}/ResizeNearestNeighbor`, 'ResizeNearestNeighbor', [x[0], ints(`${scope}/size`, [H, W])], {
            T,
            align_corners: { b: false },
            half_pixel_centers: { b: false },
          }),
        );
        break;
      }
      case 'silu':
        set(silu(x[0]));
        break;
      case 'sigmoid':
        set(add(`${scope}/Sigmoid`, 'Sigmoid', [x[0]], { T }));
        break;
      case 'add':
      case 'sub':
      case 'mul':
      case 'div':
        set(binary({ add: 'AddV2', sub: 'Sub', mul: 'Mul', div: 'RealDiv' }[n.op as 'add'], x[0], x[1]));
        break;
      case 'add_scalar':
      case 'mul_scalar':
      case 'div_scalar':
        set(
          binary(
            { add_scalar: 'AddV2', mul_scalar: 'Mul', div_scalar: 'RealDiv' }[n.op as 'add_scalar'],
            x[0],
            scalar(`${scope}/y`, a.alpha),
          ),
        );
        break;
      case 'rsub_scalar':
        set(binary('Sub', scalar(`${scope}/x`, a.alpha), x[0]));
        break;
      case 'identity':
        set(x[0]);
        break;
      case 'concat':
        set(
          add(`${scope}/concat`, 'ConcatV2', [...x, ints(`${scope}/concat/axis`, [a.axis], [])], {
            T,
            N: { i: x.length },
            Tidx: { type: 'DT_INT32' },
          }),
        );
        break;
      case 'permute':
        set(
          add(`${scope}/transpose`, 'Transpose', [x[0], ints(`${scope}/transpose/perm`, a.axes)], {
            T,
            Tperm: { type: 'DT_INT32' },
          }),
        );
        break;
      case 'reshape':
        set(
          add(`${scope}/Reshape`, 'Reshape', [x[0], ints(`${scope}/Reshape/shape`, shape(n.outputs[0]))], {
            T,
            Tshape: { type: 'DT_INT32' },
          }),
        );
        break;
      case 'narrow': {
        const s = shape(n.inputs[0]!),
          begin = s.map(() => 0),
          size = [...s];
        begin[a.axis] = evalDim(a.start, env);
        size[a.axis] = evalDim(a.length, env);
        set(
          add(
            `${scope}/Slice`,
            'Slice',
            [x[0], ints(`${scope}/Slice/begin`, begin), ints(`${scope}/Slice/size`, size)],
            { T, Index: { type: 'DT_INT32' } },
          ),
        );
        break;
      }
      case 'softmax': {
        if (a.axis !== shape(n.inputs[0]!).length - 1 && a.axis !== -1)
          unsupported(n, 'softmax over an axis other than the last');
        set(add(`${scope}/Softmax`, 'Softmax', [x[0]], { T }));
        break;
      }
      case 'dfl': {
        // (B, 4*c1, A) -> (B, 4, c1, A) -> (B, 4, A, c1) -> softmax over bins -> sum_k k * p_k -> (B, 4, A)
        const [B, , A] = shape(n.inputs[0]!),
          c1 = a.regMax as number;
        const v = add(`${scope}/Reshape`, 'Reshape', [x[0], ints(`${scope}/Reshape/shape`, [B, 4, c1, A])], {
          T,
          Tshape: { type: 'DT_INT32' },
        });
        const tr = add(`${scope}/transpose`, 'Transpose', [v, ints(`${scope}/transpose/perm`, [0, 1, 3, 2])], {
          T,
          Tperm: { type: 'DT_INT32' },
        });
        const p = add(`${scope}/Softmax`, 'Softmax', [tr], { T });
        // the expectation as Ultralytics' DFL computes it: a 1x1 conv with weights 0..c1-1 over the bins (B, 4, A, c1) -> (B, 4, A, 1)
        const bins = konst(`${scope}/conv/weight`, {
          dtype: 'DT_FLOAT',
          shape: [1, 1, c1, 1],
          data: Float32Array.from({ length: c1 }, (_, k) => k),
        });
        const e = add(`${scope}/conv/Conv2D`, 'Conv2D', [p, bins], {
          T,
          strides: { list: { i: [1, 1, 1, 1] } },
          padding: { s: 'VALID' },
          dilations: { list: { i: [1, 1, 1, 1] } },
          data_format: { s: 'NHWC' },
          use_cudnn_on_gpu: { b: true },
          explicit_paddings: { list: {} },
        });
        set(
          add(`${scope}/Reshape`, 'Reshape', [e, ints(`${scope}/Reshape/shape`, [B, 4, A])], {
            T,
            Tshape: { type: 'DT_INT32' },
          }),
        );
        break;
      }
      default:
        unsupported(n);
    }
  }
  const outs = g.outputIds();
  if (outs.length !== 1) throw new Error(`tf export: the graph has ${outs.length} outputs; export one tensor`);
  const out = add('Identity', 'Identity', [value(outs[0])], { T });
  return { nodes, input, output: { name: out, shape: shape(outs[0]) } };
}

/** OIHW -> HWIO. */
export function hwio(w: Float32Array, [O, I, kh, kw]: number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let oc = 0; oc < O; oc++)
    for (let ic = 0; ic < I; ic++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) out[((y * kw + x) * I + ic) * O + oc] = w[((oc * I + ic) * kh + y) * kw + x];
  return out;
}

function unsupported(n: Node, what = ''): never {
  throw new Error(`export: no TensorFlow rule for the op '${n.op}'${what ? ` (${what})` : ''} (at '${n.module}')`);
}
