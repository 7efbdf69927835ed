// Locates files shipped with the package (shaders/), whether running from the TS sources
// (through tsx) or from the compiled dist/ tree.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

/** The folder holding package.json and shaders/. */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'shaders'))) return (root = dir);
    const up = dirname(dir);
    if (up === dir)
      throw new Error(
        `cannot find the package root (a folder with package.json and shaders/) above ${fileURLToPath(import.meta.url)}`,
      );
    dir = up;
  }
}

let version: string | null = null;

/** This package's version (package.json's `version`), read once. */
export function packageVersion(): string {
  return (version ??= JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version as string);
}
