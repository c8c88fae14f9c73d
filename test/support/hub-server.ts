import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** One repository the fake hub serves: file name -> bytes. */
export interface FakeRepo {
  files: Map<string, Uint8Array>;
  /** The commit every revision resolves to. */
  commit: string;
  /** Requests need `Authorization: Bearer <token>` (a gated model). */
  token?: string;
  /** Weight files whose first download is cut after this many bytes (a dropped connection). */
  cutOnce?: Map<string, number>;
}

export interface FakeHub {
  url: string;
  /** While true, every request but the control ones is dropped, as if the network were gone. */
  offline: boolean;
  repos: Map<string, FakeRepo>;
  /** Every request: which server, path, and the headers that matter. */
  log: { server: 'hub' | 'cdn'; method: string; path: string; range: string | null; authorization: string | null }[];
  close(): Promise<void>;
}

const listen = (server: Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization, range',
  'access-control-expose-headers': 'content-range, etag, x-repo-commit, content-length',
};

/** Answers a Range request (or the whole file), as a CDN does. */
function sendBytes(
  req: IncomingMessage,
  res: ServerResponse,
  bytes: Uint8Array,
  headers: Record<string, string>,
  cutAt?: number,
): void {
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  let start = 0;
  let end = bytes.length - 1;
  if (m) {
    start = Number(m[1]);
    end = m[2] ? Math.min(Number(m[2]), end) : end;
  }
  const body = bytes.subarray(start, end + 1);
  const status = m ? 206 : 200;
  res.writeHead(status, {
    ...CORS,
    ...headers,
    'content-type': 'application/octet-stream',
    'content-length': String(body.length),
    ...(m ? { 'content-range': `bytes ${start}-${end}/${bytes.length}` } : {}),
  });
  if (cutAt !== undefined && cutAt < body.length) {
    res.write(body.subarray(0, cutAt));
    setTimeout(() => res.destroy(), 20);
    return;
  }
  res.end(body);
}

/**
 * A hub in the Hugging Face layout on two local origins: `{hub}/{org}/{name}/resolve/{rev}/{file}`
 * answers small files itself and redirects `.safetensors`, `.gguf` and `.bin` files (302) to a second origin,
 * the "CDN", which serves Range requests; `{hub}/api/models/{org}/{name}/tree/{rev}` lists a repo's
 * files. Gated repos want a bearer token; missing files are 404.
 */
