// What val prints and writes besides the metrics: the console table in Ultralytics' format
// ("%22s" + "%11i" * 2 + "%11.3g" * 8) and the class ids written to predictions.json.
//
// Imports: node, ../data/dataset (types), ../format (Python's %g).

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { DatasetConfig } from '../data/dataset.js';
import { formatG } from '../format.js';

const COLUMNS = [
  'Class',
  'Images',
  'Instances',
  'Box(P',
  'R',
  'mAP50',
  'mAP50-95)',
  'Pose(P',
  'R',
  'mAP50',
  'mAP50-95)',
];

/** `                 Class     Images  Instances      Box(P          R      mAP50  mAP50-95)     Pose(P ...` */
export function headerRow(): string {
  return COLUMNS.map((c, i) => c.padStart(i === 0 ? 22 : 11)).join('');
}

/** One row: class name, images, instances, then box P R mAP50 mAP50-95 and the same for pose. */
export function formatRow(name: string, images: number, instances: number, values: number[]): string {
  return (
    name.padStart(22) +
    String(images).padStart(11) +
    String(instances).padStart(11) +
    values.map((v) => formatG(v, 3).padStart(11)).join('')
  );
}

/** converter.coco80_to_coco91_class: COCO's 80 detection classes -> the 91 paper ids. */
export const COCO80_TO_91 = [
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36,
  37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67,
  70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90,
];

/**
 * category_id per class for predictions.json. Ultralytics maps through COCO's 80->91 table for
 * COCO itself (a val list ending in val2017.txt) and otherwise writes the class index. We also
 * look for COCO annotations beside the data (`<path>/annotations/*.json`): when their categories
 * name every class, their ids are used, so COCO's evaluator can score the file against them.
 */
export function cocoClassMap(data: DatasetConfig, split: string, nc: number): number[] {
  const v = data[split as 'val'];
  if (
    typeof v === 'string' &&
    v.includes('coco') &&
    (v.endsWith(`${sep}val2017.txt`) || v.endsWith(`${sep}test-dev2017.txt`))
  )
    return COCO80_TO_91.slice(0, Math.max(nc, 1));
  const dir = join(data.path, 'annotations');
  const names = Array.from({ length: nc }, (_, i) => data.names[i]);
  if (existsSync(dir)) {
    for (const f of readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()) {
      try {
        const cats = JSON.parse(readFileSync(join(dir, f), 'utf8')).categories as
          { id: number; name: string }[] | undefined;
        if (!Array.isArray(cats)) continue;
        const ids = names.map((n) => cats.find((c) => c.name === n)?.id);
        if (ids.every((id) => typeof id === 'number')) return ids as number[];
      } catch {
        // not a COCO annotation file; ignore
      }
    }
  }
  return Array.from({ length: nc }, (_, i) => i);
}
