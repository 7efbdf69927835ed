// Finds a Python for the cross-checks in test/io: $TORCH_PYTHON if set, else python3 on PATH, then
// /usr/bin/python3 (Debian's python3-torch installs torch for the system Python, which a pyenv
// python3 on PATH may shadow). Tests skip the one subtest that needs it, saying why, when none works.
import { spawnSync } from 'node:child_process';

const cache = new Map<boolean, string | undefined>();

export function findPython(needTorch: boolean): string | undefined {
  if (cache.has(needTorch)) return cache.get(needTorch);
  // An explicit $TORCH_PYTHON is the only candidate (TORCH_PYTHON=none checks the skip paths).
  const candidates = process.env.TORCH_PYTHON ? [process.env.TORCH_PYTHON] : ['python3', '/usr/bin/python3'];
  const found = candidates.find(
    (py) =>
      spawnSync(py, ['-c', needTorch ? 'import torch' : 'import zipfile, pickle'], { stdio: 'ignore', timeout: 60_000 })
        .status === 0,
  );
  cache.set(needTorch, found);
  return found;
}

export function runPython(py: string, args: string[]): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync(py, args, { encoding: 'utf8', timeout: 300_000, maxBuffer: 1 << 28 });
  return { ok: r.status === 0, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}
