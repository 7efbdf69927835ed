// Video sources through ffmpeg (tasks/predict/video.ts, frames.ts), no network model: decoding every
// frame, writing an mp4 of the same size and fps, vid_stride numbering, folders mixing images and
// videos, damaged and truncated files, a missing ffmpeg, a live HTTP stream served by this test on
// 127.0.0.1 (buffered and newest-frame), and a dead stream that must time out.
import t from 'tap';
import { createServer, type Server } from 'node:http';
import { copyFileSync, createReadStream, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameReader, VideoWriter, isStreamSource, probeVideo } from '../../tasks/predict/video.js';
import { readFrames, type FrameEvent } from '../../tasks/predict/frames.js';
import { loadSource } from '../../tasks/predict/sources.js';

const VIDEO = new URL('../fixtures/video/', import.meta.url).pathname;
const IMAGES = new URL('../fixtures/predict/images/', import.meta.url).pathname;
const people = VIDEO + 'people.mp4',
  busMkv = VIDEO + 'bus.mkv';
const dir = mkdtempSync(join(tmpdir(), 'yolo-video-'));

async function collect(source: Parameters<typeof loadSource>[0], opts: Parameters<typeof readFrames>[1] = {}) {
  const events: FrameEvent[] = [];
  for await (const e of readFrames(await loadSource(source), opts)) events.push(e);
  const frames = events.flatMap((e) => ('frame' in e ? [e.frame] : []));
  const problems = events.flatMap((e) => ('problem' in e ? [e.problem] : []));
  return { frames, problems };
}

const meanAbsDiff = (a: Uint8Array, b: Uint8Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
};

t.test('probe, decode every frame, write the same size and fps back', async (t) => {
  const info = await probeVideo(people);
  t.same(info, { width: 640, height: 360, fps: 30, frames: 90 });
  t.same(
    await probeVideo(busMkv),
    { width: 320, height: 416, fps: 10, frames: 12 },
    'mkv has no nb_frames: duration * fps, as CAP_PROP_FRAME_COUNT',
  );
  const r = new FrameReader(people, info);
  const out = join(dir, 'copy.mp4');
  const w = new VideoWriter(out, info.width, info.height, info.fps);
  const firsts: Uint8Array[] = [];
  let n = 0;
  for (let im; (im = await r.next()); n++) {
    t.equal(im.data.length, 640 * 360 * 3);
    if (n < 2) firsts.push(im.data.slice());
    await w.write(im);
  }
  t.equal(n, 90, 'every frame decoded');
  t.equal(await r.problem(), null, 'a clean video reports no problem');
  t.equal(await w.close(), out);
  t.same(await probeVideo(out), info, 'written video: same size, fps and frame count');
  t.ok(meanAbsDiff(firsts[0], firsts[1]) > 1, 'consecutive frames differ (the clip pans)');
  const again = new FrameReader(out, info);
  const back = await again.next();
  again.close();
  t.ok(
    meanAbsDiff(back!.data, firsts[0]) < 3,
    'the re-encoded first frame looks like the original (mean |diff| < 3 of 255)',
  );
});

t.test('vid_stride, a folder of frames, a folder mixing images and videos', async (t) => {
  const s3 = await collect(busMkv, { vid_stride: 3 });
  t.same(
    s3.frames.map((f) => f.info.replace(busMkv, 'bus.mkv')),
    [1, 2, 3, 4].map((k) => `video 1/1 (frame ${k}/4) bus.mkv: `),
    'int(12 / 3) = 4 frames',
  );
  const all = await collect(busMkv);
  t.same(
    s3.frames.map((f) => f.img.data[5000]),
    [2, 5, 8, 11].map((k) => all.frames[k].img.data[5000]),
    'the kept frames are 3, 6, 9, 12 (Ultralytics grabs vid_stride then retrieves)',
  );
  t.same(s3.frames[0].video, { width: 320, height: 416, fps: 10, frames: 12 });

  const mixed = join(dir, 'mixed');
  mkdirSync(mixed);
  copyFileSync(busMkv, join(mixed, 'a_clip.mkv'));
  copyFileSync(IMAGES + 'zidane.jpg', join(mixed, 'b.jpg'));
  writeFileSync(join(mixed, 'notes.md'), 'not media');
  const m = await collect(mixed, { vid_stride: 6 });
  t.same(
    m.frames.map((f) => [f.mode, f.info.replace(mixed + '/', '')]),
    [
      ['image', 'image 1/2 b.jpg: '],
      ['video', 'video 2/2 (frame 1/2) a_clip.mkv: '],
      ['video', 'video 2/2 (frame 2/2) a_clip.mkv: '],
    ],
    'images first, then videos, as LoadImagesAndVideos',
  );

  const framesDir = join(dir, 'frames');
  mkdirSync(framesDir);
  for (const [k, f] of all.frames.slice(0, 3).entries())
    writeFileSync(join(framesDir, `f${k}.png`), (await import('../../tasks/data/image.js')).encodePNG(f.img));
  const fd = await collect(framesDir);
  t.same(
    fd.frames.map((f) => f.info.replace(framesDir + '/', '')),
    ['image 1/3 f0.png: ', 'image 2/3 f1.png: ', 'image 3/3 f2.png: '],
    'a directory of frames, in name order',
  );
  t.same(fd.frames[1].img.data, all.frames[1].img.data, 'PNG frames round-trip exactly');
});

