import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  PY_INT_KEYS,
  PY_ORDERED,
  PyFloat,
  PyGlobalRef,
  PyInstance,
  PyReduce,
  intKeys,
  isTuple,
  orderedDict,
  pickle,
  tuple,
  unpickle,
  type GlobalResolver,
} from '../../engine/io/pickle.js';
import { findPython, runPython } from './python.js';

const FIX = join(import.meta.dirname, '../fixtures/io');
const protocols: Record<string, string> = JSON.parse(readFileSync(join(FIX, 'pickle_protocols.json'), 'utf8'));

// What the Python test objects need: containers by value, two namespaces as inert classes.
const resolve: GlobalResolver = (module, name) => {
  const full = `${module}.${name}`;
  if (full === 'collections.OrderedDict') return { call: () => orderedDict({}) };
  if (full === 'builtins.set' || full === 'builtins.frozenset')
    return { call: ([items]) => new Set(items as unknown[]) };
  if (full === 'argparse.Namespace' || full === 'types.SimpleNamespace') return {};
  return undefined;
};
const bytes = (...parts: (number[] | string)[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : p)));

t.test('reads what CPython pickles with protocols 2 to 5', async (t) => {
  for (const [proto, b64] of Object.entries(protocols)) {
    const v = unpickle(Buffer.from(b64, 'base64'), { resolveGlobal: resolve, source: `proto${proto}` }) as any;
    t.test(`protocol ${proto}`, async (t) => {
      t.equal(v.int, 7);
      t.equal(v.neg, -300);
      t.equal(v.i32, -(2 ** 31));
      t.equal(v.big, 2 ** 40);
      t.equal(v.huge, 2n ** 70n);
      t.equal(v.neghuge, -(2n ** 70n));
      t.equal(v.float, 0.25);
      t.equal(v.str, 'h\u00e9llo \u2713');
      t.equal(v.long_str, 'x'.repeat(300));
      t.equal(v.none, null);
      t.equal(v.t, true);
      t.equal(v.f, false);
      for (const [k, n] of [
        ['tuple0', 0],
        ['tuple1', 1],
        ['tuple2', 2],
        ['tuple3', 3],
        ['tuple5', 5],
      ] as const) {
        t.ok(isTuple(v[k]), `${k} is a tuple`);
        t.same(
          v[k],
          Array.from({ length: n }, (_, i) => i + 1),
        );
      }
      t.notOk(isTuple(v.list));
      t.equal(v.list.length, 1100);
      t.equal(v.list[1099], 1099);
      t.same(v.int_keys, { 0: 'person', 5: 'x' });
      t.same([...v.int_keys[PY_INT_KEYS]], ['0', '5']);
      t.same([...v.set].sort(), [1, 2]);
      t.same([...v.frozenset], [3]);
      t.same(Object.keys(v.od), ['z', 'a']);
      t.equal(v.od[PY_ORDERED], true);
      t.notOk(v.nested[PY_ORDERED]);
      t.equal(v.shared[0], v.shared[1], 'memo keeps shared references shared');
      t.same(v.nested, { a: { b: [{ c: null }] } });
      t.ok(v.ns instanceof PyInstance);
      t.equal(v.ns.__class__, 'argparse.Namespace');
      t.equal(v.ns.lr, 0.01);
      t.equal(v.ns.name, 'r1');
      t.equal(v.sns.__class__, 'types.SimpleNamespace');
      t.equal(v.sns.x, 1);
      if (proto !== '2') t.same([...v.bytes], [0, 1, 255]);
    });
  }
});

t.test('refuses globals that are not allowed, naming them, running nothing', async (t) => {
  const osSystem = bytes([0x80, 2], 'cos\nsystem\n', [0x58, 4, 0, 0, 0], 'echo', [0x85, 0x52, 0x2e]);
  t.throws(
    () => unpickle(osSystem, { resolveGlobal: resolve, source: 'evil.pkl' }),
    /evil.pkl: pickle refers to 'os.system', which is not on the allow-list/,
  );
  const evalStack = bytes([0x80, 4, 0x8c, 8], 'builtins', [0x8c, 4], 'eval', [0x93, 0x8c, 1], '1', [0x85, 0x52, 0x2e]);
  t.throws(() => unpickle(evalStack, { resolveGlobal: resolve, source: 'evil.pkl' }), /'builtins.eval'/);
  t.throws(() => unpickle(bytes([0x80, 2], 'c__builtin__\neval\n.'), { resolveGlobal: resolve }), /'__builtin__.eval'/);
  t.throws(() => unpickle(bytes([0x80, 2], 'cposix\nsystem\n.'), { resolveGlobal: resolve }), /'posix.system'/);
  // A reduce whose callable is not a global (e.g. a string) is refused too.
  t.throws(
    () => unpickle(bytes([0x80, 2, 0x8c, 1], 'x', [0x29, 0x52, 0x2e]), { resolveGlobal: resolve }),
    /REDUCE on something that is not an allowed global/,
  );
});

