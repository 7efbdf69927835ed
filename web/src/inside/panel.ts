// The "look inside" views on the page, below the feature maps: the anchor grid per stride, the DFL
// bins of a chosen box side, raw vs decoded keypoints of a chosen detection (click a box on the
// image or pick it from the list), and the ops and WGSL kernels of a chosen layer. The page gives
// getters for its current model, image and arguments; `api` is what window.yolo.inside exposes.
import { dflView, inspectHead, keypointView, SIDES, type HeadInspection, type Side } from './head.js';
import { drawAnchors, drawDfl, drawKeypoints, STRIDE_COLORS } from './draw.js';
import { layerKernels, layerList } from './kernels.js';
import type { RgbImage } from '../../../tasks/data/image.js';
import type { PredictArgs, YOLO } from '../../../tasks/yolo.js';

export interface PageState {
  model: () => YOLO | null;
  image: () => RgbImage | null;
  args: () => PredictArgs & { imgsz: number };
  /** the main canvas, where the result is drawn at the image's own size */
  canvas: HTMLCanvasElement;
  say: (msg: string, kind?: 'info' | 'error') => void;
}

const esc = (s: string) => s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
const f = (v: number, d = 3) => (Number.isNaN(v) ? '–' : v.toFixed(d));

function el<T extends HTMLElement = HTMLElement>(
  tag: string,
  props: Record<string, unknown> = {},
  ...kids: (Node | string)[]
): T {
  const e = Object.assign(document.createElement(tag), props) as unknown as T;
  e.append(...kids);
  return e;
}