t.test('damaged and truncated videos: good frames first, then one line naming file and frame', async (t) => {
  const bytes = readFileSync(people);
  const trunc = join(dir, 'trunc.mp4');
  writeFileSync(trunc, bytes.subarray(0, 40_000));
  const tr = await collect(trunc);
  t.ok(tr.frames.length > 10 && tr.frames.length < 90, `frames before the damage are handed out (${tr.frames.length})`);
  t.equal(tr.problems.length, 1);
  t.match(
    tr.problems[0].message,
    new RegExp(
      `^${trunc}: video is damaged or truncated at frame ${tr.frames.length + 1}/90, ${tr.frames.length} frames before it were processed \\(ffmpeg: .+\\)$`,
    ),
  );
  t.equal(tr.problems[0].fatal, false, 'the frames already processed are kept');

  const corrupt = join(dir, 'corrupt.mp4');
  const c = Buffer.from(bytes);
  c.fill(0xff, 30_000, 33_000);
  writeFileSync(corrupt, c);
  const co = await collect(corrupt);
  t.ok(co.frames.length > 0 && co.frames.length < 90, `decoding stops at the first bad frame (${co.frames.length})`);
  t.match(co.problems[0]?.message, `${corrupt}: video is damaged or truncated at frame ${co.frames.length + 1}/90`);

  const noHeader = join(dir, 'header.mp4');
  writeFileSync(noHeader, bytes.subarray(0, 300));
  await t.rejects(
    collect(noHeader).then((r) => {
      if (r.problems[0]?.fatal) throw new Error(r.problems[0].message);
    }),
    new RegExp(`${noHeader}: cannot be read as a video`),
  );
  const garbage = join(dir, 'garbage.avi');
  writeFileSync(garbage, 'this is not a video');
  const g = await collect([garbage, IMAGES + 'bus.jpg']);
  t.equal(g.frames.length, 1, 'in a list, the image is still read');
  t.match(g.problems, [
    { path: garbage, message: new RegExp(`^${garbage}: cannot be read as a video \\(.+\\)$`), fatal: false },
  ]);
});

t.test('without ffmpeg: one line saying how to install it, images keep working', async (t) => {
  const old = process.env.FFMPEG_PATH;
  process.env.FFMPEG_PATH = join(dir, 'no-such-ffmpeg');
  try {
    const r = await collect([IMAGES + 'bus.jpg', people]);
    t.equal(r.frames.length, 1);
    t.equal(r.problems.length, 1);
    t.match(
      r.problems[0].message,
      /^\S+people\.mp4: videos and streams are read through ffmpeg, but '\S+no-such-ffmpeg' was not found; install it with `sudo apt-get install ffmpeg`/,
    );
    t.notMatch(r.problems[0].message, /\n/, 'one line');
  } finally {
    if (old === undefined) delete process.env.FFMPEG_PATH;
    else process.env.FFMPEG_PATH = old;
  }
});

/** An HTTP server on 127.0.0.1 that streams `file` at /live (no file suffix: a stream, not a download). */
async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { server, url: `http://127.0.0.1:${port}/live` };
}

t.test('live HTTP stream served on loopback', async (t) => {
  t.ok(isStreamSource('0') && isStreamSource('rtsp://127.0.0.1/cam') && isStreamSource('http://127.0.0.1:8080/live'));
  t.notOk(
    isStreamSource('http://127.0.0.1/clip.mp4') ||
      isStreamSource('https://x.org/bus.jpg') ||
      isStreamSource('clip.mp4'),
    'URLs of files are downloads',
  );
  const { server, url } = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4' });
    createReadStream(people).pipe(res);
  });
  t.teardown(() => server.close());
  const buffered = await collect(url, { stream_buffer: true });
  t.equal(buffered.frames.length, 90, 'stream_buffer=True: every frame, in order');
  t.same(
    buffered.frames.slice(0, 3).map((f) => [f.mode, f.frame, f.info]),
    [
      ['stream', 0, ''],
      ['stream', 1, ''],
      ['stream', 2, ''],
    ],
  );
  t.equal(buffered.frames[0].video?.fps, 30, 'streams are saved at 30 fps, as Ultralytics');
  t.same(buffered.problems, []);

  // stream_buffer=False keeps only the newest frame: a slow consumer sees fewer, later frames
  const src = await loadSource(url);
  const seen: number[] = [];
  for await (const e of readFrames(src, { stream_buffer: false })) {
    if ('frame' in e) seen.push(e.frame.img.data[9000]);
    await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(seen.length >= 1 && seen.length < 90, `stream_buffer=False drops stale frames (${seen.length} of 90 seen)`);
});

t.test('a dead stream times out with a message instead of hanging', async (t) => {
  const { server, url } = await serve(() => {}); // accepts, never answers
  t.teardown(() => server.closeAllConnections?.() ?? server.close());
  const t0 = Date.now();
  const r = await collect(url, { streamTimeout: 2 });
  t.ok(Date.now() - t0 < 15_000, 'gave up in time');
  t.equal(r.frames.length, 0);
  t.match(r.problems, [{ message: `${url}: no answer from the stream within 2 s`, fatal: true }]);
  server.close();
});
