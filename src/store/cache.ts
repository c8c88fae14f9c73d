import { clear, createStore, get, promisifyRequest, type UseStore } from 'idb-keyval';
import { StorageQuotaError } from '../errors.js';

// A database of its own, so clearing it never touches the app's other idb-keyval data.
const DB_NAME = 'm3web-shards';
const STORE_NAME = 'files';
// Key spaces inside the one object store. Model ids and file names cannot contain ':' or '@'
// (parseManifest's FILE_RE), so `${id}@…` keys never collide with these prefixes.
const SIZE = 'size:';
const MANIFEST = 'manifest:';
const END = '\uffff';

/** The manifest.json last fetched from a URL, kept so a later load works offline. */
export interface CachedManifest {
  text: string;
  /** First 16 hex digits of the SHA-256 of manifest.json's bytes: the model version. */
  hash: string;
  storedAt: number;
}

export interface CachedModel {
  id: string;
  hash: string;
  bytes: number;
  files: number;
  /** The manifest URL it was last loaded from, when that manifest is still stored. */
  url?: string;
}

export interface PackCache {
  get(key: string): Promise<Uint8Array | undefined>;
  /** Throws StorageQuotaError when the browser refuses the bytes. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
  getManifest(url: string): Promise<CachedManifest | undefined>;
  putManifest(url: string, text: string, hash: string): Promise<void>;
  /** Throws StorageQuotaError when the storage estimate leaves less than `bytes` free. */
  ensureRoom(bytes: number): Promise<void>;
  /** Every version of model `id`, or only version `hash`, and the stored manifests that point to it. */
  deleteModel(id: string, hash?: string): Promise<void>;
  /** Versions of model `id` that no stored manifest points to any more (left behind by an update). */
  pruneStale(id: string): Promise<void>;
  listCachedModels(): Promise<CachedModel[]>;
  clearAll(): Promise<void>;
}

export const cacheKey = (id: string, hash: string, file: string) => `${id}@${hash}/${file}`;

