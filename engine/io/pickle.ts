// A pickle VM that executes nothing, and a protocol-2 pickle writer.
//
// Reader: the opcodes of protocols 2-5 (what torch.save and Python 3 produce). A pickle names
// Python callables (GLOBAL / STACK_GLOBAL) and asks to call them (REDUCE, NEWOBJ, BUILD); here each
// name is looked up in an allow-list supplied by the caller, and anything not on it stops the load
// with an Error naming `module.name`. Allowed names are either plain TS functions (rebuild a tensor,
// make a set) or inert classes whose instances become `PyInstance` records holding their pickled
// state. Each opcode consumes at least one byte, so a load ends within the input's length; every
// pop, memo lookup and length field is checked, so malformed input gives an Error with its offset.
//
// Python -> JS: None null, bool boolean, int number (bigint beyond 2^53), float number, str string,
// bytes Uint8Array, list array, tuple array marked with PY_TUPLE, dict plain object (keys that were
// ints are listed under PY_INT_KEYS), OrderedDict plain object marked PY_ORDERED, set/frozenset Set.
// Dict keys are set with defineProperty, so a key such as '__proto__' cannot reach a prototype.
//
// Writer: the inverse mapping (a JS number is an int when it is a safe integer, else a float; PyFloat
// forces a float), a Map becomes an OrderedDict, plus PyReduce / PyPersistent for torch_pt's tensors.

export const PY_TUPLE = Symbol.for('yolo-ts.pickle.tuple');
export const PY_ORDERED = Symbol.for('yolo-ts.pickle.OrderedDict');
export const PY_INT_KEYS = Symbol.for('yolo-ts.pickle.intKeys');
/** BUILD state applied to something that is not a PyInstance (kept aside, never merged into keys). */
export const PY_STATE = Symbol.for('yolo-ts.pickle.state');

/** An instance of an allowed inert class: `{__class__: 'module.Name', ...attributes from BUILD}`. */
export class PyInstance {
  [attr: string]: unknown;
  declare __class__: string;
  constructor(cls: string) {
    setKey(this, '__class__', cls);
  }
}

/** A reference to a Python global (a class or function) by name. */
export class PyGlobalRef {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualname() {
    return `${this.module}.${this.name}`;
  }
}

/** What an allowed global does when the pickle calls it (REDUCE, NEWOBJ). Without `call` it is an inert class. */
export interface PyGlobal {
  call?: (args: unknown[]) => unknown;
}
export type GlobalResolver = (module: string, name: string) => PyGlobal | undefined;

export interface UnpickleOptions {
  /** The allow-list: returns how to treat `module.name`, or undefined to refuse it. */
  resolveGlobal: GlobalResolver;
  /** Handles persistent ids (torch storages); without it a persistent id is an error. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Names the source in error messages. */
  source?: string;
  /** The allow-list in words, for the error that refuses a global (e.g. 'torch.nn.modules.*, ...'). */
  allowList?: string;
}

export function tuple<T>(...items: T[]): T[] {
  return markTuple(items);
}
export function isTuple(v: unknown): v is unknown[] {
  return Array.isArray(v) && (v as any)[PY_TUPLE] === true;
}
function markTuple<T>(a: T[]): T[] {
  Object.defineProperty(a, PY_TUPLE, { value: true });
  return a;
}

/** A plain-object dict that the writer emits as collections.OrderedDict. */
export function orderedDict<T extends object>(obj: T): T {
  Object.defineProperty(obj, PY_ORDERED, { value: true });
  return obj;
}

/** Marks a dict's integer-like keys ('0', '12') as Python ints for the writer (Ultralytics `names`). */
export function intKeys<T extends object>(obj: T): T {
  Object.defineProperty(obj, PY_INT_KEYS, {
    value: new Set(Object.keys(obj).filter((k) => /^-?(0|[1-9]\d*)$/.test(k))),
    configurable: true,
  });
  return obj;
}

