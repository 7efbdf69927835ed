// Builds the browser page: web/src/app.ts and the shared engine/models/tasks sources it imports,
// bundled by esbuild into web/dist/. Node-only modules are swapped for small browser versions
// (web/src/platform/): node:fs is an in-memory file tree, node:path posix path, `process` a
// stand-in; the WGSL shaders and package.json are bundled as text and put into that file tree
// at start-up, so engine/backends/wgsl.ts reads them unchanged. A Node built-in the page never
// reaches (child_process, http, ...) becomes a module whose functions throw a clear error.
//
//   npm run build:web            -> web/dist/app.js (+ .map), web/dist/index.html
//   tsx web/build.ts --watch
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = dirname(fileURLToPath(import.meta.url));
const root = dirname(web);
const platform = join(web, 'src', 'platform');
/** Node built-ins with a working browser version. */
const SHIMMED: Record<string, string> = {
  fs: 'fs.ts',
  path: 'path.ts',
  url: 'url.ts',
  zlib: 'zlib.ts',
  os: 'os.ts',
  crypto: 'crypto.ts',
};
/** Packages the page never reaches (Node runtimes, exporters' toolchains): a throwing stand-in. */
const NODE_ONLY_PACKAGES = ['onnxruntime-node', '@tensorflow/tfjs', '@litertjs/core', 'wabt', 'pngjs'];

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every name the shared sources import from `spec`, so its stand-in exports exactly those. */
function importedNames(spec: string): string[] {
  const names = new Set<string>();
  const quoted = spec.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const re = new RegExp(`import\\s+(?:type\\s+)?\\{([^}]*)\\}\\s+from\\s+'(?:node:)?${quoted}'`, 'g');
  for (const dir of ['engine', 'nn', 'models', 'tasks']) {
    for (const f of tsFiles(join(root, dir))) {
      for (const m of readFileSync(f, 'utf8').matchAll(re)) {
        for (const part of m[1].split(',')) {
          const name = part
            .trim()
            .replace(/^type\s+/, '')
            .split(/\s+as\s+/)[0]
            .trim();
          if (name) names.add(name);
        }
      }
    }
  }
  return [...names];
}

function standIn(spec: string): string {
  const names = importedNames(spec);
  const lines = [
    `const fail = (n) => function () { throw new Error(\`${spec}: \${n} is not available in a browser tab\`); };`,
  ];
  for (const n of names) lines.push(`export const ${n} = fail(${JSON.stringify(n)});`);
  lines.push(`export default new Proxy({}, { get: (_, k) => fail(String(k)) });`);
  return lines.join('\n');
}

const nodeForBrowser: esbuild.Plugin = {
  name: 'node-for-browser',
  setup(b) {
    b.onResolve(
      {
        filter:
          /^node:|^(fs|path|url|zlib|os|crypto|child_process|http|https|worker_threads|stream|util|events|readline)$/,
      },
      (a) => {
        const name = a.path.replace(/^node:/, '');
        if (SHIMMED[name]) return { path: join(platform, SHIMMED[name]) };
        return { path: name, namespace: 'node-stand-in' };
      },
    );
    b.onResolve(
      { filter: new RegExp(`^(${NODE_ONLY_PACKAGES.map((p) => p.replace(/[/@.-]/g, '\\$&')).join('|')})$`) },
      (a) => ({ path: a.path, namespace: 'node-stand-in' }),
    );
    // openWebGPU takes navigator.gpu in a page; Dawn's binding stays a runtime import it never reaches.
    b.onResolve({ filter: /^webgpu$/ }, () => ({ path: 'webgpu', external: true }));
    b.onLoad({ filter: /.*/, namespace: 'node-stand-in' }, (a) => ({ contents: standIn(a.path), loader: 'js' }));
    // shaders/*.wgsl and package.json as one module: { 'shaders/x.wgsl': text, 'package.json': text }
    b.onResolve({ filter: /^virtual:package-files$/ }, () => ({ path: 'package-files', namespace: 'virtual' }));
    b.onLoad({ filter: /.*/, namespace: 'virtual' }, () => {
      const files: Record<string, string> = { 'package.json': readFileSync(join(root, 'package.json'), 'utf8') };
      for (const f of readdirSync(join(root, 'shaders')))
        if (f.endsWith('.wgsl')) files[`shaders/${f}`] = readFileSync(join(root, 'shaders', f), 'utf8');
      return {
        contents: `export default ${JSON.stringify(files)};`,
        loader: 'js',
        watchFiles: [join(root, 'package.json')],
        watchDirs: [join(root, 'shaders')],
      };
    });
  },
};

export async function buildWeb(opts: { watch?: boolean; minify?: boolean } = {}): Promise<esbuild.BuildResult> {
  const out = join(web, 'dist');
  mkdirSync(out, { recursive: true });
  copyFileSync(join(web, 'index.html'), join(out, 'index.html'));
  const config: esbuild.BuildOptions = {
    entryPoints: [join(web, 'src', 'app.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    outfile: join(out, 'app.js'),
    sourcemap: true,
    minify: opts.minify ?? true,
    inject: [join(platform, 'process.ts'), join(platform, 'buffer.ts')],
    define: { 'import.meta.url': JSON.stringify('http://localhost/web/dist/app.js') },
    plugins: [nodeForBrowser],
    logLevel: 'warning',
    metafile: true,
  };
  if (opts.watch) {
    const ctx = await esbuild.context(config);
    await ctx.watch();
    return { errors: [], warnings: [], outputFiles: undefined, metafile: undefined, mangleCache: undefined };
  }
  return esbuild.build(config);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = performance.now();
  const r = await buildWeb({ watch: process.argv.includes('--watch') });
  if (r.metafile) {
    const outs = Object.entries(r.metafile.outputs).filter(([f]) => !f.endsWith('.map'));
    for (const [f, o] of outs) console.log(`${relative(root, join(root, f))}  ${(o.bytes / 1024).toFixed(0)} KiB`);
    console.log(`built in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
  }
}
