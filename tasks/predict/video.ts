// Video in and out through the system's ffmpeg binary (Ultralytics reaches the same libraries through
// OpenCV's VideoCapture/VideoWriter). Decoding spawns `ffmpeg -i <input> -f rawvideo -pix_fmt rgb24 -`
// and reads exactly width*height*3 bytes per frame from its stdout; encoding spawns ffmpeg reading raw
// RGB frames on stdin and writing an H.264 mp4. No frame ever touches the disk, and the pipe's own
// back-pressure bounds memory: ffmpeg stops decoding while we are busy with a frame.
//
//   probeVideo(path)        ffprobe: width, height, fps, frame count (nb_frames, else duration * fps)
//   FrameReader             async next() -> RgbImage | null; a file stops at the first decode error
//                           (-xerror) so frames after damage are never passed on; a live stream can
//                           keep only its newest frame (stream_buffer=False) and times out when dead
//   VideoWriter             write(frame) / close(), same size and fps as the source
//
// Imports: node, ../data/image (the RgbImage type).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeImage, type RgbImage } from '../data/image.js';

/** Ultralytics' VID_FORMATS: files with these extensions are videos. */
export const VID_FORMATS = new Set([
  'asf',
  'avi',
  'gif',
  'm4v',
  'mkv',
  'mov',
  'mp4',
  'mpeg',
  'mpg',
  'ts',
  'wmv',
  'webm',
]);

export const isVideoFile = (p: string) => VID_FORMATS.has((p.split('.').pop() ?? '').toLowerCase());

/**
 * check_source's webcam test: a camera index ('0'), a '.streams' list, or an rtsp/rtmp/tcp/http(s) URL
 * that does not name an image or video file (those are downloaded instead).
 */
export function isStreamSource(s: string): boolean {
  if (/^\d+$/.test(s) || s.endsWith('.streams')) return true;
  if (!/^(rtsp|rtmp|tcp|https?):\/\//i.test(s)) return false;
  const ext = (new URL(s).pathname.split('/').pop() ?? '').split('.').slice(1).pop()?.toLowerCase() ?? '';
  return !VID_FORMATS.has(ext) && !/^(bmp|dng|jpeg|jpg|mpo|png|tif|tiff|webp|pfm|heic)$/.test(ext);
}

// Read at each use, so a test (or a user) can point at another build.
const ffmpegBin = () => process.env.FFMPEG_PATH || 'ffmpeg';
const ffprobeBin = () => process.env.FFPROBE_PATH || 'ffprobe';
const INSTALL =
  'install it with `sudo apt-get install ffmpeg` (Debian/Ubuntu), `brew install ffmpeg` (macOS) or from https://ffmpeg.org, or set FFMPEG_PATH and FFPROBE_PATH';

let ffmpegChecked: string | null = null;
/** Throws one line saying how to install ffmpeg when it (or ffprobe) cannot be run. */
export function requireFfmpeg(what: string): void {
  const [FFMPEG, FFPROBE] = [ffmpegBin(), ffprobeBin()];
  if (ffmpegChecked === FFMPEG + FFPROBE) return;
  for (const bin of [FFMPEG, FFPROBE]) {
    const r = spawnSync(bin, ['-version'], { stdio: 'ignore' });
    if (r.error || r.status !== 0)
      throw new Error(`${what}: videos and streams are read through ffmpeg, but '${bin}' was not found; ${INSTALL}`);
  }
  ffmpegChecked = FFMPEG + FFPROBE;
}

/** ffmpeg's arguments that open `input`: a camera index becomes the platform's capture device. */
export function inputArgs(input: string): string[] {
  if (/^\d+$/.test(input)) {
    if (process.platform === 'darwin') return ['-f', 'avfoundation', '-i', input];
    if (process.platform === 'win32') return ['-f', 'dshow', '-i', `video=${input}`];
    return ['-f', 'v4l2', '-i', `/dev/video${input}`];
  }
  if (/^rtsp:\/\//i.test(input)) return ['-rtsp_transport', 'tcp', '-i', input];
  return ['-i', input];
}

export interface VideoInfo {
  width: number;
  height: number;
  /** Frames per second as OpenCV's CAP_PROP_FPS reports it (r_frame_rate). */
  fps: number;
  /** CAP_PROP_FRAME_COUNT: nb_frames, else round(duration * fps); 0 when unknown (a live stream). */
  frames: number;
}

/** A one-line summary of what ffmpeg wrote to stderr: its error lines without the '[h264 @ 0x..]' tags. */
function ffmpegMessage(stderr: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/i, '').trim())
    .filter(Boolean);
  return [...new Set(lines)].slice(0, 2).join('; ');
}

const rate = (s: string | undefined) => {
  const [a, b] = (s ?? '0/1').split('/').map(Number);
  return b ? a / b : a || 0;
};