/** Marks a JS float that happens to be integral (1.0) so the writer emits a Python float. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Writer: emit `callable(*args)` (REDUCE). */
export class PyReduce {
  constructor(
    readonly callable: PyGlobalRef,
    readonly args: unknown[],
  ) {}
}
/** Writer: emit a persistent id (BINPERSID); torch uses ('storage', StorageClass, key, location, numel). */
export class PyPersistent {
  constructor(readonly pid: unknown) {}
}

function setKey(obj: object, key: string, value: unknown) {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

const OPNAMES: Record<number, string> = {
  0x28: 'MARK',
  0x2e: 'STOP',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES',
  0x47: 'BINFLOAT',
  0x4a: 'BININT',
  0x4b: 'BININT1',
  0x4d: 'BININT2',
  0x4e: 'NONE',
  0x51: 'BINPERSID',
  0x52: 'REDUCE',
  0x58: 'BINUNICODE',
  0x5d: 'EMPTY_LIST',
  0x61: 'APPEND',
  0x62: 'BUILD',
  0x63: 'GLOBAL',
  0x65: 'APPENDS',
  0x68: 'BINGET',
  0x6a: 'LONG_BINGET',
  0x71: 'BINPUT',
  0x72: 'LONG_BINPUT',
  0x73: 'SETITEM',
  0x74: 'TUPLE',
  0x75: 'SETITEMS',
  0x7d: 'EMPTY_DICT',
  0x29: 'EMPTY_TUPLE',
  0x80: 'PROTO',
  0x81: 'NEWOBJ',
  0x85: 'TUPLE1',
  0x86: 'TUPLE2',
  0x87: 'TUPLE3',
  0x88: 'NEWTRUE',
  0x89: 'NEWFALSE',
  0x8a: 'LONG1',
  0x8b: 'LONG4',
  0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE',
  0x95: 'FRAME',
  0x96: 'BYTEARRAY8',
};

/** Runs the pickle in `buf` and returns its value. Throws on anything malformed or not allowed. */
export function unpickle(buf: Uint8Array, opts: UnpickleOptions): unknown {
  const src = opts.source ?? '<pickle>';
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const resolved = new WeakMap<PyGlobalRef, PyGlobal>();
  let pos = 0,
    opPos = 0,
    op = 0;

  const fail = (what: string): never => {
    throw new Error(`${src}: pickle ${what} (opcode ${OPNAMES[op] ?? '0x' + op.toString(16)} at byte ${opPos})`);
  };
  const need = (n: number) => {
    if (n < 0 || pos + n > buf.length) fail(`is truncated: needs ${n} more bytes, ${buf.length - pos} left`);
  };
  const u8 = () => {
    need(1);
    return buf[pos++];
  };
  const u16 = () => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(buf.length)) fail(`length ${v} exceeds the input`);
    return Number(v);
  };
  const bytes = (n: number) => {
    need(n);
    const b = buf.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const str = (n: number) => {
    const b = bytes(n);
    try {
      return utf8.decode(b);
    } catch {
      return fail('has a string that is not valid UTF-8');
    }
  };
  const line = () => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) fail('is truncated: missing newline');
    const s = new TextDecoder('latin1').decode(buf.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length <= (marks.at(-1) ?? 0)) fail('pops an empty stack');
    return stack.pop();
  };
  const top = () => {
    if (stack.length <= (marks.at(-1) ?? 0)) fail('reads an empty stack');
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const m = marks.pop();
    if (m === undefined) fail('has no MARK to pop to');
    return stack.splice(m!);
  };
  const get = (i: number) => {
    if (!memo.has(i)) fail(`refers to memo entry ${i}, which was never stored`);
    return memo.get(i);
  };
  const put = (i: number) => {
    memo.set(i, top());
  };
  const global = (module: string, name: string) => {
    const ref = new PyGlobalRef(module === '__builtin__' ? 'builtins' : module, name);
    const def = opts.resolveGlobal(ref.module, ref.name);
    if (!def)
      throw new Error(
        `${src}: pickle refers to '${module}.${name}', which is not on the allow-list${opts.allowList ? ` (${opts.allowList})` : ''}; refusing to load (nothing was executed)`,
      );
    resolved.set(ref, def);
    stack.push(ref);
  };
  const call = (callable: unknown, args: unknown, kind: string) => {
    if (!(callable instanceof PyGlobalRef) || !resolved.has(callable))
      fail(`${kind} on something that is not an allowed global`);
    if (!Array.isArray(args)) fail(`${kind} with arguments that are not a tuple`);
    const ref = callable as PyGlobalRef,
      def = resolved.get(ref)!,
      argv = args as unknown[];
    if (def.call) {
      try {
        return def.call(argv);
      } catch (e) {
        return fail(`calling ${ref.qualname} failed: ${(e as Error).message}`);
      }
    }
    const inst = new PyInstance(ref.qualname);
    if (argv.length) setKey(inst, '__args__', argv);
    return inst;
  };
  const setItem = (d: unknown, k: unknown, v: unknown) => {
    if (
      typeof d !== 'object' ||
      d === null ||
      Array.isArray(d) ||
      d instanceof PyInstance ||
      d instanceof Set ||
      ArrayBuffer.isView(d)
    )
      fail('sets an item on something that is not a dict');
    let key: string;
    if (typeof k === 'string') key = k;
    else if (typeof k === 'number' || typeof k === 'bigint') {
      key = String(k);
      const ints: Set<string> = (d as any)[PY_INT_KEYS] ?? new Set();
      if (!(d as any)[PY_INT_KEYS]) Object.defineProperty(d, PY_INT_KEYS, { value: ints });
      ints.add(key);
    } else key = keyString(k);
    setKey(d as object, key, v);
  };
  const int = (v: bigint) =>
    v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  const long = (b: Uint8Array) => {
    // little-endian two's complement
    if (b.length === 0) return 0;
    if (b.length > 4096) fail(`has an integer of ${b.length} bytes (at most 4096 are accepted)`);
    let v = BigInt('0x' + Buffer.from(b).reverse().toString('hex')); // linear, unlike shifting byte by byte
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return int(v);
  };

  for (;;) {
    opPos = pos;
    op = u8();
    switch (op) {
      case 0x80: {
        const p = u8();
        if (p > 5) fail(`uses protocol ${p} (at most 5 is known)`);
        break;
      } // PROTO
      case 0x95:
        u64();
        break; // FRAME: a length prefix for buffering; the data follows inline
      case 0x2e: {
        // STOP
        if (stack.length !== 1 || marks.length) fail(`ends with ${stack.length} values on the stack (expected 1)`);
        return stack[0];
      }
      case 0x28:
        marks.push(stack.length);
        break; // MARK
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      case 0x4e:
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x4a:
        need(4);
        stack.push(view.getInt32(pos, true));
        pos += 4;
        break; // BININT
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x8a:
        stack.push(long(bytes(u8())));
        break; // LONG1
      case 0x8b: {
        need(4);
        const n = view.getInt32(pos, true);
        pos += 4;
        if (n < 0) fail('has a negative length');
        stack.push(long(bytes(n)));
        break;
      }
      case 0x47:
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break; // BINFLOAT (big-endian)
      case 0x8c:
        stack.push(str(u8()));
        break; // SHORT_BINUNICODE
      case 0x58:
        stack.push(str(u32()));
        break; // BINUNICODE
      case 0x8d:
        stack.push(str(u64()));
        break; // BINUNICODE8
      case 0x43:
        stack.push(new Uint8Array(bytes(u8())));
        break; // SHORT_BINBYTES
      case 0x42:
        stack.push(new Uint8Array(bytes(u32())));
        break; // BINBYTES
      case 0x8e:
      case 0x96:
        stack.push(new Uint8Array(bytes(u64())));
        break; // BINBYTES8, BYTEARRAY8
      case 0x29:
        stack.push(markTuple([]));
        break; // EMPTY_TUPLE
      case 0x85:
        stack.push(markTuple([pop()]));
        break; // TUPLE1
      case 0x86: {
        const b = pop(),
          a = pop();
        stack.push(markTuple([a, b]));
        break;
      }
      case 0x87: {
        const c = pop(),
          b = pop(),
          a = pop();
        stack.push(markTuple([a, b, c]));
        break;
      }
      case 0x74:
        stack.push(markTuple(popMark()));
        break; // TUPLE
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x61: {
        const v = pop(),
          l = top();
        if (!Array.isArray(l) || isTuple(l)) fail('appends to something that is not a list');
        (l as unknown[]).push(v);
        break;
      }
      case 0x65: {
        const items = popMark(),
          l = top();
        if (!Array.isArray(l) || isTuple(l)) fail('appends to something that is not a list');
        for (const v of items) (l as unknown[]).push(v);
        break;
      }
      case 0x7d:
        stack.push({});
        break; // EMPTY_DICT
      case 0x73: {
        const v = pop(),
          k = pop();
        setItem(top(), k, v);
        break;
      } // SETITEM
      case 0x75: {
        // SETITEMS
        const items = popMark(),
          d = top();
        if (items.length % 2) fail('has an odd number of items for SETITEMS');
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x8f:
        stack.push(new Set());
        break; // EMPTY_SET
      case 0x90: {
        const items = popMark(),
          s = top();
        if (!(s instanceof Set)) fail('adds items to something that is not a set');
        for (const v of items) (s as Set<unknown>).add(v);
        break;
      }
      case 0x91:
        stack.push(new Set(popMark()));
        break; // FROZENSET
      case 0x68:
        stack.push(get(u8()));
        break; // BINGET
      case 0x6a:
        stack.push(get(u32()));
        break; // LONG_BINGET
      case 0x71:
        put(u8());
        break; // BINPUT
      case 0x72:
        put(u32());
        break; // LONG_BINPUT
      case 0x94:
        put(memo.size);
        break; // MEMOIZE
      case 0x63: {
        const m = line();
        global(m, line());
        break;
      } // GLOBAL
      case 0x93: {
        // STACK_GLOBAL
        const name = pop(),
          module = pop();
        if (typeof name !== 'string' || typeof module !== 'string') fail('has STACK_GLOBAL with non-string names');
        global(module as string, name as string);
        break;
      }
      case 0x52: {
        const args = pop(),
          f = pop();
        stack.push(call(f, args, 'REDUCE'));
        break;
      }
      case 0x81: {
        const args = pop(),
          cls = pop();
        stack.push(call(cls, args, 'NEWOBJ'));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX: keyword arguments are kept on the record, never interpreted
        const kwargs = pop(),
          args = pop(),
          cls = pop();
        const obj = call(cls, args, 'NEWOBJ_EX');
        if (obj instanceof PyInstance && kwargs && Object.keys(kwargs).length) setKey(obj, '__kwargs__', kwargs);
        stack.push(obj);
        break;
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state) or obj.__dict__.update(state)
        const state = pop(),
          obj = top();
        if (obj instanceof PyInstance) {
          // state is a dict, or (dict | None, slots dict) for classes with __slots__
          const parts = isTuple(state) && state.length === 2 ? state : [state];
          for (const part of parts) {
            if (part === null) continue;
            if (
              typeof part === 'object' &&
              !Array.isArray(part) &&
              !(part instanceof Set) &&
              !(part instanceof PyInstance)
            ) {
              for (const [k, v] of Object.entries(part)) if (k !== '__class__') setKey(obj, k, v);
            } else setKey(obj, '__state__', state);
          }
        } else if (typeof obj === 'object' && obj !== null) {
          Object.defineProperty(obj, PY_STATE, { value: state, configurable: true });
        } else fail('applies BUILD to a primitive value');
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail('has a persistent id but no persistent_load handler was given');
        try {
          stack.push(opts.persistentLoad!(pid));
        } catch (e) {
          fail(`persistent_load failed: ${(e as Error).message}`);
        }
        break;
      }
      case 0x97:
      case 0x98:
        fail('uses out-of-band buffers (protocol 5), which are not supported');
        break;
      case 0x82:
      case 0x83:
      case 0x84:
        fail('uses the copyreg extension registry, which is not supported');
        break;
      default:
        fail(
          OPNAMES[op]
            ? 'opcode is not supported'
            : `has an unknown opcode 0x${op.toString(16)}${op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}'; protocol 0/1 text opcodes are not supported)` : ''}`,
        );
    }
  }
}

/** A JS string for a non-string Python dict key (tuples, None, bools, instances), like Python's repr. */
function keyString(k: unknown, depth = 0): string {
  if (depth > 8) return '...'; // nested tuples as keys: keep the name short and the recursion bounded
  if (k === null) return 'None';
  if (typeof k === 'boolean') return k ? 'True' : 'False';
  if (isTuple(k)) return `(${k.map((x) => keyString(x, depth + 1)).join(', ')}${k.length === 1 ? ',' : ''})`;
  if (k instanceof Set) return `frozenset({${[...k].map((x) => keyString(x, depth + 1)).join(', ')}})`;
  if (k instanceof PyInstance) return `<${k.__class__}>`;
  if (k instanceof PyGlobalRef) return k.qualname;
  if (typeof k === 'string') return `'${k}'`;
  return typeof k === 'object' ? `<${Array.isArray(k) ? 'list' : 'object'}>` : String(k);
}

// ---------------------------------------------------------------- writer

export interface PickleOptions {
  /** Lets the caller replace a value (e.g. a tensor) by a PyReduce / PyPersistent before it is written. */
  reduce?: (v: unknown) => unknown;
}

/** Pickles `value` with protocol 2 (what torch.save uses). Throws on cycles and unsupported values. */
export function pickle(value: unknown, opts: PickleOptions = {}): Uint8Array {
  let out = new Uint8Array(1 << 16),
    n = 0;
  const grow = (k: number) => {
    if (n + k <= out.length) return;
    const next = new Uint8Array(Math.max(out.length * 2, n + k));
    next.set(out.subarray(0, n));
    out = next;
  };
  const byte = (...b: number[]) => {
    grow(b.length);
    for (const x of b) out[n++] = x;
  };
  const raw = (b: Uint8Array) => {
    grow(b.length);
    out.set(b, n);
    n += b.length;
  };
  const u32 = (v: number) => byte(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  const active = new Set<object>();
  const memo = new Map<PyInstance, number>(); // an instance met twice is written once, then fetched (BINGET)

  const str = (s: string) => {
    const b = new TextEncoder().encode(s);
    byte(0x58);
    u32(b.length);
    raw(b);
  };
  const glob = (g: PyGlobalRef) => {
    byte(0x63);
    raw(new TextEncoder().encode(`${g.module}\n${g.name}\n`));
  };
  const int = (v: bigint) => {
    if (v >= 0n && v < 256n) byte(0x4b, Number(v));
    else if (v >= 0n && v < 65536n) byte(0x4d, Number(v) & 0xff, Number(v) >> 8);
    else if (v >= -(1n << 31n) && v < 1n << 31n) {
      byte(0x4a);
      u32(Number(v) >>> 0);
    } else {
      // LONG1 / LONG4: little-endian two's complement, as short as possible
      const bs: number[] = [];
      let x = v;
      for (;;) {
        bs.push(Number(x & 0xffn));
        x >>= 8n;
        if ((x === 0n && !(bs.at(-1)! & 0x80)) || (x === -1n && bs.at(-1)! & 0x80)) break;
      }
      if (bs.length > 4096) throw new Error(`pickle: an integer of ${bs.length} bytes is too large (at most 4096)`);
      if (bs.length < 256) byte(0x8a, bs.length, ...bs);
      else {
        byte(0x8b);
        u32(bs.length);
        raw(Uint8Array.from(bs));
      } // LONG4
    }
  };
  const float = (x: number) => {
    grow(9);
    out[n++] = 0x47;
    new DataView(out.buffer).setFloat64(n, x, false);
    n += 8;
  };
  const items = (list: unknown[], close: number) => {
    // batches of 1000, as CPython does
    for (let i = 0; i < list.length; i += 1000) {
      byte(0x28);
      for (const v of list.slice(i, i + 1000)) write(v);
      byte(close);
    }
  };
  const dictItems = (entries: [unknown, unknown][]) => items(entries.flat(), 0x75);
  const enter = (o: object) => {
    if (active.has(o)) throw new Error('pickle: cannot write a cyclic structure');
    active.add(o);
  };

  function write(v: unknown): void {
    const r = opts.reduce?.(v);
    if (r !== undefined) v = r;
    if (v === null || v === undefined) return byte(0x4e);
    if (typeof v === 'boolean') return byte(v ? 0x88 : 0x89);
    if (typeof v === 'bigint') return int(v);
    if (typeof v === 'number') return Number.isSafeInteger(v) && !Object.is(v, -0) ? int(BigInt(v)) : float(v); // 1e300 stays a float
    if (typeof v === 'string') return str(v);
    if (v instanceof PyFloat) return float(v.value);
    if (v instanceof PyGlobalRef) return glob(v);
    if (typeof v !== 'object') throw new Error(`pickle: cannot write a value of type ${typeof v}`);
    if (v instanceof PyInstance && memo.has(v) && !active.has(v)) {
      const i = memo.get(v)!;
      if (i < 256) byte(0x68, i);
      else {
        byte(0x6a);
        u32(i);
      } // BINGET / LONG_BINGET
      return;
    }
    enter(v);
    if (v instanceof PyPersistent) {
      write(v.pid);
      byte(0x51);
    } else if (v instanceof PyReduce) {
      glob(v.callable);
      write(markTuple([...v.args]));
      byte(0x52);
    } else if (isTuple(v)) {
      if (v.length === 0) byte(0x29);
      else if (v.length <= 3) {
        for (const x of v) write(x);
        byte(0x84 + v.length);
      } else {
        byte(0x28);
        for (const x of v) write(x);
        byte(0x74);
      }
    } else if (Array.isArray(v)) {
      byte(0x5d);
      items(v, 0x65);
    } else if (v instanceof Set) {
      glob(new PyGlobalRef('builtins', 'set'));
      byte(0x5d);
      items([...v], 0x65);
      byte(0x85, 0x52);
    } else if (v instanceof Map) {
      glob(new PyGlobalRef('collections', 'OrderedDict'));
      byte(0x29, 0x52);
      dictItems([...v.entries()]);
    } else if (v instanceof PyInstance) {
      const dot = v.__class__.lastIndexOf('.');
      glob(new PyGlobalRef(v.__class__.slice(0, dot), v.__class__.slice(dot + 1)));
      write(markTuple([...((v.__args__ as unknown[]) ?? [])]));
      byte(0x81); // NEWOBJ: cls.__new__(cls, *args), then BUILD restores __dict__
      const i = memo.size;
      memo.set(v, i);
      if (i < 256) byte(0x71, i);
      else {
        byte(0x72);
        u32(i);
      } // BINPUT / LONG_BINPUT
      const state =
        '__state__' in v
          ? v.__state__
          : Object.fromEntries(Object.entries(v).filter(([k]) => !['__class__', '__args__', '__state__'].includes(k)));
      write(state);
      byte(0x62);
    } else if (ArrayBuffer.isView(v))
      throw new Error('pickle: typed arrays and bytes cannot be written (wrap tensors through the reduce hook)');
    else {
      const ordered = (v as any)[PY_ORDERED] === true,
        ints: Set<string> | undefined = (v as any)[PY_INT_KEYS];
      if (ordered) {
        glob(new PyGlobalRef('collections', 'OrderedDict'));
        byte(0x29, 0x52);
      } else byte(0x7d);
      dictItems(Object.entries(v).map(([k, x]) => [ints?.has(k) ? BigInt(k) : k, x]));
    }
    active.delete(v);
  }

  byte(0x80, 2);
  write(value);
  byte(0x2e);
  return out.slice(0, n);
}
