// OpenVINO IR v11 (<stem>.xml + <stem>.bin) from a fixed-size traced graph, the layers
// ov.convert_model's PyTorch frontend gives for these ops (IR spec: "OpenVINO IR format" and the
// operation specifications of opset1-11):
//
//   inputs -> Parameter (opset1) | conv2d -> Convolution (opset1) + Add of the (1, O, 1, 1) bias,
//   then Swish (opset4) for a fused SiLU | silu -> Swish | sigmoid -> Sigmoid | add/sub/mul/div and the
//   scalar rows -> Add/Subtract/Multiply/Divide (opset1, numpy broadcast) with a Const
//   | concat -> Concat (opset1) | narrows that tile an axis -> VariadicSplit (opset1); a lone narrow -> Slice (opset8)
//   | max_pool2d -> MaxPool (opset8) | upsample_nearest2d -> Interpolate (opset11, scales)
//   | reshape -> Reshape (opset1) | permute -> Transpose (opset1) | softmax -> SoftMax (opset8)
//   | dfl -> Reshape, Transpose, SoftMax, Convolution(0..15), Reshape | constants -> Const (opset1)
//   | the prediction -> Result (opset1).
// dynamic=True (what ov.convert_model(input=None) gives Ultralytics): the symbolic traced graph (engine/graph
// sizes B, H, W), the Parameter `shape="?,3,?,?"` and every size-dependent port dim -1 (IR v11's dynamic
// dimension), Reshape targets with special_zero (0 copies the batch, -1 the one size-dependent dim), and
// the anchors computed from the feature maps' shapes as the frontend converts make_anchors: ShapeOf
// (opset3) -> Gather (opset8) -> Convert -> Range (opset4) -> Broadcast (opset3) -> Reshape/Concat.
// half=True writes float weights as f16 Consts each followed by a Convert to f32 (what
// save_model(compress_to_fp16=True) writes). The .bin is the Consts' bytes at their offsets.
//
// Imports: engine (fp16), engine/graph, ./static_graph.
import { f32ToF16 } from '../../engine/io/torch_pt.js';
import type { Graph, Node } from '../../engine/graph/index.js';
import { tileGroup } from './ncnn_lower.js';

export type ElementType = 'f32' | 'f16' | 'i64';
const PRECISION: Record<ElementType, string> = { f32: 'FP32', f16: 'FP16', i64: 'I64' };

interface Port {
  dims: number[];
  type: ElementType;
}
interface Layer {
  id: number;
  name: string;
  type: string;
  version: string;
  data: Record<string, string>;
  inputs: Port[];
  outputs: Port[];
}
/** (layer id, output port index) */
type Src = [number, number];

