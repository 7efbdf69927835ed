// `yolo pose track model=... source=clip.mp4 tracker=bytetrack.yaml ...`: predict's keys (checked the
// same way) plus tracker and persist, run through YOLO.track with save=True as Ultralytics' CLI does.
//
// Imports: ../predict/cli, ../yolo, ../cfg (types).

import type { CfgValue } from '../cfg.js';
import { predictArgs } from '../predict/cli.js';
import { YOLO } from '../yolo.js';

export async function trackCli(overrides: Record<string, CfgValue>): Promise<number> {
  const { tracker, persist, ...rest } = overrides;
  if (tracker != null && typeof tracker !== 'string')
    throw new Error(`yolo track: 'tracker=${tracker}' must be a yaml file (bytetrack.yaml or botsort.yaml)`);
  if (persist != null && typeof persist !== 'boolean')
    throw new Error(`yolo track: 'persist=${persist}' must be True or False`);
  const { model, source, ...args } = predictArgs(rest);
  const yolo = new YOLO(model);
  for await (const r of yolo.track(source, {
    ...args,
    tracker: tracker ?? 'botsort.yaml',
    persist: !!persist,
    stream: true,
  }))
    void r;
  return yolo.errors.length ? 1 : 0;
}
