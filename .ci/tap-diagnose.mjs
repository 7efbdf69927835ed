/* global console, process */
// Says why `tap` exited non-zero when its summary counts no failure (CI stop 25: "{ total: 8734,
// pass: 8734 }" and exit 1). tap sets exit 1 when the runner's own parse of the stream is not ok, and
// that parse can fail on things the counts never see: a nested subtest with no plan or the wrong
// number of points, a bail-out, a file whose process exited non-zero after its last assertion.
// This re-reads each file's saved stream (.tap/test-results) and names the files that do not parse
// ok, and how. Prints only; .ci/run keeps tap's exit status.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = '.tap/test-results';
const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });

let Parser;
try {
  ({ Parser } = await import('tap-parser')); // installed with tap
} catch (e) {
  console.log(`tap-diagnose: cannot load tap-parser (${e.message}); no per-file diagnosis`);
  process.exit(0);
}

let files = [];
try {
  files = walk(root).filter((f) => f.endsWith('.tap'));
} catch {
  console.log(`tap-diagnose: no ${root} folder; tap saved no per-file results`);
  process.exit(0);
}

const parse = (text) =>
  new Promise((resolve) => {
    const parser = new Parser();
    parser.on('complete', resolve);
    parser.end(text);
  });

let bad = 0;
for (const file of files.sort()) {
  const text = readFileSync(file, 'utf8');
  const results = await parse(text);
  const finished = /^# time=/m.test(text);
  if (results.ok && finished) continue;
  bad++;
  const why = results.failures.map((f) => f.tapError ?? `not ok ${f.id ?? ''} - ${f.name}`).slice(0, 5);
  console.log(
    `tap-diagnose: ${file.slice(root.length + 1).replace(/\.tap$/, '')}: ` +
      `${results.ok ? 'parses ok' : 'does not parse ok'}, ${results.count} points, plan ${results.plan.end}` +
      `${results.bailout ? `, bailed out (${results.bailout})` : ''}` +
      `${finished ? '' : ', no closing "# time=" line (the process did not finish its stream)'}` +
      (why.length ? `: ${why.join('; ')}` : ''),
  );
}
console.log(`tap-diagnose: ${files.length} saved file results, ${bad} not ok`);

// The runner's own stream (the CI log, stderr mixed in): every nested subtest its parse finds not ok.
const log = process.argv[2];
if (log) {
  const text = readFileSync(log, 'utf8');
  const start = text.indexOf('TAP version');
  const parser = new Parser();
  const watch = (p, path) =>
    p.on('child', (c) => {
      const childPath = () => `${path} > ${c.name || '(unnamed)'}`;
      c.on('complete', (r) => {
        if (r.ok) return;
        const why = r.failures.map((f) => f.tapError ?? `not ok ${f.id ?? ''} - ${f.name}`).slice(0, 5);
        console.log(
          `tap-diagnose: stream: ${childPath()}: not ok, ${r.count} points, plan ${r.plan.end}: ${why.join('; ')}`,
        );
      });
      watch(c, childPath());
    });
  watch(parser, '(root)');
  const results = await new Promise((resolve) => {
    parser.on('complete', resolve);
    parser.end(start < 0 ? '' : text.slice(start));
  });
  const why = results.failures.map((f) => f.tapError ?? `not ok ${f.id ?? ''} - ${f.name}`).slice(0, 5);
  console.log(
    `tap-diagnose: the runner's stream parses ${results.ok ? 'ok' : 'not ok'}${why.length ? `: ${why.join('; ')}` : ''}`,
  );
}
