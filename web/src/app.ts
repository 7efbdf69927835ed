// The predict page: model (bundled or opened), image / video / webcam, conf-iou-imgsz, the plot
// drawn by the same annotator as Node (Ultralytics' palette and skeleton), per-stage speed.
// `window.yolo` exposes the same steps to tests (test/web/browser.test.ts).
import { blit, decodeBytes, grabFrame, loadModel, pickDevice, predictImage, resultsJson } from './engine_page.js';
import type { Device } from '../../engine/index.js';
import { FineTuneView } from './train/view.js';
import { featureMaps, mountInside, shaderSources } from './inside.js';
import type { YOLO, Results } from '../../tasks/yolo.js';
import type { RgbImage } from '../../tasks/data/image.js';

const BUNDLED = { name: 'yolov8n-pose.pt', url: '/weights/yolov8n-pose.pt' };
const SAMPLE = '/images/bus.jpg';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const canvas = $<HTMLCanvasElement>('canvas');
const banner = $('banner');

let device: Device;
let model: YOLO | null = null;
let image: RgbImage | null = null;
let stopVideo: (() => void) | null = null;
let inside: ReturnType<typeof mountInside>;
let lastResult: Results | null = null;

function say(msg: string, kind: 'info' | 'error' = 'info') {
  banner.textContent = msg;
  banner.className = kind === 'error' ? 'error' : '';
  banner.style.display = msg ? 'block' : 'none';
  if (kind === 'error') console.warn(msg); // a warning, not console.error: bad input is handled, the page goes on
}

/** What `yolo app` serves at BUNDLED.url (its file name comes in the x-yolo-weights header). */
const bundled: { bytes: Uint8Array | null; file: string } = { bytes: null, file: '' };
const WEAK_FIXTURE = 'yolov8n-pose-coco128.pt';

async function fetchBundled(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} ${r.statusText}`);
  bundled.file = r.headers.get('x-yolo-weights') ?? '';
  return (bundled.bytes = new Uint8Array(await r.arrayBuffer()));
}

function setConf(v: number) {
  $<HTMLInputElement>('conf').value = String(v);
  $('conf-v').textContent = v.toFixed(2);
}

function args() {
  return {
    conf: Number($<HTMLInputElement>('conf').value),
    iou: Number($<HTMLInputElement>('iou').value),
    imgsz: Number($<HTMLSelectElement>('imgsz').value),
  };
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} ${r.statusText}`);
  return new Uint8Array(await r.arrayBuffer());
}

function show(r: Results) {
  lastResult = r;
  blit(canvas, r.plot());
  const s = r.speed;
  $('speed').textContent =
    `${r.origShape[1]}x${r.origShape[0]} ${r.verbose()}Speed: ${s.preprocess.toFixed(1)}ms preprocess, ${s.inference.toFixed(1)}ms inference, ${s.postprocess.toFixed(1)}ms postprocess (${device.type === 'cpu' ? 'cpu engine' : 'WebGPU'})`;
  const rows = r.boxes.xyxy.map(
    (b, i) =>
      `<tr><td>${i}</td><td>${r.names[r.boxes.cls[i]]}</td><td>${r.boxes.conf[i].toFixed(3)}</td><td>${b.map((v) => v.toFixed(0)).join(', ')}</td><td>${(r.keypoints?.conf?.[i] ?? []).map((c) => c.toFixed(2)).join(' ')}</td></tr>`,
  );
  $('dets').innerHTML =
    `<tr><th>#</th><th>class</th><th>conf</th><th>xyxy</th><th>keypoint conf</th></tr>${rows.join('')}`;
}

async function run() {
  if (!model || !image) return;
  show(await predictImage(model, image, args()));
}

async function openModel(name: string, bytes: Uint8Array) {
  say(`loading ${name}…`);
  try {
    model = await loadModel(name, bytes, device);
    $('model-name').textContent = bytes === bundled.bytes && bundled.file ? `${name} (${bundled.file})` : name;
    // as Ultralytics, predict at the size the checkpoint was trained at unless told otherwise
    const trained = Number(model.ckptMeta?.train_args?.imgsz);
    if (trained > 0) {
      const sel = $<HTMLSelectElement>('imgsz');
      if (![...sel.options].some((o) => o.value === String(trained))) sel.add(new Option(String(trained)));
      sel.value = String(trained);
    }
    if (bytes === bundled.bytes && bundled.file === WEAK_FIXTURE) setConf(0.05); // the README's model is weak: best person score ~0.19
    say('');
    await run();
  } catch (e) {
    say((e as Error).message, 'error');
  }
}