/** ffprobe's view of the first video stream; errors name the file and what ffprobe said. */
export async function probeVideo(input: string, timeoutMs = 30_000): Promise<VideoInfo> {
  requireFfmpeg(input);
  const args = [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=width,height,r_frame_rate,avg_frame_rate,nb_frames:format=duration',
    '-of',
    'json',
    ...inputArgs(input),
  ];
  const { code, stdout, stderr, timedOut } = await run(ffprobeBin(), args, timeoutMs);
  const name = displayName(input);
  if (timedOut)
    throw new Error(`${name}: no answer from the stream within ${timeoutMs / 1000} s (is it running and reachable?)`);
  let j: { streams?: Record<string, string | number>[]; format?: { duration?: string } } = {};
  try {
    j = JSON.parse(stdout || '{}');
  } catch {
    /* handled below */
  }
  const s = j.streams?.[0];
  if (code !== 0 || !s || !Number(s.width) || !Number(s.height))
    throw new Error(
      `${name}: cannot be read as a video (${ffmpegMessage(stderr) || (s ? 'no frame size' : 'no video stream')})`,
    );
  const fps = rate(String(s.r_frame_rate)) || rate(String(s.avg_frame_rate));
  const nb = Number(s.nb_frames);
  const dur = Number(j.format?.duration);
  const frames =
    Number.isFinite(nb) && nb > 0 ? nb : Number.isFinite(dur) && dur > 0 && fps > 0 ? Math.round(dur * fps) : 0;
  return { width: Number(s.width), height: Number(s.height), fps, frames };
}

function run(
  bin: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '',
      timedOut = false;
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill('SIGKILL');
    }, timeoutMs);
    p.on('error', (e) => (stderr += e.message));
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/** The name messages use: a file's base name is not enough when two folders hold clip.mp4, so the path. */
const displayName = (input: string) => (/^\d+$/.test(input) ? `camera ${input}` : input);

export interface FrameReaderOptions {
  /** A live source: no -xerror (glitches are normal), and frames may be dropped (see `latestOnly`). */
  live?: boolean;
  /** Keep only the newest decoded frame (Ultralytics' stream_buffer=False); older ones are dropped. */
  latestOnly?: boolean;
  /** Give up when no frame arrives for this long (ms); default 30 s for live sources, none for files. */
  timeoutMs?: number;
}

/** Decoded frames of one video or stream, one at a time. */
export class FrameReader {
  private proc: ChildProcess;
  private stderr = '';
  private ended = false;
  private exit: Promise<number | null>;
  private latest: Buffer | null = null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private wake: (() => void) | null = null;
  /** Frames handed out so far. */
  count = 0;
  readonly frameBytes: number;

