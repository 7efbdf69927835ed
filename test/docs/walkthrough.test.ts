// The walkthrough (docs/walkthrough) stays true: make_figures.ts regenerates every picture on a small
// image, each must exist, decode and not be blank; every picture a chapter links must exist; the WGSL
// pasted into chapter 6 must be what the engine builds for Tensor.silu, and the layer table pasted into
// chapter 2 must match the model's layers.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpu, openWebGPU, releaseDevices } from '../../engine/index.js';
import { readImage } from '../../tasks/data/image.js';
import { FEATURE_STAGES, makeFigures } from '../../docs/walkthrough/make_figures.js';

const DOCS = new URL('../../docs/walkthrough/', import.meta.url).pathname;
t.teardown(releaseDevices);

/** Distinct colours and the luminance standard deviation: a blank or single-colour picture has few / ~0. */
function contrast(path: string) {
  const img = readImage(path);
  const colors = new Set<number>();
  let s = 0,
    s2 = 0;
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    const [r, g, b] = [img.data[3 * i], img.data[3 * i + 1], img.data[3 * i + 2]];
    colors.add((r << 16) | (g << 8) | b);
    const l = 0.299 * r + 0.587 * g + 0.114 * b;
    s += l;
    s2 += l * l;
  }
  return {
    colors: colors.size,
    std: Math.sqrt(Math.max(s2 / n - (s / n) ** 2, 0)),
    width: img.width,
    height: img.height,
  };
}

t.test('make_figures.ts draws every picture on a small image', async (t) => {
  const gpu = await openWebGPU();
  if (!gpu && process.env.CI) throw new Error('no WebGPU adapter under CI: the WGSL dump needs one');
  const out = mkdtempSync(join(tmpdir(), 'walkthrough-'));
  const written = await makeFigures({ outDir: out, imgsz: 128, device: cpu, log: () => {} });
  const committed = readdirSync(join(DOCS, 'figures')).sort();
  const expected = gpu ? committed : committed.filter((f) => !f.endsWith('.wgsl'));
  t.same([...written].sort(), expected, 'the same files as docs/walkthrough/figures');
  t.same(
    FEATURE_STAGES.map((i) => written.some((f) => f.startsWith(`02_features_stage${i}_`))),
    FEATURE_STAGES.map(() => true),
    'a feature-map picture per chosen layer',
  );
  for (const f of written.filter((f) => f.endsWith('.png'))) {
    const c = contrast(join(out, f));
    t.ok(
      c.width >= 100 && c.height >= 100 && c.colors > 50 && c.std > 20,
      `${f}: ${c.width}x${c.height}, ${c.colors} colours, luminance std ${c.std.toFixed(1)}`,
    );
  }

  // chapter 2's table: the same layers, modules and args at any image size (the shapes scale with it)
  const rows = (text: string) =>
    text
      .split('\n')
      .filter((l) => /^\| \d+ \|/.test(l))
      .map((l) => l.split('|').slice(1, 6).join('|'));
  const table = readFileSync(join(out, 'layers.md'), 'utf8');
  t.equal(rows(table).length, 23, '23 layers');
  t.same(
    rows(readFileSync(join(DOCS, 'figures/layers.md'), 'utf8')),
    rows(table),
    'committed layers.md lists the same layers',
  );
  const ch2 = readFileSync(join(DOCS, '02_backbone.md'), 'utf8');
  t.ok(
    ch2.includes(readFileSync(join(DOCS, 'figures/layers.md'), 'utf8').split('\n').slice(1).join('\n').trim()),
    'chapter 2 pastes figures/layers.md',
  );

  if (gpu) {
    const wgsl = readFileSync(join(out, 'elementwise.silu.wgsl'), 'utf8');
    t.match(
      wgsl,
      /out\[io\] = TOUT\(x \/ \(1\.0 \+ exp\(-x\)\)\);/,
      "the silu row's expression sits in the kernel's slot",
    );
    t.equal(
      readFileSync(join(DOCS, 'figures/elementwise.silu.wgsl'), 'utf8'),
      wgsl,
      'committed figures/elementwise.silu.wgsl is what the engine builds now',
    );
    const ch6 = readFileSync(join(DOCS, '06_engine.md'), 'utf8');
    const block = /```wgsl\n([\s\S]*?)```/.exec(ch6)?.[1];
    t.equal(block, wgsl, 'chapter 6 pastes the dumped shader byte for byte');
  } else t.comment('no WebGPU adapter: the WGSL dump is not checked');
});

t.test('every picture a chapter links exists', async (t) => {
  const chapters = readdirSync(DOCS).filter((f) => f.endsWith('.md'));
  t.ok(chapters.length >= 7, `${chapters.length} pages`);
  const figures = new Set(readdirSync(join(DOCS, 'figures')));
  for (const ch of chapters) {
    const text = readFileSync(join(DOCS, ch), 'utf8');
    for (const [, src] of text.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g))
      t.ok(src.startsWith('figures/') && figures.has(src.slice(8)), `${ch}: ${src}`);
    for (const [, href] of text.matchAll(/\]\((\.\.\/\.\.\/[^)#]+|0\d_[\w]+\.md|README\.md)\)/g)) {
      t.ok(readdirSync(join(DOCS, href, '..')).includes(href.split('/').pop()!), `${ch}: link ${href}`);
    }
  }
});