async function openImage(name: string, bytes: Uint8Array) {
  stopVideo?.();
  try {
    image = await decodeBytes(bytes, name);
  } catch (e) {
    say((e as Error).message, 'error');
    return;
  }
  say('');
  await run();
}

async function openFile(f: File) {
  const bytes = new Uint8Array(await f.arrayBuffer());
  if (/\.(pt|safetensors|onnx)$/i.test(f.name)) return openModel(f.name, bytes);
  if (f.type.startsWith('video/')) return openVideo(URL.createObjectURL(f), f.name);
  return openImage(f.name, bytes);
}

/** Frames of a <video> (file or webcam) through predict, one at a time, until stopped. */
function playVideo(video: HTMLVideoElement, name: string) {
  let on = true;
  stopVideo = () => {
    on = false;
    video.pause();
    const s = video.srcObject as MediaStream | null;
    s?.getTracks().forEach((t) => t.stop());
    stopVideo = null;
  };
  const step = async () => {
    if (!on || video.ended) return;
    if (model && video.videoWidth) {
      image = grabFrame(video, video.videoWidth, video.videoHeight);
      try {
        await run();
      } catch (e) {
        say(`${name}: ${(e as Error).message}`, 'error');
        return;
      }
    }
    requestAnimationFrame(step);
  };
  video.play().then(step, (e: Error) => say(`${name}: cannot play (${e.message})`, 'error'));
}

function openVideo(url: string, name: string) {
  stopVideo?.();
  const video = $<HTMLVideoElement>('video');
  video.srcObject = null;
  video.src = url;
  video.onerror = () => say(`${name}: the browser cannot decode this video`, 'error');
  playVideo(video, name);
}

async function openWebcam() {
  stopVideo?.();
  try {
    const video = $<HTMLVideoElement>('video');
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
    playVideo(video, 'webcam');
  } catch (e) {
    say(`webcam: ${(e as Error).message}`, 'error');
  }
}

let lastBest: Uint8Array | null = null;
/** the fine-tune panel: dataset, charts, pause / resume (./train/view.ts) */
const ft = new FineTuneView((msg) => say(msg, 'error'));

/** Trains from the bundled checkpoint on the panel's dataset (coco8-pose or a picked folder); best.pt offered for download. */
async function train(a: { epochs?: number; imgsz?: number; batch?: number; nbs?: number; val?: boolean } = {}) {
  const weights = bundled.bytes ?? (await fetchBundled(BUNDLED.url));
  const r = await ft.run(weights, device.type, a);
  lastBest = r.best;
  return { losses: r.losses, vals: r.vals, bestBytes: r.best?.length ?? 0, ms: r.ms };
}

/** Look inside: the current image's feature maps, one small canvas per layer. */
async function showMaps() {
  if (!model || !image) return 0;
  const box = $('maps');
  box.textContent = 'running the layers…';
  const maps = await featureMaps(model, image, args().imgsz);
  box.textContent = '';
  for (const m of maps) {
    const fig = document.createElement('figure');
    fig.style.margin = '0';
    const c = document.createElement('canvas');
    blit(c, m.grid);
    c.style.width = '240px';
    const cap = document.createElement('figcaption');
    cap.textContent = `${m.i} ${m.type} (${m.shape.slice(1).join(', ')})`;
    cap.style.fontSize = '11px';
    fig.append(c, cap);
    box.append(fig);
  }
  return maps.length;
}

function wire() {
  const shaders = shaderSources();
  const sel = $<HTMLSelectElement>('wgsl-file');
  for (const f of Object.keys(shaders).sort()) sel.add(new Option(f));
  const showWgsl = () => ($('wgsl').textContent = shaders[sel.value] ?? '');
  sel.addEventListener('change', showWgsl);
  sel.value = 'conv2d_tiled.wgsl' in shaders ? 'conv2d_tiled.wgsl' : (sel.options[0]?.value ?? '');
  showWgsl();
  inside = mountInside($('inside-more'), { model: () => model, image: () => image, args, canvas, say });
  $('maps-run').addEventListener('click', () => void showMaps().catch((e: Error) => say(e.message, 'error')));
  $('ft-start').addEventListener('click', () => {
    const n = (id: string) => Number($<HTMLInputElement>(id).value);
    train({ epochs: n('ft-epochs'), imgsz: n('ft-imgsz'), batch: n('ft-batch') }).catch((e: Error) =>
      say(`fine-tune: ${e.message}`, 'error'),
    );
  });
  for (const id of ['conf', 'iou'])
    $<HTMLInputElement>(id).addEventListener('input', (e) => {
      $(`${id}-v`).textContent = Number((e.target as HTMLInputElement).value).toFixed(2);
      void run();
    });
  $('imgsz').addEventListener('change', () => void run());
  $<HTMLInputElement>('model-file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void openFile(f);
  });
  $<HTMLInputElement>('image-file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void openFile(f);
  });
  $<HTMLInputElement>('video-file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) openVideo(URL.createObjectURL(f), f.name);
  });
  $('sample').addEventListener('click', async () => openImage('bus.jpg', await fetchBytes(SAMPLE)));
  $('webcam').addEventListener('click', () => void openWebcam());
  $('stop').addEventListener('click', () => stopVideo?.());
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    for (const f of e.dataTransfer?.files ?? []) void openFile(f);
  });
}

