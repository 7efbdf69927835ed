// The frames of a Source, in order, as Ultralytics' LoadImagesAndVideos and LoadStreams hand them to the
// predictor: each image once, each video frame by frame (every vid_stride-th frame, numbered
// 1..int(frame_count / vid_stride)), each live stream until it ends. Only the frame being handed out is
// held here; ffmpeg's pipe holds the rest (./video).
//
// Problems never end the run silently: an unreadable entry of a folder or list, a video that cannot be
// opened, a damaged or truncated video (after its good frames) and a dead stream are reported as
// `problem` events naming the file and frame; the predictor logs and collects them.
//
// Imports: ../data/image (type), ../progress, ./sources, ./video.

import type { RgbImage } from '../data/image.js';
import { ProgressBar } from '../progress.js';
import type { Source } from './sources.js';
import { FrameReader, probeVideo, type VideoInfo } from './video.js';

export interface Frame {
  img: RgbImage;
  path: string;
  mode: 'image' | 'video' | 'stream';
  /** The log prefix: 'image 1/3 /p/a.jpg: ', 'video 2/3 (frame 5/90) /p/c.mp4: ', '2: ' for the third in-memory image, '' for a stream. */
  info: string;
  /** Video: frame number (1-based, counting kept frames); stream: frames read so far (0-based). */
  frame: number;
  /** Video or stream geometry and rate, for the annotated video (fps 30 for streams, as Ultralytics). */
  video?: VideoInfo;
}

/** `prefix`: for an image, its log prefix ('image 2/4 /p/b.jpg: '), which the skip warning starts with. */
export type FrameEvent =
  { frame: Frame } | { problem: { path: string; message: string; fatal: boolean; prefix?: string } };

export interface FrameOptions {
  vid_stride?: number;
  /** Streams: queue every frame (true) or always take the newest, dropping the rest (false, default). */
  stream_buffer?: boolean;
  /** Streams: seconds without a frame before giving up (default 30). */
  streamTimeout?: number;
  /** Show a progress bar (frames, rate, ETA) per video. */
  progress?: boolean;
}

export async function* readFrames(src: Source, opts: FrameOptions = {}): AsyncGenerator<FrameEvent> {
  const stride = Math.max(1, Math.floor(opts.vid_stride ?? 1));
  const n = src.items.length;
  for (const [i, item] of src.items.entries()) {
    if (!item.video) {
      const inMemory = !item.path.includes('/') && !item.path.includes('\\');
      const info = inMemory ? `${i}: ` : `image ${i + 1}/${n} ${item.path}: `;
      let img: RgbImage;
      try {
        img = item.load();
      } catch (e) {
        yield { problem: { path: item.path, message: (e as Error).message, fatal: src.single, prefix: info } };
        continue;
      }
      yield { frame: { img, path: item.path, mode: 'image', info, frame: 0 } };
      continue;
    }
    const { input, live } = item.video;
    let info: VideoInfo, reader: FrameReader;
    try {
      info = await probeVideo(input, (opts.streamTimeout ?? 30) * 1000);
      reader = new FrameReader(input, info, {
        live,
        latestOnly: live && !opts.stream_buffer,
        timeoutMs: live ? (opts.streamTimeout ?? 30) * 1000 : 0,
      });
    } catch (e) {
      yield { problem: { path: item.path, message: (e as Error).message, fatal: src.single } };
      continue;
    }
    const total = live ? 0 : Math.floor(info.frames / stride);
    const bar =
      opts.progress && !live
        ? new ProgressBar(total || undefined, { desc: `video ${i + 1}/${n} ${item.path}`, unit: 'frame' })
        : null;
    let kept = 0,
      read = 0;
    try {
      for (;;) {
        let img: RgbImage | null;
        try {
          img = await reader.next();
        } catch (e) {
          yield { problem: { path: item.path, message: (e as Error).message, fatal: src.single } };
          break;
        }
        if (!img) {
          const why = await reader.problem();
          if (why) yield { problem: { path: item.path, message: why, fatal: false } };
          break;
        }
        read++;
        if (read % stride) continue; // Ultralytics grabs vid_stride frames and keeps the last
        if (live) {
          yield {
            frame: { img, path: item.path, mode: 'stream', info: '', frame: kept++, video: { ...info, fps: 30 } },
          };
          continue;
        }
        kept++;
        bar?.update();
        yield {
          frame: {
            img,
            path: item.path,
            mode: 'video',
            info: `video ${i + 1}/${n} (frame ${kept}/${total}) ${item.path}: `,
            frame: kept,
            video: info,
          },
        };
        if (kept === total) break; // as Ultralytics: the header's count ends the video
      }
    } finally {
      reader.close();
      bar?.close();
    }
  }
}
