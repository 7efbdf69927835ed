/* global console, process */
// Says why `tap` exited non-zero when its summary counts no failure (CI stop 25: "{ total: 8734,
// pass: 8734 }" and exit 1). tap sets exit 1 when the runner's own parse of the stream is not ok, and
// that parse can fail on things the counts never see: a nested subtest with no plan or the wrong
// number of points, a bail-out, a file whose process exited non-zero after its last assertion.
// This re-reads each file's saved stream (.tap/test-results under the current folder) and, given
// a saved `npm test` output, the runner's own stream, and names what does not parse ok, and how.
// Prints only; .ci/run keeps tap's exit status.
//   node .ci/tap-diagnose.mjs [npm-test-output.log]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

let Parser;
try {
  ({ Parser } = await import('tap-parser')); // installed with tap
} catch (e) {
  console.log(`tap-diagnose: cannot load tap-parser (${e.message}); no diagnosis`);
  process.exit(0);
}

/** tap-parser's results for a stream; onChild(parser, path) sees every nested subtest's parser */
const parse = (text, onChild = () => {}) =>
  new Promise((resolve) => {
    const parser = new Parser();
    const watch = (p, path) =>
      p.on('child', (c) => {
        const childPath = `${path} > ${c.name || '(unnamed)'}`;
        onChild(c, childPath);
        watch(c, childPath);
      });
    watch(parser, '(root)');
    parser.on('complete', resolve);
    parser.end(text);
  });

/** ': ' and why a parse is not ok (its first failures, by tap-parser's reason or the failing point), or '' */
const because = (results) => {
  const why = results.failures.map((f) => f.tapError ?? `not ok ${f.id ?? ''} - ${f.name}`).slice(0, 5);
  return why.length ? `: ${why.join('; ')}` : '';
};

const root = '.tap/test-results';
const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
let files = null;
try {
  files = walk(root).filter((f) => f.endsWith('.tap'));
} catch {
  console.log(`tap-diagnose: no ${root} folder; tap saved no per-file results`);
}
if (files) {
  let bad = 0;
  for (const file of files.sort()) {
    const text = readFileSync(file, 'utf8');
    const results = await parse(text);
    const finished = /^# time=/m.test(text);
    if (results.ok && finished) continue;
    bad++;
    console.log(
      `tap-diagnose: ${file.slice(root.length + 1).replace(/\.tap$/, '')}: ` +
        `${results.ok ? 'parses ok' : 'does not parse ok'}, ${results.count} points, plan ${results.plan.end}` +
        `${results.bailout ? `, bailed out (${results.bailout})` : ''}` +
        `${finished ? '' : ', no closing "# time=" line (the process did not finish its stream)'}` +
        because(results),
    );
  }
  console.log(`tap-diagnose: ${files.length} saved file results, ${bad} not ok`);
}

// The runner's own stream (the CI log, stderr mixed in): every nested subtest its parse finds not ok.
const log = process.argv[2];
if (log) {
  const text = readFileSync(log, 'utf8');
  const start = text.indexOf('TAP version');
  const results = await parse(start < 0 ? '' : text.slice(start), (child, path) =>
    child.on('complete', (r) => {
      if (!r.ok)
        console.log(`tap-diagnose: stream: ${path}: not ok, ${r.count} points, plan ${r.plan.end}${because(r)}`);
    }),
  );
  console.log(`tap-diagnose: the runner's stream parses ${results.ok ? 'ok' : 'not ok'}${because(results)}`);
}