async function main() {
  wire();
  const pick = await pickDevice();
  device = pick.device;
  $('device').textContent = `device: ${device.type === 'cpu' ? 'cpu engine (TypeScript)' : `WebGPU (${device.name})`}`;
  if (pick.fallback) say(pick.fallback, 'error');
  // ?model=none leaves loading to the caller (tests time each step themselves)
  if (new URLSearchParams(location.search).get('model') === 'none') return;
  await openModel(BUNDLED.name, await fetchBundled(BUNDLED.url));
  await openImage('bus.jpg', await fetchBytes(SAMPLE));
}

const ready = main();
/** For tests and the console: the page's own steps. */
(window as unknown as { yolo: unknown }).yolo = {
  ready,
  get device() {
    return { type: device.type, name: device.name };
  },
  /** the banner's text: the no-WebGPU notice or the last bad file */
  get message() {
    return banner.style.display === 'none' ? '' : (banner.textContent ?? '');
  },
  /** a file as if dropped on the page (bytes, name) */
  async dropFile(name: string, bytes: number[], type = '') {
    await openFile(new File([new Uint8Array(bytes)], name, { type }));
  },
  /** predict an image URL with the current model; plain JSON results */
  async predictUrl(url: string, a: { conf?: number; iou?: number; imgsz?: number } = {}) {
    await ready;
    if (!model) throw new Error('no model loaded');
    const img = await decodeBytes(await fetchBytes(url), url);
    return resultsJson(await predictImage(model, img, { ...args(), ...a }));
  },
  /** load a model from a URL (the bundled one by default); resolves with its load time in ms */
  async loadUrl(url = BUNDLED.url, name = BUNDLED.name) {
    await ready;
    const t0 = performance.now();
    await openModel(name, url === BUNDLED.url ? await fetchBundled(url) : await fetchBytes(url));
    if (!model) throw new Error(banner.textContent ?? `${name}: not loaded`);
    return performance.now() - t0;
  },
  openModel,
  openImage,
  /** fine-tune on coco8-pose from the bundled checkpoint: per-step losses, best.pt's size, ms */
  async fineTune(a: { epochs?: number; imgsz?: number; batch?: number; nbs?: number; val?: boolean }) {
    await ready;
    return train(a);
  },
  /** the fine-tune panel: steps, chart points, pause state; pause / resume as the button does */
  get training() {
    return ft.state;
  },
  pauseTraining: () => ft.pause(),
  resumeTraining: () => ft.resume(),
  /** a dataset folder as if picked with the folder input: [path inside the picked folder's parent, base64] */
  pickDataset(files: [string, string][]) {
    return ft.pickFolder(
      files.map(([path, b64]) => ({ path, data: Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)) })),
    );
  },
  /** look inside: draws every layer's feature maps; resolves with the number of layers */
  async featureMaps() {
    await ready;
    ($('inside') as HTMLDetailsElement).open = true;
    return showMaps();
  },
  /** the result drawn last (plain JSON), as predictUrl returns it */
  get lastResult() {
    return lastResult && resultsJson(lastResult);
  },
  /** look inside the head (anchors, DFL, keypoints) and a layer's kernels: each renders its view and returns its values */
  get inside() {
    return inside.api;
  },
  /** the last fine-tune's best.pt, base64 (what the download link gives) */
  bestBase64() {
    if (!lastBest) return null;
    let s = '';
    for (let i = 0; i < lastBest.length; i += 0x8000) s += String.fromCharCode(...lastBest.subarray(i, i + 0x8000));
    return btoa(s);
  },
};
