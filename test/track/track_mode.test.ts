// mode=track end to end with the bundled checkpoint (a weak model: its person scores are < 0.25, so
// the tracker yaml used here lowers the thresholds): model.track gives Results with boxes.id, ids carry
// over between frames, persist keeps tracks across calls, tracker yaml errors name the file and key,
// and `yolo pose track` writes the annotated mp4 and label files ending with the track id.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getDevice, releaseDevices } from '../../engine/index.js';
import { FrameReader, probeVideo } from '../../tasks/predict/video.js';
import { loadTrackerConfig } from '../../tasks/track/track.js';
import { YOLO } from '../../tasks/yolo.js';
import { CKPT } from '../predict/reference.js';

const clip = new URL('../fixtures/video/people.mp4', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'yolo-track-'));
const lowYaml = join(dir, 'low.yaml');
writeFileSync(
  lowYaml,
  'tracker_type: bytetrack\ntrack_high_thresh: 0.1\ntrack_low_thresh: 0.03\nnew_track_thresh: 0.12\ntrack_buffer: 30\nmatch_thresh: 0.8\nfuse_score: True\n',
);

t.test('tracker yaml files', async (t) => {
  t.same(loadTrackerConfig('bytetrack.yaml'), {
    tracker_type: 'bytetrack',
    track_high_thresh: 0.5,
    track_low_thresh: 0.1,
    new_track_thresh: 0.6,
    track_buffer: 30,
    match_thresh: 0.8,
    fuse_score: true,
  });
  t.match(loadTrackerConfig('botsort.yaml'), {
    tracker_type: 'botsort',
    gmc_method: 'sparseOptFlow',
    with_reid: false,
    proximity_thresh: 0.5,
    appearance_thresh: 0.25,
  });
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'tracker_type: bytetrack\ntrack_high_thres: 0.5\n');
  t.throws(() => loadTrackerConfig(bad), new RegExp(`${bad}: unknown key 'track_high_thres'`));
  writeFileSync(bad, 'tracker_type: deepsort\n');
  t.throws(() => loadTrackerConfig(bad), /'track_high_thresh' is missing/);
  t.throws(
    () => loadTrackerConfig('nope.yaml'),
    /tracker=nope.yaml: file not found \(bundled: bytetrack.yaml, botsort.yaml\)/,
  );
});

t.test('model.track and yolo pose track', async (t) => {
  let device;
  try {
    device = await getDevice('webgpu');
  } catch {
    t.skip('no WebGPU adapter');
    return;
  }
  t.teardown(releaseDevices);
  const model = new YOLO(CKPT);
  const common = { imgsz: 320, conf: 0.05, device, verbose: false, tracker: lowYaml };
  const rs = await model.track(clip, { ...common, vid_stride: 10 });
  t.equal(rs.length, 9);
  t.same(rs[0].boxes.id, [1, 2, 3, 4, 5, 6, 7, 8, 9], 'frame 1 starts one track per confident detection');
  t.ok(
    rs[1].boxes.isTrack && rs[1].boxes.id!.every((id) => id <= 9) && rs[1].boxes.id!.includes(1),
    `the next frame keeps ids from the first (${rs[1].boxes.id})`,
  );
  t.equal(rs[0].keypoints!.data.length, rs[0].boxes.length * 51, 'keypoints follow the tracked boxes');

  // persist: frame by frame calls (in-memory frames) continue the same tracks
  const reader = new FrameReader(clip, await probeVideo(clip));
  const frames = [];
  for (let i = 0; i < 20; i++) {
    const f = (await reader.next())!;
    if (i >= 9 && i % 10 === 9) frames.push(f);
  }
  reader.close();
  const a = (await model.track(frames[0], { ...common, persist: true }))[0];
  const b = (await model.track(frames[1], { ...common, persist: true }))[0];
  const c = (await model.track(frames[1], { ...common }))[0];
  t.same(a.boxes.id, rs[0].boxes.id, 'persist: first call = first frame of the video run');
  t.same(b.boxes.id, rs[1].boxes.id, 'persist: the second call continues those tracks');
  t.ok(
    c.boxes.id!.every((id) => id <= c.boxes.length),
    `without persist a call starts over (${c.boxes.id})`,
  );

  // the CLI
  const run = spawnSync(
    process.execPath,
    [
      '--import=tsx',
      'tasks/cli.ts',
      'pose',
      'track',
      `model=${CKPT}`,
      `source=${clip}`,
      'imgsz=320',
      'conf=0.05',
      `tracker=${lowYaml}`,
      'vid_stride=30',
      'save_txt=True',
      `project=${dir}`,
    ],
    { encoding: 'utf8', timeout: 300_000 },
  );
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, /video 1\/1 \(frame 1\/3\) \S+people\.mp4: 192x320 \d+ persons?, [\d.]+ms/);
  t.match(run.stdout, new RegExp(`Results saved to ${join(dir, 'track')}`));
  t.same(await probeVideo(join(dir, 'track', 'people.mp4')), { width: 640, height: 360, fps: 30, frames: 3 });
  t.same(readdirSync(join(dir, 'track', 'labels')).sort(), ['people_1.txt', 'people_2.txt', 'people_3.txt']);
  const ids = readFileSync(join(dir, 'track', 'labels', 'people_1.txt'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' ').at(-1));
  t.same(
    ids,
    ids.map((_, i) => String(i + 1)),
    `label lines end with the track id (${ids})`,
  );
  t.ok(ids.length >= 2);
});
