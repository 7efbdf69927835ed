// Loading WGSL: real .wgsl files from shaders/, with the only templating the house allows:
// `#include "file.wgsl"`, named slots `/*@NAME*/` (the elementwise expression and element
// types), and `override` constants set at pipeline creation. Also reads, from the final text,
// the layout of `struct Params` and the declared bindings, so TS fills both by name.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';

export interface ParamField {
  name: string;
  offset: number;
  kind: 'u32' | 'i32' | 'f32';
  count: number;
}
export interface ParamLayout {
  fields: ParamField[];
  size: number;
}
export interface BindingDecl {
  binding: number;
  name: string;
  kind: 'uniform' | 'read' | 'read_write';
}

const fileCache = new Map<string, string>();

function readShader(file: string): string {
  let text = fileCache.get(file);
  if (text === undefined) {
    text = readFileSync(join(packageRoot(), 'shaders', file), 'utf8');
    fileCache.set(file, text);
  }
  return text.replace(/^#include\s+"([^"]+)"\s*$/gm, (_, inc) => readShader(inc));
}

/** Final WGSL of a shader file with its slots filled. Set YOLO_DUMP_WGSL=dir to write it out. */
export function buildShader(file: string, slots: Record<string, string> = {}): string {
  const code = readShader(file).replace(/\/\*@(\w+)\*\//g, (m, name) => {
    if (!(name in slots)) throw new Error(`shader ${file}: slot ${name} was not filled`);
    return slots[name];
  });
  const dump = process.env.YOLO_DUMP_WGSL;
  if (dump) {
    mkdirSync(dump, { recursive: true });
    const tag = Object.values(slots)
      .join('_')
      .replace(/[^\w]+/g, '_')
      .slice(0, 60);
    writeFileSync(join(dump, `${file.replace(/\.wgsl$/, '')}${tag ? '.' + tag : ''}.wgsl`), code);
  }
  return code;
}

const SCALAR: Record<string, ParamField['kind']> = { u32: 'u32', i32: 'i32', f32: 'f32' };

/** Uniform-buffer layout of `struct Params` (scalars, vec4s and arrays of vec4s of u32/i32/f32). */
export function parseParams(code: string, shaderName: string): ParamLayout | null {
  const m = /struct\s+Params\s*\{([^}]*)\}/.exec(code);
  if (!m) return null;
  const fields: ParamField[] = [];
  let offset = 0;
  const body = m[1].replace(/\/\/[^\n]*/g, '');
  for (const decl of splitTopLevel(body)) {
    const [, name, type] = /^(\w+)\s*:\s*(.+)$/.exec(decl) ?? [];
    let kind: ParamField['kind'] | undefined,
      count = 1,
      align = 4;
    let t: RegExpExecArray | null;
    if (SCALAR[type]) kind = SCALAR[type];
    else if ((t = /^vec4<(\w+)>$/.exec(type))) ((kind = SCALAR[t[1]]), (count = 4), (align = 16));
    else if ((t = /^array<vec4<(\w+)>,\s*(\d+)>$/.exec(type)))
      ((kind = SCALAR[t[1]]), (count = 4 * +t[2]), (align = 16));
    if (!name || !kind) throw new Error(`shader ${shaderName}: unsupported Params field '${decl}'`);
    offset = Math.ceil(offset / align) * align;
    fields.push({ name, offset, kind, count });
    offset += 4 * count;
  }
  return { fields, size: Math.ceil(offset / 16) * 16 };
}

/** Splits on commas outside <...>. */
function splitTopLevel(body: string): string[] {
  const parts: string[] = [];
  let depth = 0,
    cur = '';
  for (const ch of body) {
    if (ch === '<') depth++;
    if (ch === '>') depth--;
    if (ch === ',' && depth === 0) (parts.push(cur), (cur = ''));
    else cur += ch;
  }
  parts.push(cur);
  return parts.map((s) => s.trim()).filter(Boolean);
}

export function parseBindings(code: string): BindingDecl[] {
  const out: BindingDecl[] = [];
  const re = /@group\(0\)\s*@binding\((\d+)\)\s*var(?:<([\w\s,]+)>)?\s+(\w+)/g;
  for (let m; (m = re.exec(code));) {
    const space = (m[2] ?? '').replace(/\s/g, '');
    const kind = space === 'uniform' ? 'uniform' : space.endsWith('read_write') ? 'read_write' : 'read';
    out.push({ binding: +m[1], name: m[3], kind });
  }
  return out;
}

/** Packs a params object into the uniform layout; every field must be given, nothing extra. */
export function packParams(
  layout: ParamLayout,
  values: Record<string, number | readonly number[]>,
  kernel: string,
): ArrayBuffer {
  const buf = new ArrayBuffer(layout.size);
  const u32 = new Uint32Array(buf),
    i32 = new Int32Array(buf),
    f32 = new Float32Array(buf);
  for (const f of layout.fields) {
    const v = values[f.name];
    if (v === undefined) throw new Error(`kernel ${kernel}: params.${f.name} was not given`);
    const arr = typeof v === 'number' ? [v] : v;
    if (arr.length > f.count)
      throw new Error(`kernel ${kernel}: params.${f.name} has ${arr.length} values, room for ${f.count}`);
    const view = f.kind === 'u32' ? u32 : f.kind === 'i32' ? i32 : f32;
    for (let i = 0; i < arr.length; i++) view[f.offset / 4 + i] = arr[i];
  }
  for (const k of Object.keys(values))
    if (!layout.fields.some((f) => f.name === k)) throw new Error(`kernel ${kernel}: Params has no field '${k}'`);
  return buf;
}
