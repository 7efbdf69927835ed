// The f16 variant of a WGSL kernel, derived from its f32 text by one rule (no second copy of any
// shader): storage buffers hold f16, registers stay f32.
//   - `enable f16;` goes first;
//   - each chosen storage binding `array<f32>` / `array<vec4f>` (an alias is followed: elementwise's
//     `array<TA>`) becomes `array<f16>` / `array<vec4<f16>>`;
//   - every read of such a binding, `name[i]` (with any `[j]` or swizzle after it), is widened:
//     `f32(name[i])`, `vec4<f32>(name[i])`;
//   - every store `name[i] = v;` is narrowed: `name[i] = f16(v);` (`op=` becomes a read, the op and
//     a narrowed store).
// So a kernel computes exactly what its f32 version computes on the f16 values it loads: a GEMM's
// products of two f16 values are exact in f32 and are summed in f32 (what tensor cores do for
// torch's half conv), epilogues (bias, SiLU), softmax and the elementwise chains run in f32, and
// each result is rounded to f16 once, when stored. Uniforms (Params) and workgroup memory stay f32.
// YOLO_DUMP_WGSL=dir writes the final text (engine/backends/webgpu.ts names it `... f16`).

const WIDE: Record<string, { narrow: string; wide: string; lanes: number }> = {
  f32: { narrow: 'f16', wide: 'f32', lanes: 1 },
  vec2f: { narrow: 'vec2<f16>', wide: 'vec2<f32>', lanes: 2 },
  'vec2<f32>': { narrow: 'vec2<f16>', wide: 'vec2<f32>', lanes: 2 },
  vec3f: { narrow: 'vec3<f16>', wide: 'vec3<f32>', lanes: 3 },
  'vec3<f32>': { narrow: 'vec3<f16>', wide: 'vec3<f32>', lanes: 3 },
  vec4f: { narrow: 'vec4<f16>', wide: 'vec4<f32>', lanes: 4 },
  'vec4<f32>': { narrow: 'vec4<f16>', wide: 'vec4<f32>', lanes: 4 },
};

const DECL = /(@group\(\d+\)\s*@binding\(\d+\)\s*var<storage[^>]*>\s+)(\w+)(\s*:\s*array<)([^;]+)>(\s*;)/g;

/**
 * `code` (final f32 WGSL) with the storage bindings `names` (default: every f32 one) stored as f16.
 * Throws when a chosen binding is used in a way the rule does not cover (a pointer to it).
 */
export function f16Storage(code: string, names?: readonly string[]): string {
  if (/^\s*enable\s+f16\s*;/m.test(code)) throw new Error('f16Storage: the shader already enables f16');
  const alias = new Map<string, string>();
  for (const m of code.matchAll(/\balias\s+(\w+)\s*=\s*([^;]+);/g)) alias.set(m[1], m[2].trim());
  const resolve = (t: string) => {
    for (let i = 0; i < 8 && alias.has(t); i++) t = alias.get(t)!;
    return t.replace(/\s+/g, '');
  };
  const chosen = new Map<string, (typeof WIDE)[string]>();
  // declarations: the element type narrowed; the code between them: uses rewritten (its comments
  // dropped first, so that a rewrite never starts inside one)
  const parts: string[] = [];
  let last = 0;
  const rest: [number, number][] = [];
  for (const m of code.matchAll(DECL)) {
    const [all, head, name, mid, elem, tail] = m;
    const w = WIDE[resolve(elem.trim())];
    rest.push([last, m.index!]);
    last = m.index! + all.length;
    if (!w || (names && !names.includes(name))) parts.push(all);
    else {
      chosen.set(name, w);
      parts.push(`${head}${name}${mid}${w.narrow}>${tail}`);
    }
  }
  rest.push([last, code.length]);
  if (names) for (const n of names) if (!chosen.has(n)) throw new Error(`f16Storage: no f32 storage binding '${n}'`);
  if (!chosen.size) return code;
  let out = '';
  rest.forEach(([a, b], k) => {
    const text = code
      .slice(a, b)
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/[^\n]*/g, '');
    for (const n of chosen.keys())
      if (new RegExp(`&\\s*${n}\\s*\\[`).test(text))
        throw new Error(`f16Storage: a pointer into '${n}' (&${n}[...]) is not covered by the f16 rule`);
    out += rewriteUses(text, chosen) + (parts[k] ?? '');
  });
  return `enable f16;\n${out}`;
}

/** Rewrites reads and stores of the chosen arrays in `src`. */
function rewriteUses(src: string, chosen: Map<string, (typeof WIDE)[string]>): string {
  const re = new RegExp(`(?<![\\w.&])(${[...chosen.keys()].join('|')})\\s*\\[`, 'g');
  let res = '';
  let i = 0;
  for (;;) {
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m) return res + src.slice(i);
    res += src.slice(i, m.index);
    const w = chosen.get(m[1])!;
    // the access: name[...] then any [...] or .swizzle
    let j = matchBracket(src, m.index + m[0].length - 1);
    let lanes = w.lanes;
    for (;;) {
      const k = skipSpace(src, j);
      if (src[k] === '[') ((j = matchBracket(src, k)), (lanes = 1));
      else if (src[k] === '.' && /[a-z]/.test(src[k + 1] ?? '')) {
        const s = /^\.([xyzwrgba]+)/.exec(src.slice(k))!;
        ((j = k + s[0].length), (lanes = s[1].length));
      } else break;
    }
    const access = m[1] + rewriteUses(src.slice(m.index + m[1].length, j), chosen);
    const narrow = lanes === 1 ? 'f16' : `vec${lanes}<f16>`;
    const wide = lanes === 1 ? 'f32' : `vec${lanes}<f32>`;
    const k = skipSpace(src, j);
    const op = /^([-+*/]?)=(?!=)/.exec(src.slice(k));
    if (op) {
      const rhsStart = k + op[0].length;
      const rhsEnd = statementEnd(src, rhsStart);
      const rhs = rewriteUses(src.slice(rhsStart, rhsEnd), chosen).trim();
      res += op[1] ? `${access} = ${narrow}(${wide}(${access}) ${op[1]} (${rhs}))` : `${access} = ${narrow}(${rhs})`;
      i = rhsEnd;
    } else {
      res += `${wide}(${access})`;
      i = j;
    }
  }
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && /\s/.test(s[i])) i++;
  return i;
}

/** Index just past the bracket that closes the one at `open`. */
function matchBracket(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '[' || s[i] === '(') depth++;
    else if (s[i] === ']' || s[i] === ')') if (--depth === 0) return i + 1;
  }
  throw new Error(`f16Storage: unbalanced brackets after offset ${open}`);
}

/** Index of the `;` that ends the statement whose right-hand side starts at `i`. */
function statementEnd(s: string, i: number): number {
  let depth = 0;
  for (; i < s.length; i++) {
    if (s[i] === '(' || s[i] === '[') depth++;
    else if (s[i] === ')' || s[i] === ']') depth--;
    else if (s[i] === ';' && depth === 0) return i;
  }
  throw new Error('f16Storage: a store without its closing ;');
}
