// A reader for Core ML .mlpackage ML Programs written from the published schema: Manifest.json
// (rootModelIdentifier -> the spec's path), the Model protobuf (Model.proto / MIL.proto) and
// weights/weight.bin in the MIL blob v2 format (StorageFormat.hpp).
//
// readMlPackage checks as it decodes: the manifest's entries exist, the spec is an ML Program with
// a 'main' function and its opset's block, each op's arguments name a function input or an earlier
// op's output (nothing read before written), output names unique, each op's output shape (MIL op
// definitions) equal to its declared type, each const's blob record (sentinel, dtype, size, data
// offset) inside weight.bin and matching the const's type, each constexpr_lut_to_dense's lut/indices
// blobs and shape against each other (iOS16 op definition) and its output, the block output equal to the described
// output. An op type it does not know is an error naming it and the file.
//
// Imports: engine (fp16, protobuf), ./coreml_proto, ./palettize.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { f16ToF32 } from '../../engine/io/safetensors.js';
import { decode, type Message } from '../../engine/io/protobuf.js';
import { BLOB_FLOAT16, BLOB_FLOAT32, BLOB_SENTINEL, BLOB_UINT8, COREML_SCHEMA, MIL } from './coreml_proto.js';
import { unpalettize } from './palettize.js';

export interface BlobRecord {
  offset: number;
  range: [number, number];
  dtype: number;
}
export interface MilOp {
  type: string;
  inputs: Record<string, (string | number[] | string[] | Float32Array)[]>;
  outputs: { name: string; dims: number[]; dtype: number }[];
  blob?: BlobRecord;
  /** every blob the op reads (a constexpr: lut and indices), in attribute order */ blobs?: BlobRecord[];
}
export interface MlPackage {
  spec: Message;
  ops: MilOp[];
  /** constant values by name (const ops, float32) */
  consts: Map<string, Float32Array>;
  input: { name: string; dims: number[] };
  output: { name: string; dims: number[] };
  metadata: { key: string; value: string }[];
  specFile: string;
}

const SUPPORTED = [
  'const',
  'constexpr_lut_to_dense',
  'mul',
  'add',
  'sub',
  'real_div',
  'cast',
  'conv',
  'silu',
  'sigmoid',
  'concat',
  'split',
  'slice_by_index',
  'max_pool',
  'upsample_nearest_neighbor',
  'reshape',
  'transpose',
  'softmax',
];

const dimsOf = (vt: Message | undefined) =>
  ((vt?.tensorType as Message | undefined)?.dimensions as Message[] | undefined)?.map((d) =>
    Number((d.constant as Message | undefined)?.size ?? -1),
  ) ?? [];
const dtypeOf = (vt: Message | undefined) => ((vt?.tensorType as Message | undefined)?.dataType as number) ?? 0;

/** An immediate Value's contents. */
function immediateOf(v: Message): number[] | string[] {
  const t = (v.immediateValue as Message | undefined)?.tensor as Message | undefined;
  if (!t) return [];
  if (t.floats) return (t.floats as Message).values as number[];
  if (t.ints) return (t.ints as Message).values as number[];
  if (t.bools) return (t.bools as Message).values as number[];
  if (t.strings) return (t.strings as Message).values as string[];
  if (t.bytes) {
    const b = (t.bytes as Message).values as Uint8Array;
    return Array.from(f16ToF32(new Uint16Array(b.slice().buffer)));
  }
  return [];
}