export function mountInside(root: HTMLElement, page: PageState) {
  const anchorBox = el('div', { id: 'inside-anchor-legend' });
  const anchorCanvas = el<HTMLCanvasElement>('canvas', { id: 'inside-anchors' });
  const detSel = el<HTMLSelectElement>('select', { id: 'inside-det' });
  const sideSel = el<HTMLSelectElement>('select', { id: 'inside-side' });
  for (const s of SIDES)
    sideSel.add(new Option({ l: 'l (left)', t: 't (top)', r: 'r (right)', b: 'b (bottom)' }[s], s));
  const dflCanvas = el<HTMLCanvasElement>('canvas', { id: 'inside-dfl' });
  const dflText = el('div', { id: 'inside-dfl-sum', className: 'mono' });
  const dflTable = el<HTMLTableElement>('table', { id: 'inside-dfl-table' });
  const kptCanvas = el<HTMLCanvasElement>('canvas', { id: 'inside-kpts' });
  const kptTable = el<HTMLTableElement>('table', { id: 'inside-kpt-table' });
  const layerSel = el<HTMLSelectElement>('select', { id: 'inside-layer' });
  const kernelsBox = el('div', { id: 'inside-kernels' });
  const headBtn = el('button', { id: 'inside-head-run', textContent: 'Anchors, DFL and keypoints of this image' });
  const layerBtn = el('button', { id: 'inside-layer-run', textContent: 'Ops and kernels of this layer' });
  root.append(
    el('h3', {}, 'The head: anchors, DFL, keypoints'),
    headBtn,
    el(
      'p',
      { className: 'note' },
      "Every anchor point the head predicts from, one colour per stride, over the letterboxed input; the chosen detection's anchor cell and box, its chosen side in red, the side's distance from the anchor dashed:",
    ),
    anchorBox,
    anchorCanvas,
    el('p', { className: 'note' }, 'A detection (or click its box on the image above) and one side of its box:'),
    el('label', {}, 'detection ', detSel, ' side ', sideSel),
    dflText,
    dflCanvas,
    dflTable,
    el('p', { className: 'note' }, "The same detection's keypoints: the head's raw outputs and what they decode to:"),
    kptCanvas,
    kptTable,
    el('h3', {}, 'A layer: its ops and the WGSL kernels they launched'),
    el('label', {}, 'layer ', layerSel, ' ', layerBtn),
    kernelsBox,
  );

  let insp: HeadInspection | null = null;
  let key = '';
  let shown: boolean[] = [];
  const stateKey = () => {
    const img = page.image();
    const model = page.model();
    return img && model ? `${modelId(model)}|${imageId(img)}|${JSON.stringify(page.args())}` : '';
  };

  async function ensureHead(): Promise<HeadInspection> {
    const model = page.model(),
      img = page.image();
    if (!model || !img) throw new Error('look inside: open a model and an image first');
    const k = stateKey();
    if (insp && k === key) return insp;
    insp = await inspectHead(model, img, page.args());
    key = k;
    shown = insp.levels.map(() => true);
    anchorBox.textContent = '';
    insp.levels.forEach((l, i) => {
      const cb = el<HTMLInputElement>('input', { type: 'checkbox', checked: true });
      cb.addEventListener('change', () => {
        shown[i] = cb.checked;
        redrawAnchors();
      });
      const sw = el('span', { textContent: '■ ' });
      sw.style.color = STRIDE_COLORS[i % STRIDE_COLORS.length];
      anchorBox.append(
        el('label', { className: 'inline' }, cb, sw, `stride ${l.stride}: ${l.w}×${l.h} = ${l.w * l.h} anchors`),
      );
    });
    anchorBox.append(
      el('span', { className: 'note' }, ` · ${insp.A} in all, input ${insp.inShape[1]}×${insp.inShape[0]}`),
    );
    detSel.textContent = '';
    for (const d of insp.detections)
      detSel.add(
        new Option(
          `#${d.index} conf ${d.conf.toFixed(3)} · anchor ${d.anchor} (stride ${d.stride}, cell ${d.point[0] - 0.5},${d.point[1] - 0.5})`,
          String(d.index),
        ),
      );
    return insp;
  }

  function current() {
    return insp?.detections[Number(detSel.value)] ?? insp?.detections[0];
  }

  function redrawAnchors() {
    if (insp) drawAnchors(anchorCanvas, insp, shown, current(), SIDES.indexOf(sideSel.value as Side));
  }

  async function showDfl(det: number, side: Side) {
    const h = await ensureHead();
    const d = h.detections[det];
    if (!d) throw new Error(`look inside: no detection ${det} (${h.detections.length} found)`);
    detSel.value = String(det);
    sideSel.value = side;
    const v = await dflView(page.model()!, h, d, side);
    drawDfl(dflCanvas, v);
    redrawAnchors();
    dflText.innerHTML =
      `side ${side} of detection #${det}: Σ p<sub>i</sub>·i = <b>${v.expected.toFixed(5)}</b> grid units (the engine's dfl op) · ` +
      `the model's decoded box gives ${v.decoded.toFixed(5)} · ×stride ${v.stride} = ${(v.expected * v.stride).toFixed(2)} px · ` +
      `box edge at ${v.edge.toFixed(2)} px in the ${h.inShape[1]}×${h.inShape[0]} input`;
    dflTable.innerHTML =
      `<tr><th>bin i</th>${v.probs.map((_, i) => `<td>${i}</td>`).join('')}</tr>` +
      `<tr><th>logit</th>${v.logits.map((x) => `<td>${f(x, 2)}</td>`).join('')}</tr>` +
      `<tr><th>p<sub>i</sub></th>${v.probs.map((x) => `<td>${f(x, 3)}</td>`).join('')}</tr>`;
    return v;
  }

  async function showKeypoints(det: number) {
    const h = await ensureHead();
    const d = h.detections[det];
    if (!d) throw new Error(`look inside: no detection ${det} (${h.detections.length} found)`);
    const kv = keypointView(h, d);
    drawKeypoints(kptCanvas, h, d, kv);
    kptTable.innerHTML =
      `<tr><th>k</th><th>raw x</th><th>raw y</th><th>raw v</th><th>(2x + ${f(d.point[0], 1)} − 0.5)·${d.stride}</th>` +
      `<th>(2y + ${f(d.point[1], 1)} − 0.5)·${d.stride}</th><th>σ(v)</th><th>in the image x, y</th></tr>` +
      kv.rows
        .map(
          (r, k) =>
            `<tr><td>${k}</td><td>${f(r.raw[0])}</td><td>${f(r.raw[1])}</td><td>${f(r.raw[2])}</td><td>${f(r.decoded[0], 2)}</td>` +
            `<td>${f(r.decoded[1], 2)}</td><td>${f(r.decoded[2], 3)}</td><td>${f(r.result[0], 1)}, ${f(r.result[1], 1)}</td></tr>`,
        )
        .join('');
    return kv;
  }

  async function showDetection(det: number, side: Side = sideSel.value as Side) {
    const v = await showDfl(det, side);
    const kv = await showKeypoints(det);
    return { dfl: v, keypoints: kv };
  }

  async function showKernels(index: number) {
    const model = page.model(),
      img = page.image();
    if (!model || !img) throw new Error('look inside: open a model and an image first');
    layerSel.value = String(index);
    kernelsBox.textContent = 'running the layer…';
    const r = await layerKernels(model, img, page.args().imgsz, index);
    kernelsBox.textContent = '';
    const onGpu = r.device === 'webgpu';
    kernelsBox.append(
      el(
        'p',
        { className: 'note' },
        `layer ${r.i} ${r.type} ran ${r.ops.length} ops (eagerly, on ${onGpu ? 'WebGPU' : `the ${r.device} engine`})` +
          (onGpu ? `, ${r.ops.reduce((s, o) => s + o.kernels.length, 0)} kernel launches` : '') +
          '. Ops are listed as they finish: an op built from other ops comes after its parts (on WebGPU, conv2d first repacks its weight: a permute, then a copy).',
      ),
    );
    for (const o of r.ops) {
      const head = `${o.where || '(layer)'} · ${o.op} → (${o.shape.join(', ')})`;
      if (!o.kernels.length) {
        const why = onGpu
          ? 'no kernel of its own (a view of its input, or its work was the launches listed above it)'
          : `no kernel: the ${r.device} engine runs this op's loops in TypeScript on the CPU (engine/ops/)`;
        kernelsBox.append(el('div', { className: 'op' }, el('b', {}, head), ` — ${why}`));
        continue;
      }
      const box = el('div', { className: 'op' }, el('b', {}, head));
      for (const k of o.kernels) {
        const consts = Object.entries(k.constants)
          .map(([n, v]) => `${n}=${v}`)
          .join(' ');
        box.append(
          el(
            'details',
            { className: 'kernel' },
            el('summary', {}, `${k.name} · grid ${k.grid.join('×')}${consts ? ` · ${consts}` : ''}`),
            el('pre', { className: 'wgsl', innerHTML: esc(k.code) }),
          ),
        );
      }
      kernelsBox.append(box);
    }
    return r;
  }

  // the picked box on the main canvas (drawn at the image's own size, shown scaled)
  page.canvas.addEventListener('click', (e) => {
    const c = page.canvas;
    const x = (e.offsetX * c.width) / c.clientWidth,
      y = (e.offsetY * c.height) / c.clientHeight;
    void (async () => {
      const h = await ensureHead();
      const hits = h.results.boxes.xyxy
        .map((b, i) => ({ i, b, area: (b[2] - b[0]) * (b[3] - b[1]) }))
        .filter(({ b }) => x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3])
        .sort((p, q) => p.area - q.area);
      if (!hits.length) return;
      (root.closest('details') as HTMLDetailsElement | null)?.setAttribute('open', '');
      await showDetection(hits[0].i);
    })().catch((err: Error) => page.say(err.message, 'error'));
  });
  const fail = (err: Error) => page.say(err.message, 'error');
  headBtn.addEventListener('click', () => void showDetection(0).catch(fail));
  detSel.addEventListener('change', () => void showDetection(Number(detSel.value)).catch(fail));
  sideSel.addEventListener('change', () => void showDfl(Number(detSel.value), sideSel.value as Side).catch(fail));
  layerBtn.addEventListener('click', () => void showKernels(Number(layerSel.value)).catch(fail));

  /** the layer list follows the model */
  function refreshLayers() {
    const model = page.model();
    const layers = model ? layerList(model) : [];
    const keep = layerSel.value;
    layerSel.textContent = '';
    for (const l of layers) layerSel.add(new Option(`${l.i} ${l.type} (from ${JSON.stringify(l.from)})`, String(l.i)));
    if (layers.some((l) => String(l.i) === keep)) layerSel.value = keep;
    else if (layers.length > 1) layerSel.value = '1';
  }
  layerSel.addEventListener('focus', refreshLayers);
  root.closest('details')?.addEventListener('toggle', refreshLayers);

  return {
    refreshLayers,
    /** for tests and the console: each view, rendered, with the values it shows */
    api: {
      async head() {
        const h = await ensureHead();
        redrawAnchors();
        return {
          inShape: h.inShape,
          A: h.A,
          predShape: [1, h.pred.length / h.A, h.A],
          levels: h.levels.map((l) => ({ ...l, count: l.h * l.w })),
          legend: anchorBox.textContent,
          detections: h.detections,
        };
      },
      dfl: (det: number, side: Side) => showDfl(det, side).then((v) => ({ ...v, text: dflText.textContent })),
      keypoints: (det: number) => showKeypoints(det).then((kv) => ({ ...kv, tableRows: kptTable.rows.length })),
      async kernels(layer: number) {
        refreshLayers();
        const r = await showKernels(layer);
        return { ...r, shownPre: kernelsBox.querySelectorAll('pre.wgsl').length };
      },
    },
  };
}

// identities for "is the inspection still the current image, model and arguments"
const ids = new WeakMap<object, number>();
let nextId = 1;
function objectId(o: object) {
  let i = ids.get(o);
  if (!i) ids.set(o, (i = nextId++));
  return i;
}
const imageId = (img: RgbImage) => objectId(img);
const modelId = (m: YOLO) => objectId(m);
