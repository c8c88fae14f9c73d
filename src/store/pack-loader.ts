import { InputError, IntegrityError, ModelFormatError, NetworkError, StorageQuotaError } from '../errors.js';
import { type FileEntry, MANIFEST_FILE, type PackManifest, parseManifest, shardsFor } from '../pack/manifest.js';
import { sha256Hex } from '../pack/sha256.js';
import type { PackSink } from '../pack/write.js';
import { firstExit } from '../weights/config.js';
import { hfConfigField } from '../weights/config-fields.js';
import { cacheKey, openPackCache, type PackCache } from './cache.js';
import { type FetchLike, fetchFile, throwIfAborted } from './fetch.js';

export type PackLoadPhase = 'manifest' | 'download' | 'cache' | 'done';

export interface PackLoadProgress {
  phase: PackLoadPhase;
  file?: string;
  fileLoaded: number;
  fileTotal: number;
  /** Bytes of the files this call needs (tokenizer + shards, minus `have`) that are in memory so far. */
  loaded: number;
  total: number;
}

export interface LoadPackOptions {
  /** Load only what the first `layers` layers need (default: every layer). */
  layers?: number;
  /** Files the caller already holds from an earlier call; they are neither fetched nor returned. */
  have?: ReadonlySet<string>;
  onProgress?: (progress: PackLoadProgress) => void;
  signal?: AbortSignal;
  fetch?: FetchLike;
  /** Default: the IndexedDB cache where the platform has one. null: no cache. */
  cache?: PackCache | null;
}

export interface LoadedPackFiles {
  manifest: PackManifest;
  /** First 16 hex digits of the SHA-256 of manifest.json: identifies this version of the model. */
  manifestHash: string;
  /** File name -> verified bytes, for the files this call needed. */
  files: Map<string, Uint8Array>;
  /** True when no file came over the network (re-checking manifest.json does not count). */
  fromCache: boolean;
}

// Manifests are a few hundred KiB at most; a server that streams more is not serving one.
const MAX_MANIFEST_BYTES = 16 << 20;

/** JSON text of a manifest.json to a checked PackManifest; every failure is a ModelFormatError. */
export function parseManifestText(text: string): PackManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ModelFormatError(`manifest.json is not JSON (${String(cause)})`, { cause });
  }
  return parseManifest(raw);
}

/** A model version's name in the cache: the first 16 hex digits of its manifest.json's SHA-256. */
const manifestHash = async (bytes: Uint8Array) => (await sha256Hex(bytes)).slice(0, 16);