t.test('malformed input gives clear errors', async (t) => {
  const o = { resolveGlobal: resolve, source: 'bad.pkl' };
  const cases: [string, Uint8Array, RegExp][] = [
    ['unknown opcode', bytes([0x80, 2, 0xff]), /bad.pkl: pickle has an unknown opcode 0xff/],
    ['text opcode', bytes([0x80, 2], 'I01\n.'), /protocol 0\/1 text opcodes are not supported/],
    ['stack underflow', bytes([0x80, 2, 0x30, 0x2e]), /pops an empty stack \(opcode POP at byte 2\)/],
    ['empty at STOP', bytes([0x80, 2, 0x2e]), /ends with 0 values on the stack/],
    ['memo miss', bytes([0x80, 2, 0x68, 5, 0x2e]), /refers to memo entry 5, which was never stored/],
    ['truncated string', bytes([0x80, 2, 0x58, 100, 0, 0, 0], 'abc'), /is truncated: needs 100 more bytes, 3 left/],
    ['no STOP', bytes([0x80, 2, 0x4e]), /is truncated/],
    ['no MARK', bytes([0x80, 2, 0x5d, 0x65, 0x2e]), /has no MARK to pop to/],
    ['append to dict', bytes([0x80, 2, 0x7d, 0x4e, 0x61, 0x2e]), /appends to something that is not a list/],
    ['setitem on list', bytes([0x80, 2, 0x5d, 0x4e, 0x4e, 0x73, 0x2e]), /sets an item on something that is not a dict/],
    ['bad utf-8', bytes([0x80, 2, 0x8c, 2, 0xc3, 0x28, 0x2e]), /not valid UTF-8/],
    ['protocol 9', bytes([0x80, 9, 0x2e]), /uses protocol 9/],
    ['persistent id without handler', bytes([0x80, 2, 0x4e, 0x51, 0x2e]), /no persistent_load handler/],
    ['out-of-band buffer', bytes([0x80, 5, 0x97, 0x2e]), /out-of-band buffers/],
    [
      'huge LONG4',
      bytes([0x80, 2, 0x8b, 0x01, 0x10, 0, 0], new Array(4097).fill(1), [0x2e]),
      /has an integer of 4097 bytes/,
    ],
    ['huge BINUNICODE8', bytes([0x80, 4, 0x8d, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0x2e]), /exceeds the input/],
  ];
  for (const [what, b, re] of cases) t.throws(() => unpickle(b, o), re, what);

  // Every truncation and many corruptions of real pickles: a value, or an Error naming the source.
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 8;
  let errors = 0;
  for (const b64 of Object.values(protocols)) {
    const good = Buffer.from(b64, 'base64');
    const tryOne = (b: Uint8Array, what: string) => {
      try {
        unpickle(b, o);
      } catch (e) {
        errors++;
        if (!(e instanceof Error) || !e.message.startsWith('bad.pkl: ')) t.fail(`${what}: ${String(e)}`);
      }
    };
    for (let n = 0; n < good.length; n += n < 600 ? 1 : 7) tryOne(good.subarray(0, n), `truncated to ${n}`);
    for (let i = 0; i < 600; i++) {
      const b = new Uint8Array(good);
      b[rand() % b.length] = rand() & 0xff;
      tryOne(b, `corruption ${i}`);
    }
  }
  t.ok(errors > 500, `${errors} malformed inputs rejected cleanly`);
});

t.test('dict keys cannot reach prototypes', async (t) => {
  const b = bytes([0x80, 2, 0x7d, 0x8c, 9], '__proto__', [0x7d, 0x8c, 8], 'polluted', [0x88, 0x73, 0x73, 0x2e]);
  const v = unpickle(b, { resolveGlobal: resolve }) as any;
  t.equal(Object.getPrototypeOf(v), Object.prototype);
  t.equal(({} as any).polluted, undefined);
  t.same(Object.keys(v), ['__proto__']);
});

