// The `process` global for the browser build (esbuild `inject`): env is empty, output goes to the
// console, and exit or signal handlers are no-ops, since a tab has no process to end.
const env: Record<string, string | undefined> = {};
const noop = () => {};
function stream(write: (s: string) => void) {
  let line = '';
  return {
    isTTY: false,
    columns: 120,
    write(s: string | Uint8Array) {
      line += typeof s === 'string' ? s : new TextDecoder().decode(s);
      const parts = line.split('\n');
      line = parts.pop() ?? '';
      for (const p of parts) write(p.replace(/\r/g, ''));
      return true;
    },
    on: noop,
    once: noop,
  };
}
export const process = {
  env,
  argv: ['browser'],
  platform: 'browser',
  arch: 'wasm',
  version: 'v0.0.0-browser',
  versions: {} as Record<string, string>,
  pid: 0,
  exitCode: undefined as number | undefined,
  stdout: stream((s) => console.log(s)),
  stderr: stream((s) => console.warn(s)),
  cwd: () => '/',
  on: noop,
  once: noop,
  off: noop,
  removeListener: noop,
  emitWarning: (w: string) => console.warn(w),
  exit: (code?: number) => {
    throw new Error(`process.exit(${code ?? 0}) called in the browser`);
  },
  hrtime: Object.assign(
    (prev?: [number, number]) => {
      const t = performance.now() * 1e6;
      const s = Math.floor(t / 1e9);
      const ns = Math.floor(t - s * 1e9);
      return prev ? [s - prev[0], ns - prev[1]] : [s, ns];
    },
    { bigint: () => BigInt(Math.floor(performance.now() * 1e6)) },
  ),
  memoryUsage: () => ({ rss: 0, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 }),
  nextTick: (fn: (...a: unknown[]) => void, ...args: unknown[]) => queueMicrotask(() => fn(...args)),
};
