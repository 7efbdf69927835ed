// `npm run build` / `prepare`: writes the relaxed and plain-SIMD kernel binaries to dist/wasm/
// (build.ts). A script of its own so that build.ts, which the runtime imports, has no top-level
// await or side effect (the browser bundle, web/, imports it too).
import { buildAll } from './build.js';

for (const line of await buildAll()) console.log(`wasm kernels: ${line}`);