export interface IrFiles {
  xml: string;
  bin: Uint8Array;
  layerTypes: Map<string, number>;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function lowerToOpenVino(
  g: Graph,
  o: { half: boolean; dynamic?: boolean; read: (id: number) => Float32Array; rtInfo: Record<string, string> },
): IrFiles {
  const dyn = !!o.dynamic;
  /** a value's port dims: numbers, -1 where the size depends on the input (dynamic) */
  const pdims = (id: number): number[] =>
    dyn ? g.values[id].shape.map((d) => (typeof d === 'number' ? d : -1)) : g.shapeOf(id);
  const layers: Layer[] = [];
  const edges: [Src, number, number][] = []; // from, to layer, to input index
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const src = new Map<number, Src>();
  const shapeOf = new Map<string, number[]>(); // `${layer}:${port}` -> dims
  const dims = (s: Src) => shapeOf.get(`${s[0]}:${s[1]}`)!;
  const typeOf = new Map<string, ElementType>();

  const layer = (
    type: string,
    version: string,
    name: string,
    ins: Src[],
    outs: Port[],
    data: Record<string, string> = {},
  ): Src[] => {
    const id = layers.length;
    layers.push({
      id,
      name,
      type,
      version,
      data,
      inputs: ins.map((s) => ({ dims: dims(s), type: typeOf.get(`${s[0]}:${s[1]}`)! })),
      outputs: outs,
    });
    ins.forEach((s, k) => edges.push([s, id, k]));
    outs.forEach((p, k) => (shapeOf.set(`${id}:${k}`, p.dims), typeOf.set(`${id}:${k}`, p.type)));
    return outs.map((_, k) => [id, k] as Src);
  };
  const constBytes = (name: string, bytes: Uint8Array, shape: number[], type: ElementType): Src => {
    const pad = (8 - (offset % 8)) % 8; // keep every Const 8-byte aligned
    if (pad) (chunks.push(new Uint8Array(pad)), (offset += pad));
    chunks.push(bytes);
    const [s] = layer('Const', 'opset1', name, [], [{ dims: shape, type }], {
      element_type: type,
      shape: shape.join(','),
      offset: String(offset),
      size: String(bytes.byteLength),
    });
    offset += bytes.byteLength;
    return s;
  };
  const floats = (name: string, data: Float32Array, shape: number[]): Src => {
    if (!o.half) return constBytes(name, new Uint8Array(Float32Array.from(data).buffer), shape, 'f32');
    const h = constBytes(name, new Uint8Array(f32ToF16(data).buffer), shape, 'f16');
    return layer('Convert', 'opset1', `${name}/decompress`, [h], [{ dims: shape, type: 'f32' }], {
      destination_type: 'f32',
    })[0];
  };
  const i64 = (name: string, v: number[], shape = [v.length]): Src =>
    constBytes(name, new Uint8Array(BigInt64Array.from(v, (x) => BigInt(x)).buffer), shape, 'i64');
  const f32 = (d: number[]): Port => ({ dims: d, type: 'f32' });
  const valueSrc = (id: number): Src => {
    const known = src.get(id);
    if (known) return known;
    const v = g.values[id];
    if (v.kind === 'input' || v.kind === 'node')
      throw new Error(`OpenVINO export: value %${id} is read before it is written`);
    const s = floats(v.name ?? `Constant_${id}`, o.read(id), g.shapeOf(id));
    src.set(id, s);
    return s;
  };
  const binary = (type: string, name: string, a: Src, b: Src, out: number[], et: ElementType = 'f32') =>
    layer(type, 'opset1', name, [a, b], [{ dims: out, type: et }], { auto_broadcast: 'numpy' })[0];
  /** Reshape to `target` (numbers; in a dynamic IR 0 copies that input dim and -1 is inferred) */
  const reshape = (name: string, x: Src, target: number[], out: number[]) =>
    layer('Reshape', 'opset1', name, [x, i64(`${name}/shape`, target)], [f32(out)], {
      special_zero: target.includes(0) ? 'true' : 'false',
    })[0];
  /** a reshape node's target: as traced (static); dynamic: dims equal to the input's at the same place -> 0, the one other symbolic dim -> -1 */
  const reshapeTarget = (n: Node): number[] => {
    if (!dyn) return g.shapeOf(n.outputs[0]);
    const target = n.attrs.shape as unknown[],
      inShape = g.values[n.inputs[0]!].shape;
    const spec = target.map((d, k) => (typeof d === 'number' ? d : String(d) === String(inShape[k]) ? 0 : -1));
    if (spec.filter((d) => d === -1).length > 1)
      throw new Error(
        `OpenVINO export: reshape at '${n.module}' to [${target.join(', ')}] has two size-dependent dims`,
      );
    return spec;
  };
  const conv = (name: string, x: Src, w: Src, ws: number[], out: number[], a: Record<string, any>) =>
    layer('Convolution', 'opset1', name, [x, w], [f32(out)], {
      strides: a.stride.join(','),
      dilations: a.dilation.join(','),
      pads_begin: a.padding.join(','),
      pads_end: a.padding.join(','),
      auto_pad: 'explicit',
    })[0];

  for (const id of g.inputs)
    src.set(
      id,
      layer('Parameter', 'opset1', 'x', [], [f32(pdims(id))], {
        shape: pdims(id)
          .map((d) => (d < 0 ? '?' : d))
          .join(','),
        element_type: 'f32',
      })[0],
    );
  const tiled = new Set<number>();
  for (const n of g.nodes) {
    if (tiled.has(n.id)) continue;
    const a = n.attrs as Record<string, any>;
    const name = (t: string) => `__module.${n.module}/${t}_${n.id}`;
    const out = pdims(n.outputs[0]);
    const x = () => valueSrc(n.inputs[0]!);
    let y: Src;
    switch (n.op) {
      case 'conv2d': {
        if (a.groups !== 1) {
          throw new Error(`OpenVINO export: grouped conv2d (GroupConvolution) has no rule yet (at '${n.module}')`);
        }
        const w = n.inputs[1]!,
          b = n.inputs[2];
        y = conv(name('Convolution'), x(), valueSrc(w), pdims(w), out, a);
        if (b != null)
          y = binary('Add', name('Add'), y, floats(g.values[b].name ?? `bias_${b}`, o.read(b), [1, out[1], 1, 1]), out);
        if (a.act === 'silu') y = layer('Swish', 'opset4', name('Swish'), [y], [f32(out)])[0];
        else if (a.act) throw new Error(`OpenVINO export: conv2d activation '${a.act}' has no rule (at '${n.module}')`);
        break;
      }
      case 'silu':
        y = layer('Swish', 'opset4', name('Swish'), [x()], [f32(out)])[0];
        break;
      case 'sigmoid':
        y = layer('Sigmoid', 'opset1', name('Sigmoid'), [x()], [f32(out)])[0];
        break;
      case 'identity':
        y = x();
        break;
      case 'add':
      case 'sub':
      case 'mul':
      case 'div': {
        const t = { add: 'Add', sub: 'Subtract', mul: 'Multiply', div: 'Divide' }[n.op as 'add'];
        y = binary(t, name(t), valueSrc(n.inputs[0]!), valueSrc(n.inputs[1]!), out);
        break;
      }
      case 'add_scalar':
      case 'mul_scalar':
      case 'div_scalar': {
        const t = { add_scalar: 'Add', mul_scalar: 'Multiply', div_scalar: 'Divide' }[n.op as 'add_scalar'];
        y = binary(t, name(t), x(), floats(name('Constant'), Float32Array.of(a.alpha), []), out);
        break;
      }
      case 'concat':
        y = layer(
          'Concat',
          'opset1',
          name('Concat'),
          n.inputs.map((i) => valueSrc(i!)),
          [f32(out)],
          { axis: String(a.axis) },
        )[0];
        break;
      case 'softmax':
        y = layer('SoftMax', 'opset8', name('Softmax'), [x()], [f32(out)], { axis: String(a.axis) })[0];
        break;
      case 'permute':
        y = layer('Transpose', 'opset1', name('Transpose'), [x(), i64(name('order'), a.axes)], [f32(out)])[0];
        break;
      case 'reshape':
        y = reshape(name('Reshape'), x(), reshapeTarget(n), out);
        break;
      case 'narrow': {
        const group = tileGroup(g, n);
        if (group) {
          group.forEach((m) => tiled.add(m.id));
          const outs = layer(
            'VariadicSplit',
            'opset1',
            name('VariadicSplit'),
            [
              x(),
              i64(name('axis'), [a.axis], []),
              i64(
                name('split_lengths'),
                group.map((m) => m.attrs.length as number),
              ),
            ],
            group.map((m) => f32(pdims(m.outputs[0]))),
          );
          group.forEach((m, k) => src.set(m.outputs[0], outs[k]));
          continue;
        }
        y = layer(
          'Slice',
          'opset8',
          name('Slice'),
          [
            x(),
            i64(name('start'), [a.start]),
            i64(name('stop'), [a.start + a.length]),
            i64(name('step'), [1]),
            i64(name('axes'), [a.axis]),
          ],
          [f32(out)],
        )[0];
        break;
      }
      case 'max_pool2d':
        y = layer('MaxPool', 'opset8', name('MaxPool'), [x()], [f32(out), { dims: out, type: 'i64' }], {
          strides: a.stride.join(','),
          dilations: a.dilation.join(','),
          pads_begin: a.padding.join(','),
          pads_end: a.padding.join(','),
          kernel: a.kernelSize.join(','),
          rounding_type: 'floor',
          auto_pad: 'explicit',
          index_element_type: 'i64',
          axis: '0',
        })[0];
        break;
      case 'upsample_nearest2d':
        y = layer(
          'Interpolate',
          'opset11',
          name('Interpolate'),
          [x(), floats(name('scales'), Float32Array.from(a.scale), [2]), i64(name('axes'), [2, 3])],
          [f32(out)],
          {
            mode: 'nearest',
            shape_calculation_mode: 'scales',
            coordinate_transformation_mode: 'asymmetric',
            nearest_mode: 'floor',
            antialias: 'false',
            pads_begin: '0,0,0,0',
            pads_end: '0,0,0,0',
            cube_coeff: '-0.75',
          },
        )[0];
        break;
      case 'dfl': {
        const c1 = a.regMax as number,
          [B, , A] = pdims(n.inputs[0]!);
        const v = reshape(name('Reshape'), x(), dyn ? [0, 4, c1, -1] : [B, 4, c1, A], [B, 4, c1, A]);
        const t = layer(
          'Transpose',
          'opset1',
          name('Transpose'),
          [v, i64(name('order'), [0, 2, 1, 3])],
          [f32([B, c1, 4, A])],
        )[0];
        const s = layer('SoftMax', 'opset8', name('Softmax'), [t], [f32([B, c1, 4, A])], { axis: '1' })[0];
        const c = conv(
          `__module.${n.module}.conv/Convolution_${n.id}`,
          s,
          floats(
            `${n.module}.conv.weight`,
            Float32Array.from({ length: c1 }, (_, k) => k),
            [1, c1, 1, 1],
          ),
          [1, c1, 1, 1],
          [B, 1, 4, A],
          { stride: [1, 1], dilation: [1, 1], padding: [0, 0] },
        );
        y = reshape(name('Reshape'), c, dyn ? [0, 4, -1] : [B, 4, A], [B, 4, A]);
        break;
      }
      case 'anchors': {
        // dynamic only (a static graph has them folded): per level, the grid of cell centres and the stride row
        const strides = a.strides as number[],
          offset = a.offset as number;
        const levels = n.inputs.map((f, i) => {
          const at = (t: string) => `${name(t)}_${i}`;
          const shape = layer('ShapeOf', 'opset3', at('ShapeOf'), [valueSrc(f!)], [{ dims: [4], type: 'i64' }], {
            output_type: 'i64',
          })[0];
          const gather = (axis: number, scalar: boolean) =>
            layer(
              'Gather',
              'opset8',
              at(`Gather${axis}${scalar ? 's' : ''}`),
              [
                shape,
                i64(at(`index${axis}${scalar ? 's' : ''}`), [axis], scalar ? [] : [1]),
                i64(at(`axis${axis}`), [0], []),
              ],
              [{ dims: scalar ? [] : [1], type: 'i64' }],
              { batch_dims: '0' },
            )[0];
          const range = (axis: number) => {
            const stop = layer(
              'Convert',
              'opset1',
              at(`Convert${axis}`),
              [gather(axis, true)],
              [{ dims: [], type: 'f32' }],
              { destination_type: 'f32' },
            )[0];
            const r = layer(
              'Range',
              'opset4',
              at(`Range${axis}`),
              [
                floats(at(`start${axis}`), Float32Array.of(0), []),
                stop,
                floats(at(`step${axis}`), Float32Array.of(1), []),
              ],
              [f32([-1])],
              { output_type: 'f32' },
            )[0];
            return binary('Add', at(`Add${axis}`), r, floats(at(`offset${axis}`), Float32Array.of(offset), []), [-1]);
          };
          const h1 = gather(2, false),
            w1 = gather(3, false);
          const hw = layer('Concat', 'opset1', at('hw'), [h1, w1], [{ dims: [2], type: 'i64' }], { axis: '0' })[0];
          const grid = (axis: number, to: number[]) => {
            const r = reshape(
              at(`Reshape${axis}`),
              range(axis),
              to,
              to.map((d) => (d === 1 ? 1 : -1)),
            );
            const b = layer('Broadcast', 'opset3', at(`Broadcast${axis}`), [r, hw], [f32([-1, -1])], {
              mode: 'numpy',
            })[0];
            return reshape(at(`Flatten${axis}`), b, [1, -1], [1, -1]);
          };
          const pts = layer('Concat', 'opset1', at('points'), [grid(3, [1, -1]), grid(2, [-1, 1])], [f32([2, -1])], {
            axis: '0',
          })[0]; // (2, h*w): x, y
          const count = binary('Multiply', at('count'), h1, w1, [1], 'i64');
          const target = layer(
            'Concat',
            'opset1',
            at('strideShape'),
            [i64(at('one'), [1]), count],
            [{ dims: [2], type: 'i64' }],
            { axis: '0' },
          )[0];
          const st = layer(
            'Broadcast',
            'opset3',
            at('stride'),
            [floats(at('strideValue'), Float32Array.of(strides[i]), [1, 1]), target],
            [f32([1, -1])],
            { mode: 'numpy' },
          )[0];
          return { pts, st };
        });
        const [p, q] = n.outputs;
        src.set(
          p,
          layer(
            'Concat',
            'opset1',
            name('Concat'),
            levels.map((l) => l.pts),
            [f32([2, -1])],
            { axis: '1' },
          )[0],
        );
        src.set(
          q,
          layer(
            'Concat',
            'opset1',
            name('Concat'),
            levels.map((l) => l.st),
            [f32([1, -1])],
            { axis: '1' },
          )[0],
        );
        continue;
      }
      default:
        throw new Error(`OpenVINO export: no OpenVINO rule for the op '${n.op}' (at '${n.module}')`);
    }
    src.set(n.outputs[0], y);
  }
  const outId = g.outputIds()[0];
  layer('Result', 'opset1', 'output0', [valueSrc(outId)], []);
  const bin = new Uint8Array(offset);
  let at = 0;
  for (const c of chunks) (bin.set(c, at), (at += c.byteLength));
  const layerTypes = new Map<string, number>();
  for (const l of layers) layerTypes.set(l.type, (layerTypes.get(l.type) ?? 0) + 1);
  return { xml: toXml(layers, edges, o.rtInfo, outId), bin, layerTypes };
}

function toXml(layers: Layer[], edges: [Src, number, number][], rt: Record<string, string>, _out: number): string {
  const port = (id: number, p: Port, names?: string) =>
    `\t\t\t\t<port id="${id}" precision="${PRECISION[p.type]}"${names ? ` names="${esc(names)}"` : ''}>\n${p.dims.map((d) => `\t\t\t\t\t<dim>${d}</dim>\n`).join('')}\t\t\t\t</port>\n`;
  const body = layers.map((l) => {
    const data = Object.keys(l.data).length
      ? `\t\t\t<data ${Object.entries(l.data)
          .map(([k, v]) => `${k}="${esc(v)}"`)
          .join(' ')} />\n`
      : '';
    const ins = l.inputs.length ? `\t\t\t<input>\n${l.inputs.map((p, k) => port(k, p)).join('')}\t\t\t</input>\n` : '';
    const outs = l.outputs.length
      ? `\t\t\t<output>\n${l.outputs.map((p, k) => port(l.inputs.length + k, p, l.type === 'Parameter' ? 'x' : l.type === 'Const' ? undefined : `${l.name}:${k}`)).join('')}\t\t\t</output>\n`
      : '';
    return `\t\t<layer id="${l.id}" name="${esc(l.name)}" type="${l.type}" version="${l.version}">\n${data}${ins}${outs}\t\t</layer>\n`;
  });
  const es = edges.map(
    ([[fl, fp], tl, ti]) =>
      `\t\t<edge from-layer="${fl}" from-port="${layers[fl].inputs.length + fp}" to-layer="${tl}" to-port="${ti}" />\n`,
  );
  const info = Object.entries(rt)
    .map(([k, v]) => `\t\t<${k} value="${esc(v)}" />\n`)
    .join('');
  return `<?xml version="1.0"?>\n<net name="Model0" version="11">\n\t<layers>\n${body.join('')}\t</layers>\n\t<edges>\n${es.join('')}\t</edges>\n\t<rt_info>\n\t\t<model_info>\n${info.replace(/^\t\t/gm, '\t\t\t')}\t\t</model_info>\n\t</rt_info>\n</net>\n`;
}
