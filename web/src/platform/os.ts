// node:os for the browser build: the page's in-memory file tree has a home (/home) for the user
// settings and caches the shared sources keep there; the rest describes the tab.
export const homedir = () => '/home';
export const tmpdir = () => '/tmp';
export const platform = () => 'browser';
export const arch = () => 'wasm';
export const release = () => navigator.userAgent;
export const cpus = () =>
  Array.from({ length: navigator.hardwareConcurrency || 1 }, () => ({ model: 'browser', speed: 0 }));
export const availableParallelism = () => navigator.hardwareConcurrency || 1;
export const totalmem = () => ((navigator as { deviceMemory?: number }).deviceMemory ?? 0) * 2 ** 30;
export const freemem = () => 0;
export const EOL = '\n';
export default { homedir, tmpdir, platform, arch, release, cpus, availableParallelism, totalmem, freemem, EOL };
