// `yolo settings` (a JSON file in the user's config folder), `yolo cfg`, `yolo copy-cfg` and the
// fuller `yolo checks`.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { parse as parseYaml } from 'yaml';
import { loadSettings, resetSettings, settingsFile, updateSettings } from '../../tasks/settings.js';
import { getSaveDir } from '../../tasks/predict/save.js';
import { checkModeArgs } from '../../tasks/check_args.js';
import { DEFAULT_CFG } from '../../tasks/train/args.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const configDir = mkdtempSync(join(tmpdir(), 'yolo-config-'));
process.env.YOLO_CONFIG_DIR = configDir;
const TSX = join(ROOT, 'node_modules/tsx/dist/loader.mjs');
const cli = (cwd: string, ...a: string[]) =>
  spawnSync(process.execPath, [`--import=${TSX}`, join(ROOT, 'tasks/cli.ts'), ...a], {
    encoding: 'utf8',
    cwd,
    timeout: 120_000,
    env: { ...process.env, YOLO_CONFIG_DIR: configDir },
  });

t.test(
  'settings: created with defaults, updated by key, typos named, reset, a broken file reset with a warning',
  async (t) => {
    const s = loadSettings();
    t.equal(settingsFile(), join(configDir, 'settings.json'));
    t.same(Object.keys(s), ['settings_version', 'datasets_dir', 'weights_dir', 'runs_dir', 'uuid']);
    t.match(s.uuid, /^[0-9a-f-]{36}$/);
    t.same(JSON.parse(readFileSync(settingsFile(), 'utf8')), s, 'written as JSON');
    const runs = mkdtempSync(join(tmpdir(), 'runs-'));
    updateSettings({ runs_dir: runs });
    t.equal(loadSettings().runs_dir, runs);
    t.equal(getSaveDir({ mode: 'predict' }), join(runs, 'pose', 'predict'), 'runs_dir roots the run folders');
    t.throws(
      () => updateSettings({ run_dir: 'x' }),
      /'run_dir' is not a valid yolo-ts setting. Similar settings are i.e. runs_dir/,
    );
    t.equal(resetSettings().runs_dir, 'runs');
    writeFileSync(settingsFile(), '{ not json');
    const warns: string[] = [];
    t.equal(loadSettings((w) => warns.push(w)).runs_dir, 'runs');
    t.match(warns[0], /settings reset to default values/);
    writeFileSync(settingsFile(), JSON.stringify({ ...loadSettings(), runs_dir: 3 }));
    t.equal(loadSettings(() => {}).runs_dir, 'runs', 'a value of the wrong type resets too');
  },
);

t.test('yolo settings on the command line', async (t) => {
  let r = cli(ROOT, 'settings', 'datasets_dir=/data/sets');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /Settings updated successfully/);
  t.equal(JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))).datasets_dir, '/data/sets');
  r = cli(ROOT, 'settings', 'reset');
  t.match(r.stdout, /Settings reset successfully/);
  t.not(JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))).datasets_dir, '/data/sets');
  r = cli(ROOT, 'settings', 'nonsense');
  t.equal(r.status, 1);
  t.match(r.stderr, /'nonsense' is neither 'reset' nor a key=value pair/);
});

t.test('yolo cfg prints every default.yaml key; copy-cfg writes a file cfg= takes back', async (t) => {
  let r = cli(ROOT, 'cfg');
  t.equal(r.status, 0, r.stderr);
  const printed = parseYaml(r.stdout.slice(r.stdout.indexOf('task:')));
  t.same(Object.keys(printed), Object.keys(DEFAULT_CFG));
  const dir = mkdtempSync(join(tmpdir(), 'copycfg-'));
  r = cli(dir, 'copy-cfg');
  t.equal(r.status, 0, r.stderr);
  const f = join(dir, 'default_copy.yaml');
  t.ok(existsSync(f));
  t.match(
    r.stdout,
    new RegExp(
      `copied to ${f}\\nExample YOLO command with this new custom cfg:\\n    yolo cfg='${f}' imgsz=320 batch=8`,
    ),
  );
  const copy = parseYaml(readFileSync(f, 'utf8'));
  for (const [k, v] of Object.entries(DEFAULT_CFG)) t.same(copy[k], v, k);
  const warns: string[] = [];
  t.same(checkModeArgs('train', { cfg: f }, { warn: (w) => warns.push(w), log: () => {} }).epochs, 100);
  t.same(warns, []);
});

t.test('yolo checks: versions, CPUs, RAM, disk, adapter, ffmpeg, each dependency', async (t) => {
  const r = cli(ROOT, 'checks');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, new RegExp(`^yolo-ts \\S+ 🚀 Node-${process.versions.node.replace(/\./g, '\\.')} `));
  t.match(
    r.stdout,
    new RegExp(`Setup complete ✅ \\(${cpus().length} CPUs, [\\d.]+ GB RAM, [\\d.]+/[\\d.]+ GB disk\\)`),
  );
  for (const k of ['OS', 'Node', 'RAM', 'Disk', 'CPU', 'WebGPU adapter', 'ffmpeg'])
    t.match(r.stdout, new RegExp(`\\n${k} +\\S`), k);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  for (const dep of Object.keys(pkg.dependencies)) {
    const v = JSON.parse(readFileSync(join(ROOT, 'node_modules', dep, 'package.json'), 'utf8')).version;
    t.match(r.stdout, new RegExp(`\\n${dep.replace('/', '\\/')} +✅ ${v.replace(/\./g, '\\.')} `), dep);
  }
});