async function fetchManifestBytes(url: string, doFetch: FetchLike, signal: AbortSignal | undefined): Promise<Uint8Array> {
  // no-cache: revalidate with the server, so a published update is seen on the next load.
  const res = await doFetch(url, signal ? { cache: 'no-cache', signal } : { cache: 'no-cache' });
  if (!res.ok) {
    void res.body?.cancel().catch(() => {});
    throw new NetworkError(`${url}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  for (;;) {
    const chunk = reader ? await reader.read() : { done: true as const };
    if (chunk.done) break;
    size += chunk.value.byteLength;
    if (size > MAX_MANIFEST_BYTES) {
      void reader?.cancel().catch(() => {});
      throw new ModelFormatError(`${url} is larger than ${MAX_MANIFEST_BYTES} bytes; not a model manifest`);
    }
    chunks.push(chunk.value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return bytes;
}

interface ManifestSource {
  text: string;
  hash: string;
  /** False when the network failed and the stored copy is used. */
  online: boolean;
}

async function loadManifest(
  url: string,
  cache: PackCache | null,
  doFetch: FetchLike,
  signal?: AbortSignal,
): Promise<ManifestSource> {
  let bytes: Uint8Array;
  try {
    bytes = await fetchManifestBytes(url, doFetch, signal);
  } catch (e) {
    throwIfAborted(signal);
    // fetch rejects with a TypeError when offline; HTTP failures are ours. Both may be met by the stored copy.
    if (!(e instanceof TypeError || (e instanceof Error && e.name === 'NetworkError'))) throw e;
    const stored = await cache?.getManifest(url);
    if (!stored) {
      const why = `cannot fetch ${url} (${e.message}) and this model was never cached here`;
      throw new NetworkError(why, { cause: e });
    }
    return { text: stored.text, hash: stored.hash, online: false };
  }
  return { text: new TextDecoder().decode(bytes), hash: await manifestHash(bytes), online: true };
}

/** The cached copy of a file if it is still intact; a damaged copy is removed so it is fetched again. */
async function fromCache(cache: PackCache, key: string, entry: FileEntry): Promise<Uint8Array | undefined> {
  const bytes = await cache.get(key);
  if (!bytes) return undefined;
  if (bytes.byteLength === entry.bytes && (await sha256Hex(bytes)) === entry.sha256) return bytes;
  await cache.delete([key]);
  return undefined;
}

/** Fetches a file and checks its SHA-256, fetching once more on a mismatch (a proxy or a deploy caught half-way). */
async function download(
  url: string,
  entry: FileEntry,
  options: LoadPackOptions,
  onProgress: (loaded: number) => void,
): Promise<Uint8Array> {
  let got = '';
  for (let attempt = 0; attempt < 2; attempt++) {
    const bytes = await fetchFile(url, {
      expectedBytes: entry.bytes,
      onProgress,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    got = await sha256Hex(bytes);
    if (got === entry.sha256) return bytes;
  }
  throw new IntegrityError(`${entry.file}: SHA-256 is ${got} but the manifest lists ${entry.sha256} (fetched twice)`);
}

/**
 * Runs `write`, which stores files in the cache and lists their keys in `written`. On a full disk
 * it leaves no half-stored model version behind: what it wrote is removed, and the error says
 * how many bytes the model needed (`needed()`, asked then).
 */
async function undoOnQuota(cache: PackCache, id: string, needed: () => number, written: string[], write: () => Promise<void>) {
  try {
    await write();
  } catch (e) {
    if (!(e instanceof StorageQuotaError)) throw e;
    await cache.delete(written);
    const bytes = needed();
    throw new StorageQuotaError(
      bytes,
      `out of storage while caching ${id}: it needs ${bytes} bytes more (${e.message}); the files stored by this load were removed`,
      { cause: e },
    );
  }
}

/**
 * Stores a pack made on this device (a conversion) in the cache as if it had been downloaded
 * from `baseUrl`, so loadPackFiles opens it from there: `write` hands its files to the sink one
 * at a time and each is stored as it comes, never copied or held, which keeps a conversion's
 * peak memory near one shard. They are stored as version `version` of model `id` (a name the
 * caller gives: a downloaded pack's version is its manifest's hash, but here the manifest comes
 * last). manifest.json is stored last, so a conversion that fails half-way is never found, and
 * the files it had stored are removed. Returns the manifest's text.
 */
export async function storeConvertedPack(
  baseUrl: string,
  id: string,
  version: string,
  cache: PackCache,
  write: (sink: PackSink) => Promise<unknown>,
): Promise<string> {
  const written: string[] = [];
  let stored = 0;
  let text: string | null = null;
  const sink: PackSink = {
    async put(file, bytes) {
      if (text !== null) throw new ModelFormatError(`the pack for ${baseUrl} has files after its ${MANIFEST_FILE}`);
      if (file === MANIFEST_FILE) {
        const manifestText = new TextDecoder().decode(bytes);
        const manifest = parseManifestText(manifestText);
        if (manifest.id !== id) throw new ModelFormatError(`the pack for ${baseUrl} is ${manifest.id}, not ${id}`);
        await cache.putManifest(`${baseUrl.replace(/\/+$/, '')}/${MANIFEST_FILE}`, manifestText, version);
        text = manifestText;
        return;
      }
      await cache.ensureRoom(bytes.byteLength);
      const key = cacheKey(id, version, file);
      written.push(key);
      // Counted before it is stored: a full disk's error names what was asked for, this file included.
      stored += bytes.byteLength;
      await cache.put(key, bytes);
    },
  };
  try {
    await undoOnQuota(
      cache,
      id,
      () => stored,
      written,
      async () => {
        await write(sink);
      },
    );
  } catch (e) {
    // undoOnQuota has removed them already on a full disk.
    if (!(e instanceof StorageQuotaError)) await cache.delete(written).catch(() => {});
    throw e;
  }
  if (text === null) throw new ModelFormatError(`the pack for ${baseUrl} has no ${MANIFEST_FILE}`);
  await cache.pruneStale(id);
  return text;
}

/**
 * Fetches a model pack's manifest and the files needed to run its first `layers` layers,
 * verifying every file's SHA-256 and keeping it in the cache. Files already cached (and intact)
 * are not downloaded; with no network, a pack loaded before comes entirely from the cache.
 */
export async function loadPackFiles(baseUrl: string, options: LoadPackOptions = {}): Promise<LoadedPackFiles> {
  const { signal, onProgress } = options;
  const cache = options.cache === undefined ? openPackCache() : options.cache;
  const doFetch: FetchLike = options.fetch ?? ((u, init) => globalThis.fetch(u, init));
  const base = baseUrl.replace(/\/+$/, '');
  const manifestUrl = `${base}/${MANIFEST_FILE}`;

  onProgress?.({ phase: 'manifest', file: MANIFEST_FILE, fileLoaded: 0, fileTotal: 0, loaded: 0, total: 0 });
  const source = await loadManifest(manifestUrl, cache, doFetch, signal);
  const manifest = parseManifestText(source.text);
  const numLayers = hfConfigField(manifest.config, 'num_hidden_layers') as number;
  const layers = options.layers ?? numLayers;
  const least = firstExit(numLayers);
  if (!Number.isInteger(layers) || layers < least || layers > numLayers) {
    throw new InputError(`layers must be an integer in ${least}..${numLayers} for ${manifest.id}, got ${layers}`);
  }

  const needed = [manifest.tokenizer, ...shardsFor(manifest, layers)].filter((f) => !options.have?.has(f.file));
  const total = needed.reduce((n, f) => n + f.bytes, 0);
  let done = 0;
  const emit = (phase: PackLoadPhase, file: string, fileLoaded: number, fileTotal: number) =>
    onProgress?.({ phase, file, fileLoaded, fileTotal, loaded: done + fileLoaded, total });
  const key = (f: FileEntry) => cacheKey(manifest.id, source.hash, f.file);

  const files = new Map<string, Uint8Array>();
  const missing: FileEntry[] = [];
  for (const f of needed) {
    throwIfAborted(signal);
    const bytes = cache ? await fromCache(cache, key(f), f) : undefined;
    if (!bytes) {
      missing.push(f);
      continue;
    }
    files.set(f.file, bytes);
    emit('cache', f.file, f.bytes, f.bytes);
    done += f.bytes;
  }

  const missingBytes = missing.reduce((n, f) => n + f.bytes, 0);
  if (cache && missing.length) await cache.ensureRoom(missingBytes);
  const written: string[] = [];
  const fetchMissing = async () => {
    for (const f of missing) {
      const bytes = await download(`${base}/${f.file}`, f, options, (n) => emit('download', f.file, n, f.bytes));
      if (cache) {
        written.push(key(f));
        await cache.put(key(f), bytes);
      }
      files.set(f.file, bytes);
      done += f.bytes;
    }
    if (cache && source.online) await cache.putManifest(manifestUrl, source.text, source.hash);
  };
  if (cache) await undoOnQuota(cache, manifest.id, () => missingBytes, written, fetchMissing);
  else await fetchMissing();
  if (cache && source.online) await cache.pruneStale(manifest.id);

  onProgress?.({ phase: 'done', fileLoaded: 0, fileTotal: 0, loaded: total, total });
  return { manifest, manifestHash: source.hash, files, fromCache: missing.length === 0 };
}
