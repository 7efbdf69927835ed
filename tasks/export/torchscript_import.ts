// Running a TorchScript export (`<stem>.torchscript`) through the engine, as Ultralytics' AutoBackend
// runs it with torch.jit.load: `YOLO('yolov8n-pose.torchscript')`, `yolo pose predict model=...`.
// The archive is the one ./torchscript.ts writes: a zip with <name>/data.pkl (the module object, its
// tensors as storages; read by engine/io/torch_pt.ts's unpickler with the class allowed),
// <name>/code/__torch__/*.py (the forward: straight-line statements `_k = torch.op(...)`, nested calls
// allowed) and <name>/extra/config.txt (Ultralytics' metadata, JSON). Each statement is parsed into a
// call tree and evaluated with engine ops; an op outside the set ./torchscript.ts emits is an error
// naming it and the file. Scripted models with control flow (if/for) are not read.
//
// Imports: node, engine (io, ops), ./metadata, ./ncnn_model (session glue), ./onnx_model (type).
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as E from '../../engine/index.js';
import type { Device, Tensor } from '../../engine/index.js';
import { parseTorchCheckpoint, TorchTensor } from '../../engine/io/torch_pt.js';
import { ZipReader } from '../../engine/io/zip.js';
import { PyInstance } from '../../engine/io/pickle.js';
import { metadataProps, readMetadata, type ExportMetadata } from './metadata.js';
import { poseModelOf, type ExportedSession } from './ncnn_model.js';
import type { OnnxPoseModel } from './onnx_model.js';

export const isTorchScript = (p: string) => /\.torchscript$/i.test(p) && existsSync(p) && statSync(p).isFile();

/** A parsed expression: a name (`_3`, `images`, `self.w`), a literal, a list, or a call `torch.op(args)`. */
type Expr =
  | { name: string }
  | { num: number }
  | { none: true }
  | { bool: boolean }
  | { list: Expr[] }
  | { call: string; args: Expr[] };

/** Parses one TorchScript expression (the subset ./torchscript.ts writes). */
export function parseExpr(src: string, where: string): Expr {
  const toks = src.match(/-?\d+\.?\d*(?:e[-+]?\d+)?|[A-Za-z_][\w.]*|[()[\],]/gi) ?? [];
  if (toks.join('') !== src.replace(/\s+/g, '')) throw new Error(`${where}: cannot parse '${src}'`);
  let p = 0;
  const seq = (close: string): Expr[] => {
    const out: Expr[] = [];
    while (toks[p] !== close) {
      out.push(expr());
      if (toks[p] === ',') p++;
      else if (toks[p] !== close) throw new Error(`${where}: expected ',' or '${close}' in '${src}'`);
    }
    p++;
    return out;
  };
  const expr = (): Expr => {
    const t = toks[p++];
    if (t === undefined) throw new Error(`${where}: unexpected end of '${src}'`);
    if (t === '[') return { list: seq(']') };
    if (/^-?\d/.test(t)) return { num: Number(t) };
    if (t === 'None') return { none: true };
    if (t === 'True' || t === 'False') return { bool: t === 'True' };
    if (/^[A-Za-z_]/.test(t)) {
      if (toks[p] === '(') {
        p++;
        return { call: t, args: seq(')') };
      }
      return { name: t };
    }
    throw new Error(`${where}: unexpected '${t}' in '${src}'`);
  };
  const e = expr();
  if (p !== toks.length) throw new Error(`${where}: trailing '${toks.slice(p).join(' ')}' in '${src}'`);
  return e;
}

interface Program {
  input: string;
  statements: { target: string; expr: Expr }[];
  result: Expr;
}

