// `yolo app`: serves the browser page (web/dist, built by `npm run build:web`) on 127.0.0.1 and
// prints its URL. The page fetches the bundled checkpoint from /weights/ and a sample image from
// /images/; everything else it needs (the engine, the shaders) is in web/dist/app.js.
//
//   yolo app                       -> http://127.0.0.1:<free port>/
//   yolo app port=8080 model=path/to/best.pt
//
// Imports: node:http, node:fs, ../engine/paths.

import { createServer, type Server } from 'node:http';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, normalize, resolve } from 'node:path';
import { packageRoot } from '../engine/paths.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.css': 'text/css',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
  '.json': 'application/json',
  '.wgsl': 'text/plain',
  '.yaml': 'text/yaml',
  '.txt': 'text/plain',
};

export interface AppServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** The checkpoint the page opens first: `model=` when given, else the README's bundled yolov8n-pose. */
export function bundledCheckpoint(model?: string): string {
  const root = packageRoot();
  const candidates = model
    ? [resolve(model)]
    : [resolve('yolov8n-pose.pt'), join(root, 'test/fixtures/predict/yolov8n-pose-coco128.pt')];
  const found = candidates.find((p) => existsSync(p) && statSync(p).isFile());
  if (!found)
    throw new Error(
      `yolo app: no checkpoint found (looked for ${candidates.join(', ')}); pass model=path/to/weights.pt`,
    );
  return found;
}

/** Serves web/dist plus /weights/yolov8n-pose.pt, /images/* and /data/* on loopback; port 0 picks a free one. */
export async function startAppServer(opts: { port?: number; model?: string } = {}): Promise<AppServer> {
  const root = packageRoot();
  const dist = join(root, 'web', 'dist');
  if (!existsSync(join(dist, 'app.js')))
    throw new Error(`yolo app: ${dist} has no app.js; build the page first with \`npm run build:web\``);
  const weights = bundledCheckpoint(opts.model);
  const mounts: [string, string][] = [
    ['/images/', join(root, 'web', 'assets')],
    ['/data/', join(root, 'data')],
    ['/', dist],
  ];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file: string | null = null;
    const listing = /^\/data-files\/(\w[\w.-]*)$/.exec(path); // a bundled dataset's files, for fine-tuning in the tab (a folder name: no '..')
    if (listing && existsSync(join(root, 'data', listing[1]))) {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(filesUnder(join(root, 'data', listing[1]))));
      return;
    }
    if (path === '/weights/yolov8n-pose.pt') file = weights;
    else {
      for (const [prefix, dir] of mounts) {
        if (!path.startsWith(prefix)) continue;
        const p = normalize(join(dir, path.slice(prefix.length) || 'index.html'));
        if (p.startsWith(dir) && existsSync(p) && statSync(p).isFile()) file = p;
        break;
      }
    }
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
      return;
    }
    const headers: Record<string, string> = {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
    };
    if (file === weights) headers['x-yolo-weights'] = basename(weights); // the page names what it runs
    res.writeHead(200, headers);
    res.end(readFileSync(file));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      fail(new Error(`yolo app: cannot listen on 127.0.0.1:${opts.port ?? 0} (${e.code ?? e.message})`)),
    );
    server.listen(opts.port ?? 0, '127.0.0.1', ok);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    url: `http://127.0.0.1:${port}/`,
    server,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections(); // a browser's keep-alive sockets would otherwise hold Ctrl-C up
      }),
  };
}

/** Paths (relative, '/'-separated) of the files under `dir`, skipping label caches. */
function filesUnder(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...filesUnder(dir, p));
    else if (!e.name.endsWith('.cache')) out.push(p);
  }
  return out.sort();
}

/** The CLI mode: serve until Ctrl-C. */
export async function appCli(overrides: Record<string, unknown>): Promise<number> {
  const port = overrides.port == null ? 0 : Number(overrides.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`yolo app: port=${String(overrides.port)}: expected an integer 0-65535`);
  const app = await startAppServer({ port, model: overrides.model == null ? undefined : String(overrides.model) });
  console.log(
    `yolo-ts app: ${app.url}  (model ${bundledCheckpoint(overrides.model as string | undefined)}; Ctrl-C to stop)`,
  );
  await new Promise<void>((ok) => process.once('SIGINT', ok));
  await app.close();
  return 0;
}
