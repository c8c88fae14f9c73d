import { createStore, get, set, type UseStore } from 'idb-keyval';
import { NetworkError } from '../../errors.js';
import { fetchFile } from '../../store/fetch.js';
import { MANIFEST } from './format.js';

/** Where fetched files are kept, so a visitor fetches each once and searches offline what it has seen. */
export interface FileCache {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, bytes: Uint8Array): Promise<void>;
}

/** Node has no IndexedDB: files live as long as the process, shared by every index opened in it. */
const processFiles = new Map<string, Uint8Array>();
const memoryCache: FileCache = {
  get: async (key) => processFiles.get(key),
  set: async (key, bytes) => {
    processFiles.set(key, bytes);
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
  set: (key, bytes) => set(key, bytes, idbStore()).catch(() => undefined),
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
  await cache.set(key, bytes);
  return bytes;
}

export interface Transfer {
  files: number;
  bytes: number;
}

/**
 * The files of one build of a static index: each fetched at most once (cache, then host, its
 * size checked against the manifest's) and parsed at most once per open index.
 */
export class StaticFiles {
  /** What came from the host (not the cache) since this object was made. */
  readonly fetched: Transfer = { files: 0, bytes: 0 };
  private readonly parsed = new Map<string, Promise<unknown>>();

  constructor(
    private readonly base: string,
    private readonly build: string,
    private readonly cache: FileCache,
  ) {}

  read<T>(path: string, size: number, parse: (bytes: Uint8Array, name: string) => T): Promise<T> {
    let p = this.parsed.get(path) as Promise<T> | undefined;
    if (!p) {
      p = this.load(path, size).then((bytes) => parse(bytes, this.base + path));
      this.parsed.set(path, p);
      // A failure (offline) is not remembered: the next search tries the host again.
      p.catch(() => this.parsed.delete(path));
    }
    return p;
  }

  private async load(path: string, size: number): Promise<Uint8Array> {
    const url = this.base + path;
    const key = `${this.build} ${url}`;
    const cached = await this.cache.get(key);
    if (cached) return cached;
    const bytes = await fetchFile(url, { expectedBytes: size });
    this.fetched.files++;
    this.fetched.bytes += bytes.length;
    await this.cache.set(key, bytes);
    return bytes;
  }
}
