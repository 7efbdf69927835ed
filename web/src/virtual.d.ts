// Made by web/build.ts: shaders/*.wgsl and package.json as text, keyed by their path in the package.
declare module 'virtual:package-files' {
  const files: Record<string, string>;
  export default files;
}
