// results.csv exactly as Ultralytics 8.2.82's save_metrics writes it: a header of `%23s` columns
// (epoch, the train losses, the val metrics, the val losses, the learning rates) and one `%23.5g`
// row per epoch, appended as each epoch ends (so a resumed run continues the same file).
//
// Imports: node, ../format (Python's %g).

import { existsSync, readFileSync, appendFileSync, writeFileSync } from 'node:fs';
import { formatG } from '../format.js';

/** PoseTrainer.loss_names. */
export const LOSS_NAMES = ['box_loss', 'pose_loss', 'kobj_loss', 'cls_loss', 'dfl_loss'] as const;

/** PoseMetrics.keys: box then pose precision, recall, mAP50, mAP50-95. */
export const METRIC_KEYS = [
  'metrics/precision(B)',
  'metrics/recall(B)',
  'metrics/mAP50(B)',
  'metrics/mAP50-95(B)',
  'metrics/precision(P)',
  'metrics/recall(P)',
  'metrics/mAP50(P)',
  'metrics/mAP50-95(P)',
] as const;

/** Every column after 'epoch', in Ultralytics' order, for three parameter groups. */
export const RESULT_COLUMNS = [
  ...LOSS_NAMES.map((n) => `train/${n}`),
  ...METRIC_KEYS,
  ...LOSS_NAMES.map((n) => `val/${n}`),
  'lr/pg0',
  'lr/pg1',
  'lr/pg2',
];

/** label_loss_items: {prefix/box_loss: round(x, 5), ...}. */
export function labelLossItems(items: ArrayLike<number>, prefix: 'train' | 'val'): Record<string, number> {
  return Object.fromEntries(LOSS_NAMES.map((n, i) => [`${prefix}/${n}`, Math.round(items[i] * 1e5) / 1e5]));
}

/** Appends one epoch (1-based) to `file`, writing the header first when the file is new. */
export function appendResults(file: string, epoch: number, metrics: Record<string, number>) {
  const keys = Object.keys(metrics),
    vals = Object.values(metrics);
  const header = existsSync(file) ? '' : ['epoch', ...keys].map((k) => k.padStart(23)).join(',') + '\n';
  appendFileSync(file, header + [epoch, ...vals].map((v) => formatG(v, 5).padStart(23)).join(',') + '\n');
}

/** Reads a results.csv (ours or Ultralytics'): column names (trimmed) and numeric columns. */
export function readResults(file: string): { columns: string[]; data: Record<string, number[]> } {
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  if (!lines.length) throw new Error(`${file}: empty results file`);
  const columns = lines[0].split(',').map((s) => s.trim());
  const data: Record<string, number[]> = Object.fromEntries(columns.map((c) => [c, []]));
  lines.slice(1).forEach((l, r) => {
    const cells = l.split(',');
    if (cells.length !== columns.length)
      throw new Error(`${file}:${r + 2}: ${cells.length} values, the header has ${columns.length} columns`);
    cells.forEach((c, i) => data[columns[i]].push(Number(c.trim())));
  });
  return { columns, data };
}

/** Drops the rows after `epoch` (1-based) so a resumed run does not repeat an epoch that was lost. */
export function truncateResults(file: string, epoch: number) {
  if (!existsSync(file)) return;
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  const keep = lines.filter((l, i) => i === 0 || Number(l.split(',')[0]) <= epoch);
  if (keep.length < lines.length) writeFileSync(file, keep.join('\n') + '\n');
}
