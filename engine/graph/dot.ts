// A graph as a picture: Graphviz dot text (one box per node: op, key attributes, output shape;
// one cluster per top-level module, `model.3`), and the PNG when Graphviz's `dot` is installed.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { attrString, type Graph } from './ir.js';
import { dimString } from './sym.js';

const esc = (s: string) => s.replace(/["\\]/g, '\\$&');
/** the attributes worth reading in a box */
const SHOWN = [
  'stride',
  'groups',
  'act',
  'axis',
  'kernelSize',
  'scale',
  'shape',
  'axes',
  'alpha',
  'start',
  'length',
  'regMax',
  'layout',
];

/** Graphviz dot text. `depth`: module path segments that name a cluster (2: `model.3`; 0: none). */
export function toDot(g: Graph, opts: { name?: string; depth?: number } = {}): string {
  const depth = opts.depth ?? 2;
  const shape = (id: number) => `[${g.values[id].shape.map(dimString).join(',')}]`;
  const lines = [
    `digraph "${esc(opts.name ?? 'graph')}" {`,
    '  rankdir=TB;',
    '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=8, color="#667788"];',
  ];
  for (const i of g.inputs)
    lines.push(
      `  v${i} [label="${esc(g.values[i].name ?? `input ${i}`)}\\n${shape(i)}", shape=ellipse, fillcolor="#dff0d8"];`,
    );
  const clusters = new Map<string, string[]>();
  for (const n of g.nodes) {
    const attrs = SHOWN.filter((k) => k in n.attrs)
      .map((k) => `${k}=${attrString(n.attrs[k])}`)
      .join(' ');
    const label = `${n.op}${attrs ? `\\n${esc(attrs)}` : ''}\\n${n.outputs.map(shape).join(' ')}`;
    const fill = n.op === 'conv2d' ? ', fillcolor="#d9e6f7"' : n.fusion !== undefined ? ', fillcolor="#fbeed5"' : '';
    const line = `n${n.id} [label="${label}", tooltip="${esc(n.module)}"${fill}];`;
    const key = depth ? n.module.split('.').slice(0, depth).join('.') : '';
    if (!clusters.has(key)) clusters.set(key, []);
    clusters.get(key)!.push(line);
  }
  let c = 0;
  for (const [key, body] of clusters) {
    if (!key) lines.push(...body.map((l) => `  ${l}`));
    else
      lines.push(
        `  subgraph cluster_${c++} {`,
        `    label="${esc(key)}"; style=dashed; color="#99aabb"; fontname="Helvetica"; fontsize=10;`,
        ...body.map((l) => `    ${l}`),
        '  }',
      );
  }
  const src = (id: number) => {
    const v = g.values[id];
    return v.kind === 'node' ? `n${v.producer}` : v.kind === 'input' ? `v${id}` : null;
  };
  for (const n of g.nodes)
    for (const i of n.inputs) {
      const s = i === null ? null : src(i);
      if (s) lines.push(`  ${s} -> n${n.id} [label="${shape(i!)}"];`);
    }
  g.outputIds().forEach((o, k) => {
    lines.push(`  out${k} [label="output ${k}\\n${shape(o)}", shape=ellipse, fillcolor="#f2dede"];`);
    if (src(o)) lines.push(`  ${src(o)} -> out${k};`);
  });
  lines.push('}');
  return lines.join('\n');
}

/** True when Graphviz's `dot` can be run. */
export const hasGraphviz = () => !spawnSync('dot', ['-V'], { encoding: 'utf8' }).error;

/**
 * Writes the graph as `file`: dot text for `.dot`/`.gv`, an image through Graphviz for `.png`/`.svg`/`.pdf`
 * (an error saying how to install it when `dot` is missing).
 */
export function writeGraph(g: Graph, file: string, opts: { name?: string; depth?: number } = {}) {
  const text = toDot(g, opts);
  const ext = file.replace(/^.*\./, '').toLowerCase();
  if (ext === 'dot' || ext === 'gv') return writeFileSync(file, text);
  if (!['png', 'svg', 'pdf'].includes(ext))
    throw new Error(`writeGraph: '${file}': expected a .dot, .gv, .png, .svg or .pdf file`);
  const r = spawnSync('dot', [`-T${ext}`, '-o', file], { input: text, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.error)
    throw new Error(
      `writeGraph: Graphviz's 'dot' is not installed (Debian: apt-get install graphviz); write '${file.replace(/\.[^.]*$/, '.dot')}' instead`,
    );
  if (r.status !== 0) throw new Error(`writeGraph: dot failed on the graph: ${r.stderr.slice(-300)}`);
}