export function readMlPackage(pkg: string): MlPackage {
  const manifestFile = join(pkg, 'Manifest.json');
  if (!existsSync(manifestFile)) throw new Error(`${pkg}: no Manifest.json (not an .mlpackage)`);
  let manifest: { rootModelIdentifier: string; itemInfoEntries: Record<string, { path: string; name: string }> };
  try {
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
  } catch (e) {
    throw new Error(`${manifestFile}: not valid JSON (${(e as Error).message})`);
  }
  const root = manifest.itemInfoEntries?.[manifest.rootModelIdentifier];
  if (!root)
    throw new Error(
      `${manifestFile}: rootModelIdentifier '${manifest.rootModelIdentifier}' has no itemInfoEntries entry`,
    );
  for (const [id, e] of Object.entries(manifest.itemInfoEntries))
    if (!existsSync(join(pkg, 'Data', e.path)))
      throw new Error(`${manifestFile}: entry ${id} points at Data/${e.path}, which does not exist`);
  const specFile = join(pkg, 'Data', root.path);
  const spec = decode(COREML_SCHEMA, 'Model', new Uint8Array(readFileSync(specFile)), specFile);
  const where = (s: string) => `${specFile}: ${s}`;
  const prog = spec.mlProgram as Message | undefined;
  if (!prog) throw new Error(where('not an ML Program (no mlProgram); this importer runs ML Programs'));
  const fn = (prog.functions as Message[]).find((f) => f.key === 'main')?.value as Message | undefined;
  if (!fn) throw new Error(where("the program has no 'main' function"));
  const block = (fn.block_specializations as Message[]).find((b) => b.key === fn.opset)?.value as Message | undefined;
  if (!block) throw new Error(where(`no block for the function's opset '${fn.opset}'`));
  const desc = spec.description as Message;
  const inDesc = (desc.input as Message[])[0],
    outDesc = (desc.output as Message[])[0];
  const fin = (fn.inputs as Message[])[0];
  if (!inDesc || !fin || inDesc.name !== fin.name)
    throw new Error(where(`the described input '${inDesc?.name}' is not the function's input '${fin?.name}'`));
  const inDims = dimsOf(fin.type as Message);
  const img = (inDesc.type as Message).imageType as Message | undefined;
  if (img && (Number(img.width) !== inDims[3] || Number(img.height) !== inDims[2]))
    throw new Error(where(`image input ${img.width}x${img.height} disagrees with the function input [${inDims}]`));

  const weightsFile = join(specFile, '..', 'weights', 'weight.bin');
  const wb = existsSync(weightsFile) ? new Uint8Array(readFileSync(weightsFile)) : new Uint8Array(0);
  const wv = new DataView(wb.buffer, wb.byteOffset, wb.byteLength);
  if (wb.byteLength && (wb.byteLength < 64 || wv.getUint32(4, true) !== 2))
    throw new Error(
      `${weightsFile}: not a blob v2 storage file (version ${wb.byteLength >= 8 ? wv.getUint32(4, true) : '?'})`,
    );

  /** a blobFileValue: its record (sentinel, dtype, size, data offset) checked against weight.bin and the value's type */
  const readBlob = (val: Message, name: string) => {
    const blob = val.blobFileValue as Message | undefined;
    if (!blob) throw new Error(where(`${name}: not a blob file value`));
    const dims = dimsOf(val.type as Message),
      dt = dtypeOf(val.type as Message),
      n = dims.reduce((a, b) => a * b, 1);
    const off = Number(blob.offset);
    if (off + 64 > wb.byteLength || wv.getUint32(off, true) !== BLOB_SENTINEL)
      throw new Error(
        where(
          `${name}: no blob metadata (sentinel 0xDEADBEEF) at offset ${off} of weight.bin (${wb.byteLength} bytes)`,
        ),
      );
    const bdt = wv.getUint32(off + 4, true),
      size = Number(wv.getBigUint64(off + 8, true)),
      dataAt = Number(wv.getBigUint64(off + 16, true));
    const [want, width] =
      dt === MIL.FLOAT16
        ? [BLOB_FLOAT16, 2]
        : dt === MIL.FLOAT32
          ? [BLOB_FLOAT32, 4]
          : dt === MIL.UINT8
            ? [BLOB_UINT8, 1]
            : [-1, 0];
    if (bdt !== want) throw new Error(where(`${name}: blob dtype ${bdt}, the value is MIL dtype ${dt}`));
    if (size !== n * width) throw new Error(where(`${name}: blob of ${size} bytes for ${n} values`));
    if (dataAt % 64 || dataAt + size > wb.byteLength)
      throw new Error(
        where(
          `${name}: blob data ${dataAt}..${dataAt + size} is misaligned or outside weight.bin (${wb.byteLength} bytes)`,
        ),
      );
    const bytes = wb.slice(dataAt, dataAt + size);
    const values =
      dt === MIL.FLOAT16
        ? f16ToF32(new Uint16Array(bytes.buffer))
        : dt === MIL.FLOAT32
          ? new Float32Array(bytes.buffer)
          : Float32Array.from(bytes);
    return {
      values,
      bytes,
      dims,
      dtype: dt,
      record: { offset: off, range: [off, dataAt + size] as [number, number], dtype: dt },
    };
  };
  const known = new Map<string, number[]>([[fin.name as string, inDims]]);
  const consts = new Map<string, Float32Array>();
  const ops: MilOp[] = [];
  for (const [k, m] of (block.operations as Message[]).entries()) {
    const type = m.type as string;
    const at = `op ${k} (${type})`;
    if (!SUPPORTED.includes(type))
      throw new Error(
        where(
          `op ${k} is the MIL op '${type}', which this importer does not implement (it implements ${SUPPORTED.join(', ')})`,
        ),
      );
    const inputs: MilOp['inputs'] = {};
    for (const e of m.inputs as Message[]) {
      inputs[e.key as string] = ((e.value as Message).arguments as Message[]).map((b) => {
        if (b.name !== undefined) {
          if (!known.has(b.name as string)) throw new Error(where(`${at} reads '${b.name}' before anything writes it`));
          return b.name as string;
        }
        return immediateOf(b.value as Message) as number[];
      });
    }
    const outputs = (m.outputs as Message[]).map((o) => ({
      name: o.name as string,
      dims: dimsOf(o.type as Message),
      dtype: dtypeOf(o.type as Message),
    }));
    const op: MilOp = { type, inputs, outputs };
    const attr = (key: string): Message => {
      const v = ((m.attributes as Message[] | undefined) ?? []).find((a) => a.key === key)?.value as
        Message | undefined;
      if (!v) throw new Error(where(`${at}: no '${key}' attribute`));
      return v;
    };
    const shape = (p: string, j = 0) => known.get(inputs[p]?.[j] as string)!;
    const num = (p: string) => (inputs[p]?.[0] as number[] | undefined) ?? [];
    let outs: number[][];
    switch (type) {
      case 'const': {
        const val = attr('val');
        const dims = dimsOf(val.type as Message);
        if (val.blobFileValue) {
          const b = readBlob(val, `${at} '${outputs[0].name}'`);
          consts.set(outputs[0].name, b.values);
          ((op.blob = b.record), (op.blobs = [b.record]));
        } else consts.set(outputs[0].name, Float32Array.from(immediateOf(val) as number[]));
        outs = [dims];
        break;
      }
      case 'constexpr_lut_to_dense': {
        // iOS16: lut (NUM_PALETTES,) float, indices (ceil(nbits * n / 8),) uint8 packed LSB-first, shape (rank,) uint32
        const name = `${at} '${outputs[0].name}'`;
        const lut = readBlob(attr('lut'), `${name} lut`),
          idx = readBlob(attr('indices'), `${name} indices`);
        const shapeV = attr('shape'),
          dims = immediateOf(shapeV) as number[];
        if (dtypeOf(shapeV.type as Message) !== MIL.UINT32)
          throw new Error(where(`${name}: shape is MIL dtype ${dtypeOf(shapeV.type as Message)}, not uint32`));
        const k = lut.values.length,
          nbits = Math.log2(k),
          n = dims.reduce((a, b) => a * b, 1);
        if (![1, 2, 4, 6, 8].includes(nbits))
          throw new Error(where(`${name}: a lut of ${k} entries (NUM_PALETTES must be 2, 4, 16, 64 or 256)`));
        if (lut.dims.length !== 1 || (lut.dtype !== MIL.FLOAT16 && lut.dtype !== MIL.FLOAT32))
          throw new Error(where(`${name}: lut must be a 1-D float tensor`));
        if (idx.dtype !== MIL.UINT8 || idx.values.length !== Math.ceil((nbits * n) / 8))
          throw new Error(
            where(
              `${name}: indices hold ${idx.values.length} uint8 values, [${dims}] at ${nbits} bits needs ${Math.ceil((nbits * n) / 8)}`,
            ),
          );
        if (lut.dtype !== outputs[0].dtype)
          throw new Error(where(`${name}: lut dtype ${lut.dtype}, output dtype ${outputs[0].dtype}`));
        consts.set(outputs[0].name, unpalettize(lut.values, idx.bytes, n));
        op.blobs = [lut.record, idx.record];
        outs = [dims];
        break;
      }
      case 'mul':
      case 'add':
      case 'sub':
      case 'real_div': {
        const x = shape('x'),
          y = typeof inputs.y[0] === 'string' ? shape('y') : [];
        const r = Math.max(x.length, y.length);
        outs = [Array.from({ length: r }, (_, j) => Math.max(x[x.length - r + j] ?? 1, y[y.length - r + j] ?? 1))];
        break;
      }
      case 'cast':
      case 'silu':
      case 'sigmoid':
      case 'softmax':
        outs = [shape('x')];
        break;
      case 'conv': {
        const x = shape('x'),
          w = shape('weight'),
          s = num('strides'),
          p = num('pad'),
          d = num('dilations');
        if ((inputs.pad_type?.[0] as string[])?.[0] !== 'custom' || p[0] !== p[1] || p[2] !== p[3])
          throw new Error(where(`${at}: only custom symmetric pads are implemented`));
        outs = [
          [
            x[0],
            w[0],
            ...[0, 1].map((j) => Math.floor((x[2 + j] + 2 * p[2 * j] - d[j] * (w[2 + j] - 1) - 1) / s[j]) + 1),
          ],
        ];
        break;
      }
      case 'concat': {
        const xs = inputs.values.map((_, j) => shape('values', j)),
          ax = (num('axis')[0] + xs[0].length) % xs[0].length;
        outs = [xs[0].map((v, j) => (j === ax ? xs.reduce((s, x) => s + x[j], 0) : v))];
        break;
      }
      case 'split': {
        const x = shape('x'),
          sz = num('split_sizes'),
          ax = num('axis')[0];
        if (sz.reduce((a, b) => a + b, 0) !== x[ax])
          throw new Error(where(`${at}: split_sizes [${sz}] do not cover ${x[ax]}`));
        outs = sz.map((n) => x.map((v, j) => (j === ax ? n : v)));
        break;
      }
      case 'slice_by_index':
        outs = [num('end').map((e, j) => e - num('begin')[j])];
        break;
      case 'max_pool': {
        const x = shape('x'),
          kk = num('kernel_sizes'),
          s = num('strides'),
          p = num('pad');
        outs = [[x[0], x[1], ...[0, 1].map((j) => Math.floor((x[2 + j] + 2 * p[2 * j] - kk[j]) / s[j]) + 1)]];
        break;
      }
      case 'upsample_nearest_neighbor': {
        const x = shape('x');
        outs = [[x[0], x[1], x[2] * num('scale_factor_height')[0], x[3] * num('scale_factor_width')[0]]];
        break;
      }
      case 'reshape': {
        const x = shape('x'),
          s = num('shape');
        if (s.reduce((a, b) => a * b, 1) !== x.reduce((a, b) => a * b, 1))
          throw new Error(where(`${at}: cannot reshape [${x}] to [${s}]`));
        outs = [s];
        break;
      }
      case 'transpose':
        outs = [num('perm').map((a) => shape('x')[a])];
        break;
      default:
        throw new Error(where(`${at}: unreachable`));
    }
    if (outs.length !== outputs.length)
      throw new Error(where(`${at}: declares ${outputs.length} outputs, the op gives ${outs.length}`));
    outputs.forEach((o, j) => {
      if (known.has(o.name)) throw new Error(where(`${at}: output '${o.name}' is already defined`));
      if (o.dims.join() !== outs[j].join())
        throw new Error(where(`${at}: output '${o.name}' is typed [${o.dims}], the op gives [${outs[j]}]`));
      known.set(o.name, o.dims);
    });
    ops.push(op);
  }
  const outName = (block.outputs as string[])[0];
  if (!known.has(outName)) throw new Error(where(`the block output '${outName}' is not defined`));
  const outDims = ((outDesc?.type as Message)?.multiArrayType as Message | undefined)?.shape as number[] | undefined;
  if (!outDesc || outDesc.name !== outName || (outDims && outDims.join() !== known.get(outName)!.join()))
    throw new Error(
      where(
        `the described output '${outDesc?.name}' [${outDims}] is not the block output '${outName}' [${known.get(outName)}]`,
      ),
    );
  const md = (desc.metadata as Message | undefined) ?? {};
  const metadata = [
    ...(md.shortDescription ? [{ key: 'description', value: md.shortDescription as string }] : []),
    ...(md.author ? [{ key: 'author', value: md.author as string }] : []),
    ...(md.versionString ? [{ key: 'version', value: md.versionString as string }] : []),
    ...(md.license ? [{ key: 'license', value: md.license as string }] : []),
    ...((md.userDefined as Message[] | undefined) ?? []).map((e) => ({
      key: e.key as string,
      value: e.value as string,
    })),
  ];
  return {
    spec,
    ops,
    consts,
    input: { name: fin.name as string, dims: inDims },
    output: { name: outName, dims: known.get(outName)! },
    metadata,
    specFile,
  };
}