export async function startFakeHub(repos: Map<string, FakeRepo> = new Map()): Promise<FakeHub> {
  const log: FakeHub['log'] = [];
  const state = { offline: false };
  // Control paths, for tests in a browser that cannot reach this object: POST /__offline,
  // POST /__online, GET /__log, POST /__commit?repo=org/name&commit=c (a new commit is pushed).
  const control = (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (!path.startsWith('/__')) return false;
    if (path === '/__offline') state.offline = true;
    if (path === '/__online') state.offline = false;
    const pushed = repos.get(url.searchParams.get('repo') ?? '');
    if (path === '/__commit' && pushed) pushed.commit = url.searchParams.get('commit') ?? pushed.commit;
    res.writeHead(200, { ...CORS, 'content-type': 'application/json' }).end(path === '/__log' ? JSON.stringify(log) : '{}');
    return true;
  };
  const note = (server: 'hub' | 'cdn', req: IncomingMessage) =>
    log.push({
      server,
      method: req.method ?? 'GET',
      path: decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname),
      range: req.headers.range ?? null,
      authorization: req.headers.authorization ?? null,
    });

  const cdn = createServer((req, res) => {
    if (state.offline) return void req.socket.destroy();
    note('cdn', req);
    if (req.method === 'OPTIONS') return void res.writeHead(204, CORS).end();
    const [, repoKey, file] = /^\/blobs\/([^/]+)\/(.+)$/.exec(new URL(req.url ?? '/', 'http://x').pathname) ?? [];
    const repo = repoKey && repos.get(decodeURIComponent(repoKey));
    const bytes = repo && file ? repo.files.get(decodeURIComponent(file)) : undefined;
    if (!repo || !bytes) return void res.writeHead(404, CORS).end();
    const cut = repo.cutOnce?.get(decodeURIComponent(file as string));
    if (cut !== undefined) repo.cutOnce?.delete(decodeURIComponent(file as string));
    sendBytes(req, res, bytes, { etag: `"${repo.commit}-${file}"` }, cut);
  });
  const cdnUrl = await listen(cdn);

  const hub = createServer((req, res) => {
    if (control(req, res)) return;
    if (state.offline) return void req.socket.destroy();
    note('hub', req);
    if (req.method === 'OPTIONS') return void res.writeHead(204, CORS).end();
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    // The Hub API's listing of a repository's files, as GGUF repositories are read.
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(path);
    const listed = tree && repos.get(tree[1] as string);
    if (tree) {
      if (!listed) return void res.writeHead(404, CORS).end('Repository not found');
      const list = [...listed.files].map(([name, bytes]) => ({ type: 'file', path: name, size: bytes.length }));
      return void res.writeHead(200, { ...CORS, 'content-type': 'application/json' }).end(JSON.stringify(list));
    }
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const repo = m && repos.get(m[1] as string);
    if (!m || !repo) return void res.writeHead(404, CORS).end('Repository not found');
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) return void res.writeHead(401, CORS).end();
    const file = m[3] as string;
    const bytes = repo.files.get(file);
    const headers = { 'x-repo-commit': repo.commit, etag: `"${repo.commit}-${file}"` };
    if (!bytes) return void res.writeHead(404, { ...CORS, ...headers }).end('Entry not found');
    if (/\.(safetensors|gguf|bin)$/.test(file)) {
      const location = `${cdnUrl}/blobs/${encodeURIComponent(m[1] as string)}/${encodeURIComponent(file)}`;
      return void res.writeHead(302, { ...CORS, ...headers, location }).end();
    }
    sendBytes(req, res, bytes, headers);
  });
  const url = await listen(hub);
  return {
    url,
    repos,
    log,
    get offline() {
      return state.offline;
    },
    set offline(v: boolean) {
      state.offline = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        hub.closeAllConnections();
        cdn.closeAllConnections();
        hub.close(() => cdn.close(() => resolve()));
      }),
  };
}

/** A fixture folder's files, by name. */
export function folderFiles(dir: string, names: string[]): Map<string, Uint8Array> {
  return new Map(names.map((n) => [n, new Uint8Array(readFileSync(join(dir, n)))]));
}

/** Splits a safetensors file into `parts` files at tensor boundaries, with the index that lists them. */
export function shardSafetensors(bytes: Uint8Array, parts: number): Map<string, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen))) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const data = bytes.subarray(8 + headerLen);
  const names = Object.keys(header).filter((n) => n !== '__metadata__');
  const out = new Map<string, Uint8Array>();
  const weightMap: Record<string, string> = {};
  const per = Math.ceil(names.length / parts);
  for (let p = 0; p < parts; p++) {
    const file = `model-${String(p + 1).padStart(5, '0')}-of-${String(parts).padStart(5, '0')}.safetensors`;
    const mine = names.slice(p * per, (p + 1) * per);
    const chunks: Uint8Array[] = [];
    const h: Record<string, unknown> = {};
    let at = 0;
    for (const n of mine) {
      const t = header[n] as { dtype: string; shape: number[]; data_offsets: [number, number] };
      const raw = data.subarray(t.data_offsets[0], t.data_offsets[1]);
      h[n] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + raw.length] };
      chunks.push(raw);
      at += raw.length;
      weightMap[n] = file;
    }
    let json = JSON.stringify(h);
    json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8);
    const file8 = new Uint8Array(8 + json.length + at);
    new DataView(file8.buffer).setBigUint64(0, BigInt(json.length), true);
    file8.set(new TextEncoder().encode(json), 8);
    let o = 8 + json.length;
    for (const c of chunks) {
      file8.set(c, o);
      o += c.length;
    }
    out.set(file, file8);
  }
  out.set('model.safetensors.index.json', new TextEncoder().encode(JSON.stringify({ metadata: {}, weight_map: weightMap })));
  return out;
}
