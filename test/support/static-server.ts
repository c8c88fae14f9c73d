import { readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
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
  /** Sends the files whose path matches `paths` in `chunks` parts, `ms` apart: a slow connection. */
  throttle?: { paths: RegExp; chunks: number; ms: number };
  /** Hears the path of every file as its last byte is handed to the connection. */
  onSent?: (path: string) => void;
}

/** Writes `body` in `chunks` parts `ms` apart, then ends the response. */
function trickle(res: ServerResponse, body: Uint8Array, chunks: number, ms: number, done: () => void): void {
  const size = Math.ceil(body.length / chunks);
  let at = 0;
  const next = () => {
    if (res.destroyed) return;
    res.write(body.subarray(at, at + size));
    at += size;
    if (at < body.length) return void setTimeout(next, ms);
    done();
    res.end();
  };
  next();
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
      const throttle = options.throttle?.paths.test(pathname) ? options.throttle : null;
      const sent = () => options.onSent?.(pathname);
      if (!range && throttle) {
        res.writeHead(200, { ...type, 'content-length': String(body.length) });
        trickle(res, body, throttle.chunks, throttle.ms, sent);
      } else if (!range) {
        sent();
        res.writeHead(200, type).end(body);
      } else {
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
