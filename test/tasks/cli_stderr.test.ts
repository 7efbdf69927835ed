// The `yolo` command drops Dawn's two native limit notices from its stderr (tasks/cli_stderr.ts) and
// passes everything else on unchanged, exit code included.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dawnNoticeFilter, shouldFilterStderr } from '../../tasks/cli_stderr.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const NOTICE = (k: string) =>
  `Warning: maxDynamic${k}BuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n`;

t.test('the filter drops exactly the notices, wherever the chunks split', async (t) => {
  const text = `start\n${NOTICE('Uniform')}${NOTICE('Storage')}Warning: something else\n 50%|#####     | 1/2\r100%|##########| 2/2\n`;
  const want = 'start\nWarning: something else\n 50%|#####     | 1/2\r100%|##########| 2/2\n';
  for (const size of [1, 7, 19, 64, text.length]) {
    const f = dawnNoticeFilter();
    let out = '';
    for (let i = 0; i < text.length; i += size) out += f.push(text.slice(i, i + size));
    out += f.end();
    t.equal(out, want, `chunks of ${size}`);
  }
  // a progress bar's partial line is passed on at once, not held for a newline
  const f = dawnNoticeFilter();
  t.equal(f.push(' 10%|#         | 1/10\r'), ' 10%|#         | 1/10\r', 'a \\r update goes through at once');
  t.equal(f.push('Warning: maxDyn'), '', 'the start of a notice is held');
  t.equal(
    f.push('amicX was not a notice\n'),
    'Warning: maxDynamicX was not a notice\n',
    '...and given back when it is not one',
  );
  t.equal(f.end(), '');
});

t.test('who filters: the command once, its child never, YOLO_RAW_STDERR=1 nobody', async (t) => {
  t.equal(shouldFilterStderr({}), true);
  t.equal(shouldFilterStderr({ YOLO_STDERR_FILTERED: '1' }), false);
  t.equal(shouldFilterStderr({ YOLO_RAW_STDERR: '1' }), false);
});

const yolo = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import=tsx', join(ROOT, 'tasks/cli.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  });

t.test('yolo checks: Dawn opens the adapter, its notices do not reach the terminal', async (t) => {
  const raw = yolo(['checks'], { YOLO_RAW_STDERR: '1' });
  t.equal(raw.status, 0, 'raw run succeeds');
  t.match(
    raw.stderr,
    /artificially reduced/,
    'without the filter Dawn prints its notices (this machine has a Vulkan adapter)',
  );
  const r = yolo(['checks']);
  t.equal(r.status, 0, 'filtered run succeeds');
  t.notMatch(r.stderr, /artificially reduced/, 'no notice through the filter');
  t.match(r.stdout, /WebGPU adapter/, 'the same report on stdout');
  t.equal(r.stdout.split('\n').length, raw.stdout.split('\n').length, 'stdout untouched');
});

t.test('the exit code and an error message come through the filter', async (t) => {
  const r = yolo(['nonsense']);
  t.equal(r.status, 1);
  t.match(r.stderr, /'nonsense' is not a valid mode/);
});