const range = (prefix: string) => IDBKeyRange.bound(prefix, prefix + END);

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** Whether `e` (or an error it wraps) is the browser refusing to store more. */
export function isQuotaError(e: unknown, depth = 0): boolean {
  if (typeof e !== 'object' || e === null || depth > 3) return false;
  const { name, cause, error } = e as { name?: unknown; cause?: unknown; error?: unknown };
  // Firefox before 2020 used its own name for the same condition.
  if (name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED') return true;
  return isQuotaError(cause, depth + 1) || isQuotaError(error, depth + 1);
}

function manifestId(m: CachedManifest): string | undefined {
  try {
    const id = (JSON.parse(m.text) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

class IdbPackCache implements PackCache {
  constructor(private readonly store: UseStore) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    const v = await get<unknown>(key, this.store);
    return v instanceof Uint8Array ? v : undefined;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    // IndexedDB clones a view's whole ArrayBuffer: store exactly the file's bytes.
    const value = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    await this.write(bytes.byteLength, key, (s) => {
      s.put(value, key);
      // Sizes live apart from the bytes so listing models never reads the shards themselves.
      s.put(value.byteLength, SIZE + key);
    });
  }

  delete(keys: readonly string[]): Promise<void> {
    return this.store('readwrite', (s) => {
      for (const key of keys) {
        s.delete(key);
        s.delete(SIZE + key);
      }
      return promisifyRequest(s.transaction);
    });
  }

  async getManifest(url: string): Promise<CachedManifest | undefined> {
    const v = await get<CachedManifest>(MANIFEST + url, this.store);
    return v && typeof v.text === 'string' && typeof v.hash === 'string' ? v : undefined;
  }

  putManifest(url: string, text: string, hash: string): Promise<void> {
    const record: CachedManifest = { text, hash, storedAt: Date.now() };
    return this.write(text.length, `the manifest of ${url}`, (s) => s.put(record, MANIFEST + url));
  }

  async ensureRoom(bytes: number): Promise<void> {
    const storage = globalThis.navigator?.storage;
    if (!storage?.estimate) return;
    const { quota, usage = 0 } = await storage.estimate();
    if (quota === undefined) return;
    const available = Math.max(0, quota - usage);
    if (bytes > available) {
      throw new StorageQuotaError(
        bytes,
        `caching the model needs ${bytes} bytes (${mib(bytes)}) but this site may store only ${available} bytes (${mib(available)}) more`,
      );
    }
  }

  async deleteModel(id: string, hash?: string): Promise<void> {
    const prefix = hash === undefined ? `${id}@` : `${id}@${hash}/`;
    const manifests = await this.manifests();
    await this.store('readwrite', (s) => {
      s.delete(range(prefix));
      s.delete(range(SIZE + prefix));
      for (const [url, m] of manifests) {
        if (manifestId(m) === id && (hash === undefined || m.hash === hash)) s.delete(MANIFEST + url);
      }
      return promisifyRequest(s.transaction);
    });
  }

  async pruneStale(id: string): Promise<void> {
    for (const m of await this.listCachedModels()) {
      if (m.id === id && m.url === undefined) await this.deleteModel(id, m.hash);
    }
  }

  async listCachedModels(): Promise<CachedModel[]> {
    const [keys, sizes] = await this.store('readonly', (s) =>
      Promise.all([promisifyRequest(s.getAllKeys(range(SIZE))), promisifyRequest(s.getAll(range(SIZE)))]),
    );
    const models = new Map<string, CachedModel>();
    keys.forEach((k, i) => {
      const key = String(k).slice(SIZE.length);
      const at = key.indexOf('@');
      const slash = key.indexOf('/', at);
      if (at < 0 || slash < 0) return;
      const version = key.slice(0, slash);
      const model = models.get(version) ?? { id: key.slice(0, at), hash: key.slice(at + 1, slash), bytes: 0, files: 0 };
      model.bytes += Number(sizes[i]) || 0;
      model.files++;
      models.set(version, model);
    });
    const manifests = (await this.manifests()).sort((a, b) => b[1].storedAt - a[1].storedAt);
    for (const [url, m] of manifests) {
      const model = models.get(`${manifestId(m)}@${m.hash}`);
      if (model && model.url === undefined) model.url = url;
    }
    return [...models.values()];
  }

  clearAll(): Promise<void> {
    return clear(this.store);
  }

  private async manifests(): Promise<[string, CachedManifest][]> {
    const [keys, values] = await this.store('readonly', (s) =>
      Promise.all([promisifyRequest(s.getAllKeys(range(MANIFEST))), promisifyRequest(s.getAll(range(MANIFEST)))]),
    );
    return keys.map((k, i) => [String(k).slice(MANIFEST.length), values[i] as CachedManifest]);
  }

  private async write(bytes: number, what: string, fill: (s: IDBObjectStore) => void): Promise<void> {
    try {
      await this.store('readwrite', (s) => {
        fill(s);
        return promisifyRequest(s.transaction);
      });
    } catch (e) {
      if (isQuotaError(e))
        throw new StorageQuotaError(bytes, `the browser's storage quota refused ${what} (${bytes} bytes)`, { cause: e });
      throw e;
    }
  }
}

let shared: PackCache | undefined;

/** The IndexedDB pack cache, or null where there is no IndexedDB (Node, some private modes). */
export function openPackCache(): PackCache | null {
  if (typeof indexedDB === 'undefined') return null;
  shared ??= new IdbPackCache(createStore(DB_NAME, STORE_NAME));
  return shared;
}

/** Models in the cache, one entry per version, with their size on disk. */
export async function listCachedModels(): Promise<CachedModel[]> {
  return (await openPackCache()?.listCachedModels()) ?? [];
}

/** Removes model `id` from the cache (only version `hash` when given). */
export async function deleteCachedModel(id: string, hash?: string): Promise<void> {
  await openPackCache()?.deleteModel(id, hash);
}

export async function clearCache(): Promise<void> {
  await openPackCache()?.clearAll();
}

/**
 * Asks the browser not to evict the cache under storage pressure. Browsers decide by their own
 * rules (installed app, bookmarks, engagement) and may say no; false also where there is no API.
 */
export async function persistStorage(): Promise<boolean> {
  const storage = globalThis.navigator?.storage;
  return storage?.persist ? storage.persist() : false;
}
