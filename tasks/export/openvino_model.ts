// Running an OpenVINO export (`<stem>_openvino_model/` with <stem>.xml, <stem>.bin, metadata.yaml)
// through the engine, as Ultralytics' AutoBackend runs it with openvino: the first *.xml of the
// folder, input (B, 3, H, W), the Result's (B, 4 + nc + K * ndim, A) out. ./openvino_format.ts
// decodes and checks the IR; each layer then runs as the engine op it names, in topological order.
// A dynamic IR's shape arithmetic (ShapeOf, Gather, i64 Concat/Multiply, Range's bounds, Reshape and
// Broadcast targets) runs on the host at run time; the rest on the device.
//
// Imports: engine, ./openvino_format, ./folder_metadata, ./metadata, ./ncnn_model (session glue).
import { readFileSync, existsSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import type { Device, Tensor } from '../../engine/index.js';
import { readIr, type IrModel } from './openvino_format.js';
import { readMetadataYaml } from './folder_metadata.js';
import { readMetadata } from './metadata.js';
import { poseModelOf, type ExportedSession } from './ncnn_model.js';
import type { OnnxPoseModel } from './onnx_model.js';

export function openVinoXml(path: string): string | null {
  if (!existsSync(path)) return null;
  if (statSync(path).isFile()) return path.endsWith('.xml') ? path : null;
  const xml = readdirSync(path)
    .filter((f) => f.endsWith('.xml'))
    .sort()[0];
  return xml ? join(path, xml) : null;
}

export class OpenVinoSession implements ExportedSession {
  readonly proto: ExportedSession['proto'];
  readonly inputNames: string[];
  readonly inputDims: Map<string, (number | string)[]>;
  readonly ir: IrModel;
  private readonly consts = new Map<number, Tensor>();

  constructor(
    readonly xmlFile: string,
    readonly device: Device,
  ) {
    const binFile = xmlFile.replace(/\.xml$/, '.bin');
    if (!existsSync(binFile))
      throw new Error(`${xmlFile}: no ${binFile} beside it (an OpenVINO IR is an .xml and its .bin)`);
    this.ir = readIr(readFileSync(xmlFile, 'utf8'), new Uint8Array(readFileSync(binFile)), xmlFile);
    const params = this.ir.layers.filter((l) => l.type === 'Parameter');
    this.inputNames = params.map((l) => l.name);
    // a dynamic dim (-1) as a name, which is how OnnxPoseModel tells a dynamic input
    this.inputDims = new Map(
      params.map((l) => [
        l.name,
        l.outputs[0].dims.map((d, k) => (d < 0 ? (['batch', 'channels', 'height', 'width'][k] ?? `d${k}`) : d)),
      ]),
    );
    const mdFile = join(xmlFile, '..', 'metadata.yaml');
    this.proto = { metadata_props: readMetadataYaml(mdFile) };
    readMetadata(this.proto.metadata_props, mdFile); // bad metadata fails here, naming the file
    for (const l of this.ir.layers)
      if ((l.type === 'Const' || l.type === 'Convert') && l.value instanceof Float32Array)
        this.consts.set(l.id, E.tensor(l.value, l.outputs[0].dims, { device }));
  }

  run(feeds: Record<string, Tensor>): Tensor[] {
    return E.tidy(() => {
      const vals = new Map<string, Tensor>();
      const get = (l: { from: [number, number][] }, k: number) => vals.get(`${l.from[k][0]}:${l.from[k][1]}`)!;
      const hostVals = new Map<string, { v: number[]; dims: number[] }>(); // i64 values computed at run time
      const host = (l: { from: [number, number][] }, k: number) =>
        (hostVals.get(`${l.from[k][0]}:${l.from[k][1]}`)?.v ??
          this.ir.layers.find((m) => m.id === l.from[k][0])!.value) as number[] & Float32Array;
      const setHost = (l: { id: number }, v: number[], dims: number[]) => hostVals.set(`${l.id}:0`, { v, dims });
      const isHost = (l: { from: [number, number][] }, k: number) =>
        hostVals.has(`${l.from[k][0]}:${l.from[k][1]}`) ||
        this.ir.layers.find((m) => m.id === l.from[k][0])!.elementType === 'i64';
      let result: Tensor | null = null;
      for (const l of this.ir.order) {
        const x = () => get(l, 0);
        const ints = (s: string) => s.split(',').map(Number);
        let outs: Tensor[];
        switch (l.type) {
          case 'Parameter':
            outs = [feeds[l.name]];
            break;
          case 'Const':
            outs = this.consts.has(l.id) ? [this.consts.get(l.id)!] : [];
            break;
          case 'Convert':
            if (this.consts.has(l.id)) outs = [this.consts.get(l.id)!];
            else if (isHost(l, 0)) {
              const v = Array.from(host(l, 0)),
                dims = hostVals.get(`${l.from[0][0]}:${l.from[0][1]}`)?.dims ?? l.outputs[0].dims;
              setHost(l, v, dims);
              outs = [E.tensor(Float32Array.from(v), dims, { device: this.device })];
            } else outs = [x()];
            break;
          case 'ShapeOf':
            setHost(l, [...x().shape], [x().ndim]);
            outs = [];
            break;
          case 'Gather': {
            const data = host(l, 0),
              idx = host(l, 1),
              iv = hostVals.get(`${l.from[1][0]}:${l.from[1][1]}`);
            setHost(
              l,
              Array.from(idx, (i) => data[i < 0 ? i + data.length : i]),
              iv?.dims ?? l.outputs[0].dims,
            );
            outs = [];
            break;
          }
          case 'Range': {
            const [a] = host(l, 0),
              [b] = host(l, 1),
              [c] = host(l, 2);
            outs = [E.arange(a, b, c, { dtype: 'f32', device: this.device })];
            break;
          }
          case 'Broadcast':
            outs = [E.contiguous(E.expand(x(), Array.from(host(l, 1))))];
            break;
          case 'Convolution': {
            const p = ints(l.data.pads_begin);
            outs = [
              E.conv2d(x(), get(l, 1), null, {
                stride: ints(l.data.strides) as [number, number],
                padding: p as [number, number],
                dilation: ints(l.data.dilations) as [number, number],
              }),
            ];
            break;
          }
          case 'Add':
            outs = [E.add(x(), get(l, 1))];
            break;
          case 'Subtract':
            outs = [E.sub(x(), get(l, 1))];
            break;
          case 'Multiply':
            if (isHost(l, 0)) {
              const a = host(l, 0),
                b = host(l, 1);
              setHost(
                l,
                Array.from(a, (v, k) => v * b[b.length === 1 ? 0 : k]),
                l.outputs[0].dims,
              );
              outs = [];
            } else outs = [E.mul(x(), get(l, 1))];
            break;
          case 'Divide':
            outs = [E.div(x(), get(l, 1))];
            break;
          case 'Swish':
            outs = [E.silu(x())];
            break;
          case 'Sigmoid':
            outs = [E.sigmoid(x())];
            break;
          case 'SoftMax':
            outs = [E.softmax(x(), Number(l.data.axis))];
            break;
          case 'Concat':
            if (l.outputs[0].precision === 'I64') {
              const v = l.from.flatMap((_, k) => Array.from(host(l, k)));
              setHost(l, v, [v.length]);
              outs = [];
            } else
              outs = [
                E.concat(
                  l.from.map((_, k) => get(l, k)),
                  (Number(l.data.axis) + l.inputs[0].dims.length) % l.inputs[0].dims.length,
                ),
              ];
            break;
          case 'VariadicSplit': {
            const [ax] = host(l, 1),
              lens = host(l, 2);
            let at = 0;
            outs = Array.from(lens, (n) => E.narrow(x(), ax, (at += n) - n, n));
            break;
          }
          case 'Slice': {
            const [st] = host(l, 1),
              [ax] = host(l, 4);
            outs = [E.narrow(x(), ax, st, l.outputs[0].dims[ax])];
            break;
          }
          case 'MaxPool': {
            const y = E.maxPool2d(x(), {
              kernelSize: ints(l.data.kernel) as [number, number],
              stride: ints(l.data.strides) as [number, number],
              padding: ints(l.data.pads_begin) as [number, number],
            });
            outs = [y, y]; // the indices output is not read by these models
            break;
          }
          case 'Interpolate': {
            const sc = host(l, 1);
            outs = [E.upsampleNearest2d(x(), [sc[0], sc[1]])];
            break;
          }
          case 'Reshape': {
            // the target at run time: 0 copies the input dim (special_zero), one -1 is inferred
            const xs = x().shape,
              t = Array.from(host(l, 1), (d, k) => (d === 0 && l.data.special_zero === 'true' ? xs[k] : d));
            const n = xs.reduce((a, b) => a * b, 1),
              known = t.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
            outs = [
              E.reshape(
                E.contiguous(x()),
                t.map((d) => (d === -1 ? n / known : d)),
              ),
            ];
            break;
          }
          case 'Transpose':
            outs = [E.permute(x(), Array.from(host(l, 1)))];
            break;
          case 'Result':
            result = x();
            outs = [];
            break;
          default:
            throw new Error(`${this.xmlFile}: layer type '${l.type}' cannot run`);
        }
        outs.forEach((t, k) => vals.set(`${l.id}:${k}`, t));
      }
      if (!result) throw new Error(`${this.xmlFile}: no Result layer`);
      return [result];
    }) as unknown as Tensor[];
  }

  dispose() {
    for (const t of this.consts.values()) t.dispose();
  }
}

export function loadOpenVinoModel(path: string, device: Device): OnnxPoseModel {
  const xml = openVinoXml(path)!;
  return poseModelOf(new OpenVinoSession(xml, device), path, 'OpenVINO');
}
