// `npm run bench`: issue 11's P1 (inference, bench/inference_p1.ts) then P2 (a training step,
// bench/train_step_p2.ts), each in its own process (each opens and releases its devices), with
// this command's arguments passed to both (--devices, --runs, --warmup, --threads, --weights).
// Runs from the repository root, as `node dist/bench/run.js` (npm run bench, after the build) or
// `npx tsx bench/run.ts`. YOLO_PROFILE=1 adds a per-op-kind profile after each device's rows.
import { spawnSync } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ext = extname(fileURLToPath(import.meta.url)); // .ts under tsx, .js from dist/
let failed = 0;
for (const name of ['inference_p1', 'train_step_p2']) {
  const script = fileURLToPath(new URL(`./${name}${ext}`, import.meta.url));
  console.log(`\n== ${name} ==`);
  const r = spawnSync(process.execPath, [...process.execArgv, script, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`${name}: exited with ${r.status ?? r.signal}`);
    failed++;
  }
}
process.exitCode = failed ? 1 : 0;
