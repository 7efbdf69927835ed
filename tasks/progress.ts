// A progress bar in Ultralytics' style: its TQDM subclass uses the bar format
// "{l_bar}{bar:10}{r_bar}", which prints
//
//   train: Scanning /data/labels/train... 4 images, 0 backgrounds, 0 corrupt: 100%|██████████| 4/4 [00:00<00:00, 812.34it/s]
//
// The text is tqdm's: percentage, a 10-cell bar with eighth-block partial cells, n/total,
// elapsed<remaining, and the rate (it/s, or s/it below one item per second). On a terminal the
// line is redrawn in place (at most every 0.1 s); into a file or pipe only the final line is written,
// so logs stay readable. Reusable for the training epoch bar: `desc` can change at any time.
//
// Imports: node only.

/** Whether standard error is a terminal, also behind the `yolo` command's stderr filter (cli_stderr.ts). */
export function stderrIsTTY(): boolean {
  return !!process.stderr.isTTY || process.env.YOLO_STDERR_TTY === '1';
}

export interface ProgressOptions {
  /** Text before the colon, e.g. 'train: Scanning /data/labels/train... 4 images'. */
  desc?: string;
  /** Items already done when the bar starts (tqdm's initial; the rate counts only new items). */
  initial?: number;
  /** Cells in the bar (Ultralytics: 10). */
  width?: number;
  unit?: string;
  /** Where lines go. Default: process.stderr. */
  write?: (s: string) => void;
  /** Redraw in place with '\r'. Default: whether stderr is a terminal. */
  live?: boolean;
  /** Seconds between live redraws. */
  minInterval?: number;
  /** Clock in seconds (tests pass a fake one). */
  now?: () => number;
}

const BLOCKS = ' ▏▎▍▌▋▊▉█'; // tqdm's unicode charset: space, 1/8 .. 7/8, full

/** tqdm.format_interval: [H:]MM:SS. */
export function formatInterval(seconds: number): string {
  const t = Math.floor(seconds);
  const s = t % 60,
    m = Math.floor(t / 60) % 60,
    h = Math.floor(t / 3600);
  const p2 = (x: number) => String(x).padStart(2, '0');
  return h ? `${h}:${p2(m)}:${p2(s)}` : `${p2(m)}:${p2(s)}`;
}

/** tqdm's bar of `width` cells for a fraction in [0, 1]. */
export function formatBar(frac: number, width = 10): string {
  const nsyms = BLOCKS.length - 1;
  const ticks = Math.floor(Math.min(Math.max(frac, 0), 1) * width * nsyms);
  const full = Math.floor(ticks / nsyms),
    part = ticks % nsyms;
  if (full >= width) return BLOCKS[nsyms].repeat(width);
  return BLOCKS[nsyms].repeat(full) + BLOCKS[part] + ' '.repeat(width - full - 1);
}

/** One line as tqdm prints it with Ultralytics' bar format. `elapsed` in seconds, `rateN` = items counted for the rate. */
export function formatProgress(
  desc: string,
  n: number,
  total: number | undefined,
  elapsed: number,
  rateN: number,
  width = 10,
  unit = 'it',
): string {
  const rate = elapsed > 0 && rateN > 0 ? rateN / elapsed : 0;
  const inv = rate ? 1 / rate : 0;
  const rateFmt = !rate
    ? `?${unit}/s`
    : inv > 1
      ? `${inv.toFixed(2).padStart(5)}s/${unit}`
      : `${rate.toFixed(2).padStart(5)}${unit}/s`;
  const remaining = rate && total ? formatInterval((total - n) / rate) : '?';
  const lead = desc ? `${desc}: ` : '';
  if (!total) return `${lead}${n}${unit} [${formatInterval(elapsed)}, ${rateFmt}]`;
  const p = (100 * n) / total;
  const r = Math.round(p) - (p % 1 === 0.5 && Math.round(p) % 2 ? 1 : 0); // '{percentage:3.0f}': ties to even
  const pct = `${r}`.padStart(3);
  return `${lead}${pct}%|${formatBar(n / total, width)}| ${n}/${total} [${formatInterval(elapsed)}<${remaining}, ${rateFmt}]`;
}

export class ProgressBar {
  desc: string;
  n: number;
  private readonly initial: number;
  private readonly start: number;
  private lastDraw = -Infinity;
  private closed = false;
  private readonly o: Required<Omit<ProgressOptions, 'desc' | 'initial'>>;

  constructor(
    readonly total: number | undefined,
    opts: ProgressOptions = {},
  ) {
    this.desc = opts.desc ?? '';
    this.n = this.initial = opts.initial ?? 0;
    this.o = {
      width: opts.width ?? 10,
      unit: opts.unit ?? 'it',
      write: opts.write ?? ((s) => process.stderr.write(s)),
      live: opts.live ?? stderrIsTTY(),
      minInterval: opts.minInterval ?? 0.1,
      now: opts.now ?? (() => performance.now() / 1000),
    };
    this.start = this.o.now();
    this.draw(false);
  }

  /** Seconds since the bar started. */
  get elapsed(): number {
    return this.o.now() - this.start;
  }

  /** The current line (no newline). */
  line(): string {
    return formatProgress(
      this.desc,
      this.n,
      this.total,
      this.elapsed,
      this.n - this.initial,
      this.o.width,
      this.o.unit,
    );
  }

  update(k = 1): void {
    this.n += k;
    this.draw(false);
  }

  setDesc(desc: string): void {
    this.desc = desc;
    this.draw(false);
  }

  /** Draws the final line with a newline. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.draw(true);
  }

  private draw(final: boolean): void {
    const t = this.o.now();
    if (this.o.live) {
      if (!final && t - this.lastDraw < this.o.minInterval && this.n !== this.total) return;
      this.lastDraw = t;
      this.o.write(`\r${this.line()}\x1b[K${final ? '\n' : ''}`);
    } else if (final) this.o.write(`${this.line()}\n`);
  }
}
