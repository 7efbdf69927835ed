// Runs before any shared module (imported first by ./engine_page.ts): shaders/*.wgsl and
// package.json go into the in-memory file tree at /, where engine/paths.ts finds the package root
// (the bundle's import.meta.url is /web/dist/app.js) and engine/backends/wgsl.ts reads the shaders.
import packageFiles from 'virtual:package-files';
import { putFile } from './platform/fs.js';

for (const [name, text] of Object.entries(packageFiles)) putFile(`/${name}`, text);

// ?YOLO_KERNEL_VARIANT=gpu and the like: the engine's environment switches, from the page's URL
for (const [k, v] of new URLSearchParams(globalThis.location?.search ?? ''))
  if (/^YOLO_[A-Z_]+$/.test(k)) process.env[k] = v;