/** The forward of the class source: its input name, `_k = expr` statements and the return. */
function parseForward(code: string, file: string): Program {
  const lines = code.split('\n');
  const start = lines.findIndex((l) => /^\s+def forward\(/.test(l));
  if (start < 0) throw new Error(`${file}: the TorchScript code has no forward()`);
  const sig = lines.slice(start, start + 3).join(' ');
  const input = /def forward\(self[^,]*,\s*([A-Za-z_]\w*)\s*:\s*Tensor\)/.exec(sig)?.[1];
  if (!input) throw new Error(`${file}: forward must take one Tensor input (found '${sig.trim()}')`);
  const body = lines.slice(start).findIndex((l) => /\)\s*->\s*Tensor:\s*$/.test(l));
  const statements: Program['statements'] = [];
  let result: Expr | null = null;
  for (const [k, line] of lines.slice(start + body + 1).entries()) {
    const where = `${file}: forward line ${k + 1}`;
    if (!line.trim()) continue;
    if (result) throw new Error(`${where}: code after the return`);
    const ret = /^\s+return\s+(.+)$/.exec(line);
    if (ret) {
      result = parseExpr(ret[1], where);
      continue;
    }
    const m = /^\s+([A-Za-z_]\w*)\s*=\s*(.+)$/.exec(line);
    if (!m)
      throw new Error(
        `${where}: '${line.trim()}' is not an assignment (this importer reads straight-line forwards: no control flow)`,
      );
    statements.push({ target: m[1], expr: parseExpr(m[2], where) });
  }
  if (!result) throw new Error(`${file}: forward has no return`);
  return { input, statements, result };
}

const OPS = [
  'conv2d',
  'silu',
  'sigmoid',
  'relu',
  'exp',
  'neg',
  'add',
  'sub',
  'mul',
  'div',
  'rsub',
  'cat',
  'softmax',
  'permute',
  'transpose',
  'narrow',
  'slice',
  'reshape',
  'max_pool2d',
  'upsample_nearest2d',
];

export class TorchScriptSession implements ExportedSession {
  readonly proto: ExportedSession['proto'];
  readonly inputNames: string[];
  readonly inputDims: Map<string, (number | string)[]>;
  readonly program: Program;
  readonly attrs = new Map<string, Tensor>();

