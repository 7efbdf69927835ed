// Runs before any shared module (imported first by ./engine_page.ts): shaders/*.wgsl and
// package.json go into the in-memory file tree at /, where engine/paths.ts finds the package root
// (the bundle's import.meta.url is /web/dist/app.js) and engine/backends/wgsl.ts reads the shaders.
import packageFiles from 'virtual:package-files';
import { putFile } from './platform/fs.js';

for (const [name, text] of Object.entries(packageFiles)) putFile(`/${name}`, text);
