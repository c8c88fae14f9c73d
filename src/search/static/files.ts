import { createStore, delMany, get, keys, setMany, type UseStore } from 'idb-keyval';
import { NetworkError } from '../../errors.js';
import { fetchFile } from '../../store/fetch.js';
import { MANIFEST } from './format.js';

/** Where fetched files are kept, so a visitor fetches each once and searches offline what it has seen. */
export interface FileCache {
  get(key: string): Promise<Uint8Array | undefined>;
  /** Stores several entries at once (one IndexedDB transaction). */
  set(entries: [string, Uint8Array][]): Promise<void>;
  keys(): Promise<string[]>;
  delete(keys: string[]): Promise<void>;
}

/** Node has no IndexedDB: files live as long as the process, shared by every index opened in it. */
const processFiles = new Map<string, Uint8Array>();
const memoryCache: FileCache = {
  get: async (key) => processFiles.get(key),
  set: async (entries) => {
    for (const [key, bytes] of entries) processFiles.set(key, bytes);
  },
  keys: async () => [...processFiles.keys()],
  delete: async (keys) => {
    for (const key of keys) processFiles.delete(key);
  },
};

let idb: UseStore | undefined;
const idbStore = () => {
  idb ??= createStore('m3web-static', 'files');
  return idb;
};
const idbCache: FileCache = {
  get: (key) => get<Uint8Array>(key, idbStore()),
  // Best effort: a full disk only means fetching the file again next time.
  set: (entries) => setMany(entries, idbStore()).catch(() => undefined),
  keys: async () => (await keys(idbStore())).map(String),
  delete: (keys) => delMany(keys, idbStore()).catch(() => undefined),
};

/** IndexedDB in pages and workers; the process's memory in Node. */
export const defaultCache = (): FileCache => (typeof indexedDB === 'undefined' ? memoryCache : idbCache);

/**
 * The manifest of the index at `base`: from the host when it answers (a rebuilt folder is seen
 * at once), else the copy cached when it last did.
 */
export async function fetchManifest(base: string, cache: FileCache): Promise<Uint8Array> {
  const url = base + MANIFEST;
  const key = `manifest ${url}`;
  let res: Response;
  try {
    res = await fetch(url, { cache: 'no-cache' });
  } catch (cause) {
    const cached = await cache.get(key);
    if (cached) return cached;
    throw new NetworkError(`${url}: request failed (${String(cause)}) and it was never fetched before`, { cause });
  }
  if (!res.ok) throw new NetworkError(`${url}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  await cache.set([[key, bytes]]);
  return bytes;
}

/** A file (or row record: `@N`) of an index folder, not of another index in a folder below it. */
const INDEX_FILE = /^(?:(?:rows|texts|terms)\/\d+\.(?:bin|json)(?:@\d+)?|coarse\.bin|docs\.json)$/;
const fileKey = (build: string, url: string) => `${build} ${url}`;

/** Drops the cached files of the index at `base` from builds other than `build`: a rebuilt folder replaces them. */
export async function forgetOtherBuilds(cache: FileCache, base: string, build: string): Promise<void> {
  const stale = (await cache.keys()).filter((key) => {
    const space = key.indexOf(' ');
    const url = key.slice(space + 1);
    return key.slice(0, space) !== build && url.startsWith(base) && INDEX_FILE.test(url.slice(base.length));
  });
  if (stale.length) await cache.delete(stale);
}

export interface Transfer {
  requests: number;
  bytes: number;
}

/**
 * The files of one build of a static index: each fetched at most once (cache, then host, its
 * size checked against the manifest's) and parsed at most once per open index. Row files are
 * read by record: only the rows asked for, consecutive ones in one Range request, each cached
 * on its own.
 */
export class StaticFiles {
  /** What came from the host (not the cache) since this object was made. */
  readonly fetched: Transfer = { requests: 0, bytes: 0 };
  private readonly parsed = new Map<string, Promise<unknown>>();

  constructor(
    private readonly base: string,
    private readonly build: string,
    private readonly cache: FileCache,
  ) {}

  read<T>(path: string, size: number, parse: (bytes: Uint8Array, name: string) => T): Promise<T> {
    return this.once(path, () => this.load(path, size).then((bytes) => parse(bytes, this.base + path)));
  }

  /** Records `indices` (of `size` bytes each) of file `path`, in that order. */
  records(path: string, size: number, indices: readonly number[]): Promise<Uint8Array[]> {
    const name = (i: number) => `${path}@${i}`;
    const todo = [...new Set(indices)].filter((i) => !this.parsed.has(name(i))).sort((a, b) => a - b);
    if (todo.length) {
      const batch = this.loadRecords(path, size, todo);
      for (const i of todo) this.once(name(i), () => batch.then((m) => m.get(i) as Uint8Array));
    }
    return Promise.all(indices.map((i) => this.parsed.get(name(i)) as Promise<Uint8Array>));
  }

  /** Runs `make` once per `name`; a failure (offline) is not remembered: the next search tries the host again. */
  private once<T>(name: string, make: () => Promise<T>): Promise<T> {
    let p = this.parsed.get(name) as Promise<T> | undefined;
    if (!p) {
      p = make();
      this.parsed.set(name, p);
      p.catch(() => this.parsed.delete(name));
    }
    return p;
  }

  private async load(path: string, size: number): Promise<Uint8Array> {
    const url = this.base + path;
    const key = fileKey(this.build, url);
    const cached = await this.cache.get(key);
    if (cached) return cached;
    const bytes = await this.download(url, size);
    await this.cache.set([[key, bytes]]);
    return bytes;
  }

  /**
   * `todo` (ascending) from the cache, the rest from the host, a Range request per run of
   * consecutive records. Joining runs a few records apart saves requests but not bytes: at 30k
   * synthetic passages (f32, 384 dims), joining across gaps of up to 4 unwanted records cut a
   * vector query's requests from 149 to 99 and added 160 KiB, more than the ~0.5 KiB of headers
   * each saved request costs.
   */
  private async loadRecords(path: string, size: number, todo: number[]): Promise<Map<number, Uint8Array>> {
    const url = this.base + path;
    const key = (i: number) => `${fileKey(this.build, url)}@${i}`;
    const out = new Map<number, Uint8Array>();
    const cached = await Promise.all(todo.map((i) => this.cache.get(key(i))));
    const runs: number[][] = [];
    todo.forEach((i, j) => {
      const hit = cached[j];
      const run = runs.at(-1);
      if (hit) out.set(i, hit);
      else if (run && run.at(-1) === i - 1) run.push(i);
      else runs.push([i]);
    });
    await Promise.all(
      runs.map(async (run) => {
        const first = run[0] as number;
        const bytes = await this.download(url, ((run.at(-1) as number) - first + 1) * size, first * size);
        // Copies, so each record owns an aligned buffer that the cache stores alone.
        const entries = run.map((i): [string, Uint8Array] => {
          const record = bytes.slice((i - first) * size, (i - first + 1) * size);
          out.set(i, record);
          return [key(i), record];
        });
        await this.cache.set(entries);
      }),
    );
    return out;
  }

  private async download(url: string, size: number, offset?: number): Promise<Uint8Array> {
    const bytes = await fetchFile(url, offset === undefined ? { expectedBytes: size } : { expectedBytes: size, offset });
    this.fetched.requests++;
    this.fetched.bytes += bytes.length;
    return bytes;
  }
}
