// The metadata Ultralytics stores in an exported model, and reading it back.
//
// Ultralytics' Exporter writes each value as Python's str(v) into ONNX metadata_props, and its
// AutoBackend reads them back with int() (stride, batch) and eval() (imgsz, names, kpt_shape).
// So `names` is a Python dict literal ("{0: 'person'}") and `imgsz` a list ("[640, 640]").
// pyStr reproduces str() for the values involved; parsePyLiteral is a safe reader for those
// literals (dicts, lists, tuples, strings, numbers, True/False/None), never an eval.
//
// Imports: node only.

export type PyValue = string | number | boolean | null | PyValue[] | { [k: string]: PyValue };

/** Python's repr() of a str: single quotes unless the text has ' and no ". */
export function pyReprStr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === q) out += '\\' + q;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + q;
}

/** Python's repr() for the value shapes metadata uses; `intKeys` marks dicts whose keys are ints (names). */
export function pyRepr(v: PyValue, intKeys = false): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pyFloat(v);
  if (typeof v === 'string') return pyReprStr(v);
  if (Array.isArray(v)) return `[${v.map((x) => pyRepr(x)).join(', ')}]`;
  return `{${Object.entries(v)
    .map(([k, x]) => `${intKeys ? k : pyReprStr(k)}: ${pyRepr(x)}`)
    .join(', ')}}`;
}

/** str(v): strings as they are, everything else as repr. */
export function pyStr(v: PyValue, intKeys = false): string {
  return typeof v === 'string' ? v : pyRepr(v, intKeys);
}

function pyFloat(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  const s = String(v);
  return /e/.test(s) ? s.replace(/e([+-])(\d)$/, 'e$10$2') : s;
}

/** Python's datetime.now().isoformat(): local time with microseconds (omitted when zero). */
export function isoformatNow(d = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const base = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  // JS clocks give milliseconds; microseconds are those times 1000
  return d.getMilliseconds() ? `${base}.${p(d.getMilliseconds() * 1000, 6)}` : base;
}

/** Reads a Python literal (what str() of a dict/list/number/string gives). Throws on anything else. */
export function parsePyLiteral(text: string): PyValue {
  return new PyLiteralReader(text).all();
}

/** A recursive-descent reader over one literal: a method per kind of value, `i` the read position. */
class PyLiteralReader {
  private i = 0;
  constructor(private readonly text: string) {}

  /** The whole text as one value, nothing after it. */
  all(): PyValue {
    const v = this.value();
    this.ws();
    if (this.i !== this.text.length) this.fail('trailing text');
    return v;
  }

  private fail(why: string): never {
    const t = this.text;
    throw new Error(
      `not a Python literal (${why} at character ${this.i}): ${t.length > 80 ? t.slice(0, 80) + '...' : t}`,
    );
  }

  private ws() {
    while (this.i < this.text.length && /\s/.test(this.text[this.i])) this.i++;
  }

  private value(): PyValue {
    this.ws();
    const c = this.text[this.i];
    if (c === '{') return this.dict();
    if (c === '[' || c === '(') return this.list(c === '[' ? ']' : ')');
    if (c === "'" || c === '"') return this.str();
    return this.atom();
  }

  /** True, False, None, a number, inf or nan. */
  private atom(): PyValue {
    const m = /^(True|False|None|[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan))/.exec(
      this.text.slice(this.i),
    );
    if (!m) return this.fail('unexpected character');
    this.i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return m[0] === 'inf' ? Infinity : m[0] === 'nan' ? NaN : Number(m[0]);
  }

  private str(): string {
    const text = this.text;
    const q = text[this.i++];
    let out = '';
    while (this.i < text.length && text[this.i] !== q) {
      if (text[this.i] !== '\\') out += text[this.i++];
      else out += this.escape();
    }
    if (text[this.i] !== q) this.fail('unterminated string');
    this.i++;
    // adjacent literals concatenate, as in Python ('a' 'b')
    this.ws();
    return text[this.i] === "'" || text[this.i] === '"' ? out + this.str() : out;
  }

  /** One backslash escape inside a string: \n \t ... \xHH \uHHHH \UHHHHHHHH, else kept as written. */
  private escape(): string {
    const text = this.text;
    const e = text[this.i + 1];
    this.i += 2;
    const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
    if (e in simple) return simple[e];
    if (e !== 'x' && e !== 'u' && e !== 'U') return '\\' + e;
    const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
    const hex = text.slice(this.i, this.i + n);
    if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) this.fail('bad escape');
    this.i += n;
    return String.fromCodePoint(parseInt(hex, 16));
  }

  private list(close: string): PyValue[] {
    this.i++;
    const out: PyValue[] = [];
    for (;;) {
      this.ws();
      if (this.text[this.i] === close) return (this.i++, out);
      out.push(this.value());
      this.ws();
      if (this.text[this.i] === ',') this.i++;
      else if (this.text[this.i] !== close) this.fail(`expected ',' or '${close}'`);
    }
  }

  private dict(): { [k: string]: PyValue } {
    this.i++;
    const out: { [k: string]: PyValue } = {};
    for (;;) {
      this.ws();
      if (this.text[this.i] === '}') return (this.i++, out);
      const k = this.value();
      if (k === null || typeof k === 'object') this.fail('unhashable dict key');
      this.ws();
      if (this.text[this.i++] !== ':') this.fail("expected ':'");
      out[String(k)] = this.value();
      this.ws();
      if (this.text[this.i] === ',') this.i++;
      else if (this.text[this.i] !== '}') this.fail("expected ',' or '}'");
    }
  }
}

/** What a pose model export records (Ultralytics' Exporter.metadata for task 'pose'). */
export interface ExportMetadata {
  description: string;
  author: string;
  date: string;
  version: string;
  license: string;
  docs: string;
  stride: number;
  task: string;
  batch: number;
  imgsz: [number, number];
  names: Record<number, string>;
  kpt_shape: [number, number];
}

/** The metadata as Ultralytics' metadata_props: str(v) of each value, in its key order. */
export function metadataProps(m: ExportMetadata): { key: string; value: string }[] {
  return Object.entries(m).map(([key, v]) => ({ key, value: pyStr(v as PyValue, key === 'names') }));
}

/** AutoBackend's reading: int() for stride and batch, a literal for imgsz, names, kpt_shape; the rest as text. */
export function readMetadata(
  props: { key: string; value: string }[] | undefined,
  file: string,
): Partial<ExportMetadata> & Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of props ?? []) {
    try {
      if (key === 'stride' || key === 'batch') {
        const n = Number(value);
        if (!Number.isInteger(n)) throw new Error(`'${value}' is not an integer`);
        out[key] = n;
      } else if (key === 'imgsz' || key === 'names' || key === 'kpt_shape') out[key] = parsePyLiteral(value);
      else out[key] = value;
    } catch (e) {
      throw new Error(`${file}: metadata '${key}': ${(e as Error).message}`);
    }
  }
  if (out.names && typeof out.names === 'object' && !Array.isArray(out.names)) {
    const names: Record<number, string> = {};
    for (const [k, v] of Object.entries(out.names as object)) names[Number(k)] = String(v);
    out.names = names;
  } else if (Array.isArray(out.names))
    out.names = Object.fromEntries((out.names as PyValue[]).map((v, i) => [i, String(v)]));
  return out as Partial<ExportMetadata> & Record<string, unknown>;
}
