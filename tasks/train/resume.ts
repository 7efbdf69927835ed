// Which checkpoint `resume=` continues (BaseTrainer.check_resume): an explicit path, the model
// itself when it is a .pt (`yolo train resume model=runs/pose/train/weights/last.pt`), or else
// the most recently written last*.pt under the runs folder (get_latest_run).
//
// Imports: node only.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

const NOT_FOUND =
  "Resume checkpoint not found. Please pass a valid checkpoint to resume from, i.e. 'yolo train resume model=path/to/last.pt'";

export function findResumeCheckpoint(resume: unknown, overrides: Record<string, unknown>): string {
  if (typeof resume === 'string' && resume.toLowerCase() !== 'true') {
    if (!existsSync(resume)) throw new Error(`${NOT_FOUND} ('${resume}' does not exist)`);
    return resume;
  }
  const model = overrides.model;
  if (typeof model === 'string' && extname(model).toLowerCase() === '.pt') {
    if (!existsSync(model)) throw new Error(`${NOT_FOUND} ('${model}' does not exist)`);
    return model;
  }
  const root = typeof overrides.project === 'string' ? overrides.project : 'runs';
  const latest = latestRun(root);
  if (!latest) throw new Error(`${NOT_FOUND} (no last*.pt under '${root}')`);
  return latest;
}

/** get_latest_run: the newest (by change time) last*.pt anywhere under `dir`. */
export function latestRun(dir: string): string | null {
  let best: { file: string; t: number } | null = null;
  const walk = (d: string, depth: number) => {
    if (depth > 8 || !existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (/^last.*\.pt$/.test(e.name)) {
        const t = statSync(p).ctimeMs;
        if (!best || t > best.t) best = { file: p, t };
      }
    }
  };
  walk(dir, 0);
  return (best as { file: string } | null)?.file ?? null;
}
