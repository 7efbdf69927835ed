// The `yolo` command's standard error without Dawn's two limit notices.
//
// Dawn's Vulkan backend prints "Warning: maxDynamic{Uniform,Storage}BuffersPerPipelineLayout
// artificially reduced from 1000000 to 16 ..." (dawn/native/Limits.cpp) from native code straight to
// file descriptor 2 while it enumerates the adapters, before any request of ours: lavapipe and the
// NVIDIA driver both report 1000000, no toggle, feature level or limit request avoids it, and a
// JavaScript process cannot intercept a native write to its own fd 2. So the command runs itself once
// more as a child whose stderr is a pipe, and passes every byte on except exactly those two lines.
// The child is told whether the real stderr is a terminal (`YOLO_STDERR_TTY`, read by progress.ts's
// stderrIsTTY, so progress bars stay live) and its width.
// `YOLO_RAW_STDERR=1` runs the command in one process with Dawn's output untouched.
import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';

/** Dawn's notices, a whole line each */
const DAWN_LIMIT_NOTICE =
  /Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?\n/g;
const MARK = 'Warning: maxDynamic';
/** set in the child: its stderr is already filtered */
const FILTERED = 'YOLO_STDERR_FILTERED';

/** Whether this process should hand the command to a filtered child instead of running it. */
export function shouldFilterStderr(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[FILTERED] !== '1' && env.YOLO_RAW_STDERR !== '1';
}

/**
 * A stateful filter over stderr chunks: drops Dawn's notices, passes everything else at once
 * (a progress bar's `\r` updates are never held), holding back only a tail that may start a notice.
 */
export function dawnNoticeFilter(): { push(chunk: string): string; end(): string } {
  let held = '';
  let lineStart = true; // the last character passed on was \n or \r (or nothing was passed yet)
  /** where a held tail begins: a whole mark without its newline yet, or a line ending in a mark's start */
  const holdFrom = (s: string) => {
    const i = s.lastIndexOf(MARK);
    if (i >= 0 && !s.includes('\n', i)) return i;
    for (let k = Math.min(MARK.length - 1, s.length); k > 0; k--) {
      const j = s.length - k;
      if (MARK.startsWith(s.slice(j)) && (j > 0 ? s[j - 1] === '\n' || s[j - 1] === '\r' : lineStart)) return j;
    }
    return s.length;
  };
  return {
    push(chunk) {
      const s = (held + chunk).replace(DAWN_LIMIT_NOTICE, '');
      const j = holdFrom(s);
      held = s.slice(j);
      const out = s.slice(0, j);
      if (out) lineStart = /[\r\n]$/.test(out);
      return out;
    },
    end() {
      const s = held;
      held = '';
      return s;
    },
  };
}

/** Runs this same command as a child with stderr filtered; resolves to its exit code. */
export function runWithFilteredStderr(argv: string[]): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env, [FILTERED]: '1' };
  if (process.stderr.isTTY) {
    env.YOLO_STDERR_TTY = '1';
    env.COLUMNS ??= String(process.stderr.columns ?? 80);
  }
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...argv], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env,
  });
  const filter = dawnNoticeFilter();
  const decoder = new StringDecoder('utf8');
  child.stderr.on('data', (b: Buffer) => process.stderr.write(filter.push(decoder.write(b))));
  // Ctrl-C reaches the whole process group: the child handles it; this process waits for the child
  const ignore = () => {};
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', ignore);
  process.on('SIGTERM', onTerm);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      process.stderr.write(filter.push(decoder.end()) + filter.end());
      process.off('SIGINT', ignore);
      process.off('SIGTERM', onTerm);
      resolve(code ?? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGKILL' ? 9 : 15));
    });
  });
}