  constructor(
    readonly input: string,
    readonly info: VideoInfo,
    readonly opts: FrameReaderOptions = {},
  ) {
    requireFfmpeg(input);
    this.frameBytes = info.width * info.height * 3;
    const args = [
      '-nostdin',
      '-v',
      'error',
      ...(opts.live ? [] : ['-xerror']),
      ...inputArgs(input),
      '-map',
      '0:v:0',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-',
    ];
    this.proc = spawn(ffmpegBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stderr!.on('data', (d) => {
      if (this.stderr.length < 8192) this.stderr += d;
    });
    this.exit = new Promise((resolve) => this.proc.on('close', (code) => resolve(code)));
    this.proc.on('error', (e) => (this.stderr += e.message));
    const out = this.proc.stdout!;
    out.on('end', () => {
      this.ended = true;
      this.poke();
    });
    if (opts.latestOnly) {
      // Drain continuously, keeping only the newest whole frame: a slow model never sees stale frames.
      out.on('data', (d: Buffer) => {
        this.pending.push(d);
        this.pendingBytes += d.length;
        while (this.pendingBytes >= this.frameBytes) {
          const all = Buffer.concat(this.pending);
          const n = Math.floor(all.length / this.frameBytes);
          this.latest = all.subarray((n - 1) * this.frameBytes, n * this.frameBytes);
          const rest = all.subarray(n * this.frameBytes);
          this.pending = rest.length ? [Buffer.from(rest)] : [];
          this.pendingBytes = rest.length;
        }
        this.poke();
      });
    } else out.on('readable', () => this.poke());
  }

  private poke() {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private take(): Buffer | null {
    if (this.opts.latestOnly) {
      const f = this.latest;
      this.latest = null;
      return f;
    }
    // read(n) returns null until n bytes are buffered (and asks for a 'readable' event); at the
    // end it returns a partial remainder, which is dropped.
    const b = this.proc.stdout!.read(this.frameBytes) as Buffer | null;
    return b && b.length === this.frameBytes ? b : null;
  }

  /** The next frame, or null at the end; throws when the source is dead (timeout) or cannot be decoded at all. */
  async next(): Promise<RgbImage | null> {
    const timeout = this.opts.timeoutMs ?? (this.opts.live ? 30_000 : 0);
    for (;;) {
      const b = this.take();
      if (b) {
        this.count++;
        return {
          width: this.info.width,
          height: this.info.height,
          data: new Uint8Array(b.buffer, b.byteOffset, b.length),
        };
      }
      if (this.ended) return null;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await new Promise<boolean>((resolve) => {
        this.wake = () => resolve(false);
        if (timeout) timer = setTimeout(() => resolve(true), timeout);
      });
      clearTimeout(timer);
      if (timedOut) {
        this.close();
        throw new Error(
          `${displayName(this.input)}: no frame for ${timeout / 1000} s after frame ${this.count}; the stream seems dead, giving up`,
        );
      }
    }
  }

  /**
   * After next() returned null: why the frames ended. Null when the video ended cleanly; otherwise
   * one line naming the file and the first frame that could not be decoded.
   */
  async problem(): Promise<string | null> {
    const code = await this.exit;
    const msg = ffmpegMessage(this.stderr);
    const total = this.info.frames;
    const at = `frame ${this.count + 1}${total ? `/${total}` : ''}`;
    if (code !== 0 || (msg && !this.opts.live))
      return `${displayName(this.input)}: video is damaged or truncated at ${at}, ${this.count} frame${this.count === 1 ? '' : 's'} before it were processed (ffmpeg: ${msg || `exit code ${code}`})`;
    if (!this.opts.live && total && this.count < total - 1)
      return `${displayName(this.input)}: video ended at ${at}, but its header promises ${total} frames (truncated?); ${this.count} frames were processed`;
    return null;
  }

  /** Stops ffmpeg (safe to call twice). */
  close(): void {
    if (this.proc.exitCode === null && !this.proc.killed) this.proc.kill('SIGKILL');
    this.proc.stdout?.destroy();
  }
}

/** Writes RGB frames as an H.264 mp4 (yuv420p, plays everywhere) at the source's size and fps. */
export class VideoWriter {
  private proc: ChildProcess;
  private stderr = '';
  private exit: Promise<number | null>;
  frames = 0;

  constructor(
    readonly file: string,
    readonly width: number,
    readonly height: number,
    readonly fps: number,
  ) {
    requireFfmpeg(file);
    // x264 needs even sizes in 4:2:0; an odd edge is padded by one pixel rather than refusing the video.
    const pad = width % 2 || height % 2 ? ['-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2'] : [];
    const args = [
      '-nostdin',
      '-v',
      'error',
      '-y',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-s',
      `${width}x${height}`,
      '-r',
      String(fps || 30),
      '-i',
      '-',
      ...pad,
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-crf',
      '23',
      '-pix_fmt',
      'yuv420p',
      '-movflags',
      '+faststart',
      file,
    ];
    this.proc = spawn(ffmpegBin(), args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.proc.stderr!.on('data', (d) => {
      if (this.stderr.length < 8192) this.stderr += d;
    });
    this.proc.stdin!.on('error', () => {}); // reported by close() through the exit code
    this.exit = new Promise((resolve) => this.proc.on('close', (code) => resolve(code)));
  }

  /** Queues one frame; waits while ffmpeg's pipe is full so memory stays flat. */
  async write(img: RgbImage): Promise<void> {
    if (img.width !== this.width || img.height !== this.height)
      throw new Error(
        `${basename(this.file)}: frame ${this.frames + 1} is ${img.width}x${img.height}, the video is ${this.width}x${this.height}`,
      );
    this.frames++;
    const stdin = this.proc.stdin!;
    if (!stdin.write(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.length)))
      await Promise.race([new Promise((resolve) => stdin.once('drain', resolve)), this.exit]);
  }

  /** Finishes the file; throws with ffmpeg's message when encoding failed. */
  async close(): Promise<string> {
    this.proc.stdin!.end();
    const code = await this.exit;
    if (code !== 0)
      throw new Error(
        `${this.file}: writing the video failed (ffmpeg: ${ffmpegMessage(this.stderr) || `exit code ${code}`})`,
      );
    return this.file;
  }
}

/** The annotated videos of one predict run: <save_dir>/<stem>.mp4 per source, plus <stem>_frames/<n>.jpg with save_frames. */
export class VideoSinks {
  private writers = new Map<string, VideoWriter>();
  constructor(readonly saveDir: string) {}

  async write(source: string, img: RgbImage, fps: number, frame: number | null = null): Promise<void> {
    const stem = stemOf(source);
    let w = this.writers.get(source);
    if (!w) {
      w = new VideoWriter(join(this.saveDir, `${stem}.mp4`), img.width, img.height, fps);
      this.writers.set(source, w);
    }
    await w.write(img);
    if (frame != null) {
      const dir = join(this.saveDir, `${stem}_frames`);
      mkdirSync(dir, { recursive: true });
      writeImage(join(dir, `${frame}.jpg`), img);
    }
  }

  /** Finishes every video; returns their paths. */
  async closeAll(): Promise<string[]> {
    const out: string[] = [];
    for (const w of this.writers.values()) out.push(await w.close());
    this.writers.clear();
    return out;
  }
}

/** A source's file stem ('clip' for /a/clip.mp4, 'live' for rtsp://host/live, '0' for a camera). */
function stemOf(source: string): string {
  const name = /^[a-z]+:\/\//i.test(source)
    ? new URL(source).pathname.split('/').filter(Boolean).pop() || new URL(source).hostname
    : basename(source);
  return name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : name;
}
