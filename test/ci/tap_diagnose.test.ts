// .ci/tap-diagnose.mjs, which .ci/run calls when tap exits non-zero with no failure counted: it must
// name the file and the nested subtest whose stream tap-parser finds not ok, say why, and pass
// clean streams. Run in a temporary folder holding a .tap/test-results tree and a saved runner log.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../engine/paths.js';

const script = join(packageRoot(), '.ci', 'tap-diagnose.mjs');

// one file's stream as tap saves it: a subtest of `points` points under a plan of `plan`
const fileStream = (name: string, points: number, plan: number) =>
  [
    `# Subtest: ${name}`,
    ...Array.from({ length: points }, (_, i) => `    ok ${i + 1} - check ${i + 1}`),
    `    1..${plan}`,
    `ok 1 - ${name} # time=1ms`,
    '',
    '1..1',
    '# time=2ms',
    '',
  ].join('\n');

// the runner's stream around those files, with lines of stderr before it as in the CI log
const runnerLog = (inner: string) =>
  [
    'some stderr line',
    'TAP version 14',
    '1..1',
    '# Subtest: test/a.test.ts',
    ...inner
      .trimEnd()
      .split('\n')
      .map((l) => (l ? `    ${l}` : l)),
    'ok 1 - test/a.test.ts # time=3ms',
    '',
    '# { total: 2, pass: 2 }',
    '',
  ].join('\n');

function diagnose(t: Tap.Test, files: Record<string, string>, log: string) {
  const dir = mkdtempSync(join(tmpdir(), 'tap-diagnose-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, '.tap', 'test-results', 'test'), { recursive: true });
    writeFileSync(join(dir, '.tap', 'test-results', 'test', `${name}.tap`), text);
  }
  writeFileSync(join(dir, 'npm-test.log'), log);
  const r = spawnSync(process.execPath, [script, 'npm-test.log'], { cwd: dir, encoding: 'utf8' });
  t.equal(r.status, 0, `the script exits 0 (it only reports): ${r.stderr}`);
  return r.stdout;
}

t.test('a nested subtest one point short of its plan is named, in the saved file and in the log', async (t) => {
  const short = fileStream('every fixture', 1, 2);
  const out = diagnose(t, { 'a.test.ts': short, 'b.test.ts': fileStream('fine', 2, 2) }, runnerLog(short));
  t.match(out, /tap-diagnose: test\/a\.test\.ts: does not parse ok, 1 points, plan 1/, 'the file');
  t.notMatch(out, /test\/b\.test\.ts/, 'not the clean file');
  t.match(out, /2 saved file results, 1 not ok/);
  t.match(
    out,
    /stream: \(root\) > test\/a\.test\.ts > every fixture: not ok, 1 points, plan 2: incorrect number of tests/,
    "the nested subtest in the runner stream, with tap-parser's reason",
  );
  t.match(out, /the runner's stream parses not ok/);
});

t.test('clean streams: nothing named', async (t) => {
  const ok = fileStream('every fixture', 2, 2);
  const out = diagnose(t, { 'a.test.ts': ok }, runnerLog(ok));
  t.match(out, /1 saved file results, 0 not ok/);
  t.notMatch(out, /stream: \(root\)/);
  t.match(out, /the runner's stream parses ok/);
});
