import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wgsl': 'text/plain',
  // WebAssembly.instantiateStreaming refuses any other type.
  '.wasm': 'application/wasm',
};

export interface StaticOptions {
  /** URL prefix ('/models/', slashes at both ends) → the folder served under it; `dir` serves the rest. */
  mounts?: Record<string, string>;
  /** Sent with every response, e.g. the COOP/COEP pair that makes pages cross-origin isolated. */
  headers?: Record<string, string>;
  /** Hears the path of every request, to count what was fetched. */
  onRequest?: (path: string) => void;
  /** Answer Range requests with the whole file, as some hosts do. */
  ignoreRange?: boolean;
}

/** Serves `dir` on a free localhost port, as a plain static host would (no SPA fallbacks). */
export function serveStatic(dir: string, options: StaticOptions = {}): Promise<{ server: Server; url: string }> {
  // Longest prefix first, so a mount inside another one wins.
  const mounts = Object.entries(options.mounts ?? {}).sort(([a], [b]) => b.length - a.length);
  const server = createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    options.onRequest?.(pathname);
    const [prefix, root] = mounts.find(([p]) => pathname.startsWith(p)) ?? ['/', dir];
    const rest = pathname.slice(prefix.length - 1);
    const path = join(root, rest.endsWith('/') ? `${rest}index.html` : rest);
    try {
      const body = readFileSync(path);
      const type = { ...options.headers, 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' };
      // One byte range, as static hosts serve them (the static search index reads rows so).
      const range = options.ignoreRange ? null : /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (!range) res.writeHead(200, type).end(body);
      else {
        const [from, to] = [Number(range[1]), Math.min(Number(range[2]), body.length - 1)];
        res.writeHead(206, { ...type, 'content-range': `bytes ${from}-${to}/${body.length}` }).end(body.subarray(from, to + 1));
      }
    } catch {
      res.writeHead(404, options.headers).end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://localhost:${(server.address() as { port: number }).port}/` }),
    ),
  );
}
