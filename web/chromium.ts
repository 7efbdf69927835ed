// Headless Chromium with WebGPU, for the browser tests and benchmark. Debian's chromium
// (.ci/install-system.sh) is driven by puppeteer-core over the DevTools protocol. On a machine
// without a GPU, Chromium's WebGPU runs on SwiftShader (its CPU Vulkan): these flags are what
// give an adapter here. Mesa's lavapipe (what Node's Dawn uses) is not taken by Chromium 156:
// --use-vulkan=native yields no adapter.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

export const CHROMIUM_FLAGS = [
  '--no-sandbox', // CI runs as root
  '--enable-unsafe-webgpu', // WebGPU on Linux is behind this flag
  '--enable-features=Vulkan',
  '--use-webgpu-adapter=swiftshader',
  '--enable-unsafe-swiftshader',
  '--ignore-gpu-blocklist',
];

export function chromiumPath(): string {
  const p =
    process.env.CHROMIUM_PATH ??
    ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((f) => existsSync(f));
  if (!p) throw new Error("no Chromium found (install Debian's chromium: .ci/install-system.sh, or set CHROMIUM_PATH)");
  return p;
}

export async function launchChromium(): Promise<Browser> {
  process.env.XDG_RUNTIME_DIR ??= mkdtempSync(join(tmpdir(), 'xdg-'));
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_FLAGS,
    protocolTimeout: 600_000,
  });
}
