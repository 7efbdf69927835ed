// A local HTTP server for download tests (the network is closed): routes map a path to a body,
// a redirect, a status code, or a body cut short of its announced length. Counts requests.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Route = { body: Uint8Array } | { redirect: string } | { status: number } | { truncated: Uint8Array };

export interface TestServer {
  url: string;
  hits: Map<string, number>;
  close(): Promise<void>;
}

export async function serve(routes: Record<string, Route>): Promise<TestServer> {
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const r = routes[path];
    if (!r) return res.writeHead(404).end('not found');
    if ('redirect' in r) return res.writeHead(302, { location: r.redirect }).end();
    if ('status' in r) return res.writeHead(r.status).end('error page');
    if ('truncated' in r) {
      res.writeHead(200, { 'content-length': r.truncated.length });
      res.write(r.truncated.subarray(0, r.truncated.length >> 1));
      return setTimeout(() => res.destroy(), 20);
    }
    res.writeHead(200, { 'content-length': r.body.length }).end(r.body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
