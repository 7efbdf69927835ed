// node:url for the browser build: a page URL maps to its path on the in-memory file system (./fs).
export function fileURLToPath(u: string | URL): string {
  return decodeURIComponent(new URL(String(u)).pathname);
}
export function pathToFileURL(p: string): URL {
  return new URL(`file://${p}`);
}
export const URL_ = URL;
export default { fileURLToPath, pathToFileURL };