  constructor(
    readonly file: string,
    readonly device: Device,
  ) {
    const buf = new Uint8Array(readFileSync(file));
    const zip = new ZipReader(buf, file);
    const pkl = zip.names().find((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (!pkl) throw new Error(`${file}: no '<name>/data.pkl': not a TorchScript archive`);
    const root = pkl.slice(0, -'data.pkl'.length);
    const codes = zip.names().filter((n) => n.startsWith(`${root}code/`) && n.endsWith('.py'));
    if (codes.length !== 1)
      throw new Error(
        `${file}: expected one module source under ${root}code/, found ${codes.length} (${codes.join(', ')})`,
      );
    const code = new TextDecoder().decode(zip.read(codes[0]));
    const cls = /^class\s+(\w+)\(Module\):/m.exec(code)?.[1];
    const qual = `__torch__.${codes[0].slice(`${root}code/__torch__/`.length, -3).replace(/\//g, '.')}.${cls}`;
    const obj = parseTorchCheckpoint(buf, file, { allowClasses: [qual] });
    if (!(obj instanceof PyInstance)) throw new Error(`${file}: data.pkl does not hold a module object`);
    for (const [k, v] of Object.entries(obj))
      if (v instanceof TorchTensor) this.attrs.set(`self.${k}`, E.tensor(v.toFloat32(), v.shape, { device }));
    this.program = parseForward(code, codes[0]);
    const config = `${root}extra/config.txt`;
    const md = zip.has(config) ? (JSON.parse(new TextDecoder().decode(zip.read(config))) as ExportMetadata) : null;
    this.proto = { metadata_props: md ? metadataProps(md) : [] };
    const meta = readMetadata(this.proto.metadata_props, `${file} (${config})`);
    const [h, w] = (meta.imgsz as number[] | undefined) ?? [640, 640];
    this.inputNames = [this.program.input];
    this.inputDims = new Map([[this.program.input, [Number(meta.batch ?? 1), 3, h, w]]]); // traced at a fixed size
    // check every call against the implemented set up front: a foreign archive fails at load, naming the op
    const visit = (e: Expr) => {
      if ('call' in e) {
        const op = e.call.replace(/^torch\./, '');
        if (!e.call.startsWith('torch.') || !OPS.includes(op))
          throw new Error(
            `${file}: forward calls '${e.call}', which this importer does not implement (it implements torch.${OPS.join(', torch.')})`,
          );
        e.args.forEach(visit);
      } else if ('list' in e) e.list.forEach(visit);
      else if ('name' in e && e.name.startsWith('self.') && !this.attrs.has(e.name))
        throw new Error(`${file}: forward reads '${e.name}', which data.pkl does not hold`);
    };
    for (const s of this.program.statements) visit(s.expr);
    visit(this.program.result);
  }

  run(feeds: Record<string, Tensor>): Tensor[] {
    return E.tidy(() => {
      const env = new Map<string, Tensor>(this.attrs);
      env.set(this.program.input, feeds[this.program.input]);
      const ev = (e: Expr): unknown => {
        if ('num' in e) return e.num;
        if ('none' in e) return null;
        if ('bool' in e) return e.bool;
        if ('list' in e) return e.list.map(ev);
        if ('name' in e) {
          const t = env.get(e.name);
          if (!t) throw new Error(`${this.file}: '${e.name}' is read before it is written`);
          return t;
        }
        const a = e.args.map(ev) as any[];
        const pair = (v: number[]) => [v[0], v[1] ?? v[0]] as [number, number];
        switch (e.call.slice('torch.'.length)) {
          case 'conv2d':
            return E.conv2d(a[0], a[1], a[2] ?? null, {
              stride: pair(a[3] ?? [1]),
              padding: pair(a[4] ?? [0]),
              dilation: pair(a[5] ?? [1]),
              groups: a[6] ?? 1,
            });
          case 'silu':
            return E.silu(a[0]);
          case 'sigmoid':
            return E.sigmoid(a[0]);
          case 'relu':
            return E.relu(a[0]);
          case 'exp':
            return E.exp(a[0]);
          case 'neg':
            return E.neg(a[0]);
          case 'add':
            return E.add(a[0], a[1]);
          case 'sub':
            return E.sub(a[0], a[1]);
          case 'mul':
            return E.mul(a[0], a[1]);
          case 'div':
            return E.div(a[0], a[1]);
          case 'rsub':
            return E.sub(E.mul(a[0], -1), -a[1]); // alpha - x
          case 'cat':
            return E.concat(a[0], a[1] ?? 0);
          case 'softmax':
            return E.softmax(a[0], a[1]);
          case 'permute':
            return E.permute(a[0], a[1]);
          case 'transpose':
            return E.transpose(a[0], a[1], a[2]);
          case 'narrow':
            return E.narrow(a[0], a[1], a[2], a[3]);
          case 'slice':
            return E.slice(a[0], a[1], a[2], a[3], a[4] ?? 1);
          case 'reshape':
            return E.reshape(E.contiguous(a[0]), a[1]);
          case 'max_pool2d':
            return E.maxPool2d(a[0], {
              kernelSize: pair(a[1]),
              stride: pair(a[2] ?? a[1]),
              padding: pair(a[3] ?? [0]),
            });
          case 'upsample_nearest2d': {
            const x = a[0] as Tensor,
              [h, w] = a[1] as number[];
            return E.upsampleNearest2d(x, [h / x.shape[2], w / x.shape[3]]);
          }
          default:
            throw new Error(`${this.file}: '${e.call}' cannot run`);
        }
      };
      for (const s of this.program.statements) env.set(s.target, ev(s.expr) as Tensor);
      return [ev(this.program.result) as Tensor];
    }) as unknown as Tensor[];
  }

  dispose() {
    for (const t of this.attrs.values()) t.dispose();
  }
}

export function loadTorchScriptModel(file: string, device: Device): OnnxPoseModel {
  return poseModelOf(new TorchScriptSession(file, device), file, 'TorchScript');
}