t.test('writer round trip keeps Python types', async (t) => {
  const inst = new PyInstance('argparse.Namespace');
  inst.lr = new PyFloat(1);
  const value = {
    a: 1,
    b: -70000,
    c: 2 ** 40,
    d: 2n ** 70n,
    e: -(2n ** 70n),
    f: 0.5,
    g: new PyFloat(2),
    s: 'h\u00e9llo',
    n: null,
    y: true,
    z: false,
    tup: tuple<unknown>(1, 'x', tuple()),
    tup5: tuple(1, 2, 3, 4, 5),
    list: Array.from({ length: 2500 }, (_, i) => i),
    od: new Map<unknown, unknown>([
      ['k', 1],
      [3, 'three'],
    ]),
    ordered: orderedDict({ q: 1, p: 2 }),
    set: new Set([1, 2]),
    inst,
    call: new PyReduce(new PyGlobalRef('collections', 'OrderedDict'), []),
  };
  const back = unpickle(pickle(value), { resolveGlobal: resolve }) as any;
  t.equal(back.a, 1);
  t.equal(back.b, -70000);
  t.equal(back.c, 2 ** 40);
  t.equal(back.d, 2n ** 70n);
  t.equal(back.e, -(2n ** 70n));
  t.equal(unpickle(pickle(2n ** 30000n - 1n), { resolveGlobal: resolve }), 2n ** 30000n - 1n, 'a 3751-byte integer');
  t.equal(back.f, 0.5);
  t.equal(back.g, 2);
  t.equal(back.s, 'h\u00e9llo');
  t.equal(back.n, null);
  t.equal(back.y, true);
  t.equal(back.z, false);
  t.ok(isTuple(back.tup) && isTuple(back.tup[2]));
  t.same(back.tup5, [1, 2, 3, 4, 5]);
  t.same(back.list, value.list);
  t.same(back.od, { k: 1, 3: 'three' });
  t.equal(back.od[PY_ORDERED], true);
  t.same([...back.od[PY_INT_KEYS]], ['3']);
  t.same(Object.keys(back.ordered), ['q', 'p']);
  t.equal(back.ordered[PY_ORDERED], true);
  t.same([...back.set], [1, 2]);
  t.equal(back.inst.__class__, 'argparse.Namespace');
  t.equal(back.inst.lr, 1);
  t.same(back.call, {});
  t.equal(back.call[PY_ORDERED], true);

  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  t.throws(() => pickle(cyclic), /cyclic/);
  t.throws(() => pickle(new Float32Array(2)), /typed arrays/);
  t.throws(() => pickle(() => 1), /cannot write a value of type function/);
});

const py = findPython(false);
t.test(
  'CPython reads what the writer wrote',
  { skip: py ? false : 'no python3 found: cannot cross-check with pickle' },
  async (t) => {
    const inst = new PyInstance('argparse.Namespace');
    inst.lr = new PyFloat(1);
    inst.name = 'r1';
    const value = {
      ints: [0, 255, 256, 65535, 65536, -1, -(2 ** 31), 2 ** 31, 2 ** 53 - 1, 2n ** 70n, -(2n ** 70n)],
      floats: [0.5, new PyFloat(3), -0, 1e300],
      s: 'h\u00e9llo \u2713',
      none: null,
      b: [true, false],
      tup: tuple<unknown>(1, tuple('a')),
      od: new Map<unknown, unknown>([
        ['z', 1],
        [0, 'a'],
      ]),
      names: intKeys({ 0: 'person' }),
      set: new Set(['q']),
      ns: inst,
    };
    const r = runPython(py!, [
      '-c',
      `import pickle, sys, base64, collections
v = pickle.loads(base64.b64decode(sys.argv[1]))
want = {'ints': [0, 255, 256, 65535, 65536, -1, -2**31, 2**31, 2**53 - 1, 2**70, -2**70], 'floats': [0.5, 3.0, 0.0, 1e300],
        's': 'h\\u00e9llo \\u2713', 'none': None, 'b': [True, False], 'tup': (1, ('a',)),
        'od': collections.OrderedDict([('z', 1), (0, 'a')]), 'names': {}, 'set': {'q'}}
assert type(v['od']) is collections.OrderedDict and list(v['od'].items()) == [('z', 1), (0, 'a')], v['od']
assert all(type(x) is float for x in v['floats']) and all(type(x) is int for x in v['ints'])
assert v['names'] == {0: 'person'}, v['names']
assert v['ns'].lr == 1.0 and type(v['ns'].lr) is float and v['ns'].name == 'r1' and type(v['ns']).__name__ == 'Namespace'
for k in want:
    if k != 'names': assert v[k] == want[k], (k, v[k])
print('ok')`,
      Buffer.from(pickle(value)).toString('base64'),
    ]);
    t.ok(r.ok && r.stdout.trim() === 'ok', r.stderr || r.stdout);
  },
);
