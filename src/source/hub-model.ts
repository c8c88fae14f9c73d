import { InputError, M3WebError, NetworkError } from '../errors.js';
import { convertCheckpoint } from '../pack/convert.js';
import { MANIFEST_FILE } from '../pack/manifest.js';
import type { Pack } from '../pack/write.js';
import type { FetchLike } from '../store/fetch.js';
import { parseHfConfig } from '../weights/config.js';
import { QUANTS, type Quant } from '../weights/weights.js';
import { DEFAULT_HUB, type HubModelId, type HubOptions, HubRepo, hubIdText, openHubCheckpoint } from './hub.js';
import { type ModelHandle, openPack, type SourceOptions } from './model-source.js';

export interface HubSourceOptions extends SourceOptions {
  hub?: HubOptions;
  /** Storage of the converted weights (default q8). */
  dtype?: Quant;
  /** The Matryoshka widths the model was trained for (default: its full width only). */
  dims?: number[];
  fetch?: FetchLike;
}

/**
 * Names one conversion: `exact` (the commit it was made from) and `latest` (its revision, which
 * points to the last conversion stored for it: what opens with no network).
 */
export interface ConversionKeys {
  exact: string | null;
  latest: string;
}

/**
 * Where converted hub models are kept: IndexedDB in a browser, a folder in Node. A stored
 * conversion is named by a location (a cache key, a folder path) that `open` takes.
 */
export interface HubPackStore {
  /** Where the conversion under `keys.exact` (or, when null, `keys.latest`) is stored, or null. */
  find(keys: ConversionKeys): Promise<string | null>;
  /** Stores a conversion under both keys; returns its location. */
  save(keys: ConversionKeys & { exact: string }, pack: Pack): Promise<string>;
  open(location: string, options: SourceOptions): Promise<ModelHandle>;
}

/** A pack id from a repo name: the manifest allows letters, digits, '.', '_' and '-'. */
export const hubPackId = (id: HubModelId) => id.repo.replace('/', '--');

/** Serves a pack held in memory as if over HTTP, so it is stored by the same loader as a download. */
export function memoryFetch(base: string, pack: Pack): FetchLike {
  return async (url) => {
    const bytes = url.startsWith(`${base}/`) ? pack.files.get(url.slice(base.length + 1)) : undefined;
    return bytes ? new Response(bytes.slice()) : new Response(null, { status: 404 });
  };
}

/**
 * A hub model made ready to open: where its stored conversion is (`converted`: just now, from a
 * download), or the pack itself (no store).
 */
export type HubPack = { location: string; converted: boolean } | { pack: Pack };

/**
 * Makes a hub model ready to open: the stored conversion when the revision still resolves to
 * the commit it was made from (or, with no network, the last one stored), else downloads the
 * checkpoint tensor by tensor, converts it and stores the pack.
 */
export async function resolveHubPack(id: HubModelId, options: HubSourceOptions, store: HubPackStore | null): Promise<HubPack> {
  const dtype = options.dtype ?? 'q8';
  if (!QUANTS.includes(dtype)) throw new InputError(`dtype must be one of ${QUANTS.join(', ')}, got ${JSON.stringify(dtype)}`);
  const repo = new HubRepo(id, options.hub, options.fetch);
  // Where a revision or commit of this repo lives: the hub is named unless it is the default one.
  const where = (rev: string) => `${repo.hubUrl === DEFAULT_HUB ? '' : `${repo.hubUrl} `}hf:${id.repo}@${rev}`;
  // The same commit converted another way is another pack.
  const how = [dtype, ...(options.dims ?? [])].join(',');
  const key = (commit: string | null) => `${where(id.revision)}${commit ? `#${commit}` : ''} (${how})`;
  let offline: NetworkError | null = null;
  try {
    // Checked before any weights are fetched: an architecture m3web does not run fails here.
    parseHfConfig(await repo.json('config.json', true));
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
    offline = err;
  }
  const commit = offline ? null : repo.commit;
  const stored = store && (await store.find({ exact: commit && key(commit), latest: key(null) }));
  if (stored) return { location: stored, converted: false };
  if (offline) {
    throw new NetworkError(`${offline.message}; ${hubIdText(id)} was never converted and stored on this device`, {
      cause: offline,
    });
  }
  const ckpt = await openHubCheckpoint(repo, (file, loaded, all) => {
    options.onProgress?.({ phase: 'download', file, fileLoaded: loaded, fileTotal: all, loaded, total: all });
  });
  const resolved = repo.commit ?? id.revision;
  const pack = await convertCheckpoint(ckpt, {
    id: hubPackId(id),
    quant: dtype,
    ...(options.dims ? { dims: options.dims } : {}),
    source: where(resolved),
  });
  if (!store) return { pack };
  return { location: await store.save({ exact: key(resolved), latest: key(null) }, pack), converted: true };
}

/** Opens a model by its hub id (see resolveHubPack). */
export async function openHubModel(id: HubModelId, options: HubSourceOptions, store: HubPackStore | null): Promise<ModelHandle> {
  const ready = await resolveHubPack(id, options, store);
  if ('location' in ready) {
    const handle = await (store as HubPackStore).open(ready.location, options);
    if (!ready.converted) return handle;
    // Read back from the store, but it came over the network this time.
    return { info: handle.info, model: handle.model, fromCache: false, ensureLayers: (l) => handle.ensureLayers(l) };
  }
  const { pack } = ready;
  return openPack(hubIdText(id), async () => ({ manifest: pack.manifest, files: pack.files, fromCache: false }), options.layers);
}

/** A pack's manifest.json text, for stores that keep it apart from the shards. */
export function manifestText(pack: Pack): string {
  const bytes = pack.files.get(MANIFEST_FILE);
  if (!bytes) throw new M3WebError('MODEL_FORMAT', 'the converted pack has no manifest.json');
  return new TextDecoder().decode(bytes);
}
