// The package's `yolo` bin (what `npx yolo` runs in a checkout after `npm install`): the built
// dist/tasks/cli.js must exist and be executable, since tsc does not keep the mode and npm only
// marks bins of installed dependencies, not the project's own.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  version: string;
};

t.test('the yolo bin is built, executable and runs', async (t) => {
  const bin = join(ROOT, pkg.bin.yolo);
  const mode = statSync(bin).mode;
  t.ok(mode & 0o100, `${pkg.bin.yolo} is executable (mode ${(mode & 0o777).toString(8)}; npm run build sets it)`);
  const r = spawnSync(bin, ['version'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 0, `${pkg.bin.yolo} version exits 0 (${r.error?.message ?? r.stderr.trim()})`);
  t.equal(r.stdout.trim(), pkg.version, 'prints the package version');
});
