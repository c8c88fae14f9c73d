import { InputError, NetworkError } from '../errors.js';
import { type ConvertOptions, convertCheckpoint, convertCheckpointTo } from '../pack/convert.js';
import type { PackManifest } from '../pack/manifest.js';
import type { Pack, PackSink } from '../pack/write.js';
import type { FetchLike } from '../store/fetch.js';
import { peekHfConfig } from '../weights/config.js';
import { QUANTS, type Quant } from '../weights/weights.js';
import { DEFAULT_HUB, type HubOptions, HubRepo, openHubCheckpoint } from './hub.js';
import { type HubModelId, hubIdText } from './hub-id.js';
import { type ModelHandle, openPack, type SourceOptions } from './model-source.js';
import { trainedWidths } from './trained-widths.js';
import { withLock } from './web-lock.js';
import { WeightMeter } from './weight-meter.js';

export interface HubSourceOptions extends SourceOptions {
  hub?: HubOptions;
  /** Storage of the converted weights (default q8). */
  dtype?: Quant;
  /** The Matryoshka widths the model was trained for (default: trainedWidths, else its full width only). */
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
  /**
   * Stores a conversion of pack `id` under both keys as `convert` writes it into the store's sink
   * a file at a time (a conversion that fails half-way leaves nothing that `find` finds). Returns
   * its location, and the older conversion `keys.latest` pointed to until now (another
   * commit's), which `drop` deletes once nothing is reading it.
   */
  save(
    keys: ConversionKeys & { exact: string },
    id: string,
    convert: (sink: PackSink) => Promise<PackManifest>,
  ): Promise<{ location: string; replaced: string | null }>;
  /** Deletes a conversion that `save` replaced. */
  drop(replaced: string): Promise<void>;
  open(location: string, options: SourceOptions): Promise<ModelHandle>;
}

/** A pack id from a repo name: the manifest allows letters, digits, '.', '_' and '-'. */
export const hubPackId = (id: HubModelId) => `${id.repo.replace('/', '--')}${id.ggufTag ? `--${id.ggufTag}` : ''}`;

/**
 * A hub model made ready to open: where its stored conversion is (`converted`: just now, from a
 * download), or the pack itself (no store).
 */
export type HubPack = { location: string; converted: boolean; replaced: string | null } | { pack: Pack };

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
  const where = (rev: string) => `${repo.hubUrl === DEFAULT_HUB ? '' : `${repo.hubUrl} `}${hubIdText({ ...id, revision: rev })}`;
  let offline: NetworkError | null = null;
  try {
    // Checked before any weights are fetched: an architecture m3web does not run fails here
    // (sentence-transformers' static layout has no config.json: openHubCheckpoint reads its module).
    const raw = await repo.json('config.json', false);
    if (raw !== undefined) peekHfConfig(raw, id.repo);
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
    offline = err;
  }
  // The same commit converted another way is another pack; widths not given follow from the
  // commit's files, so a stored conversion opens without reading them (offline too).
  const how = [dtype, ...(options.dims ?? [])].join(',');
  const key = (commit: string | null) => `${where(id.revision)}${commit ? `#${commit}` : ''} (${how})`;
  const commit = offline ? null : repo.commit;
  const stored = store && (await store.find({ exact: commit && key(commit), latest: key(null) }));
  if (stored) return { location: stored, converted: false, replaced: null };
  if (offline) {
    throw new NetworkError(`${offline.message}; ${hubIdText(id)} was never converted and stored on this device`, {
      cause: offline,
    });
  }
  const meter = new WeightMeter(options.onProgress);
  const ckpt = await openHubCheckpoint(repo, meter);
  const dims = options.dims ?? (await hubWidths(repo, ckpt.config));
  const resolved = repo.commit ?? id.revision;
  const convertOptions: ConvertOptions = {
    id: hubPackId(id),
    quant: dtype,
    ...(dims ? { dims } : {}),
    source: where(resolved),
  };
  // Each shard goes to the store as soon as it is written, so the pack is never held whole.
  const ready: HubPack = store
    ? {
        ...(await store.save({ exact: key(resolved), latest: key(null) }, convertOptions.id, (sink) =>
          convertCheckpointTo(ckpt, convertOptions, sink),
        )),
        converted: true,
      }
    : { pack: await convertCheckpoint(ckpt, convertOptions) };
  // After storing: 'done' is when nothing is left to wait for.
  meter.finish();
  return ready;
}

/**
 * The Matryoshka widths a Hub checkpoint was trained for (trainedWidths: its config, its model
 * card, README.md, where sentence-transformers writes its losses' widths, or the known
 * repositories' table); undefined where none are known or its width is not.
 */
export async function hubWidths(repo: HubRepo, config: unknown): Promise<number[] | undefined> {
  const hidden = peekHfConfig(config, repo.id.repo).hiddenSize;
  if (hidden === null) return undefined;
  const card = await repo.bytes('README.md', false);
  return trainedWidths(repo.id.repo, hidden, config, card && new TextDecoder().decode(card));
}

/**
 * The Web Lock over one repository's stored conversions: held shared while one is found and
 * read (by any tab or worker), exclusive to delete one that a newer commit's conversion replaced.
 */
const storeLock = (id: HubModelId, hub: HubOptions | undefined) =>
  `m3web-hub ${(hub?.url ?? DEFAULT_HUB).replace(/\/+$/, '')} ${id.repo}`;

/**
 * Deletes the conversion a newer one replaced, once no one is finding or reading this repo's
 * conversions. Only tidying: if it fails, the old pack just stays on disk until cleared.
 */
export function dropReplaced(id: HubModelId, options: HubSourceOptions, store: HubPackStore, replaced: string): Promise<void> {
  return withLock(storeLock(id, options.hub), 'exclusive', () => store.drop(replaced)).catch(() => {});
}

/** Opens a model by its hub id (see resolveHubPack). */
export async function openHubModel(id: HubModelId, options: HubSourceOptions, store: HubPackStore | null): Promise<ModelHandle> {
  if (!store) return openConverted(id, options, await resolveHubPack(id, options, null));
  const lock = storeLock(id, options.hub);
  const opened = await withLock(lock, 'shared', async () => {
    const ready = await resolveHubPack(id, options, store);
    return { ready, handle: await openConverted(id, options, ready, store) };
  });
  // Not awaited: it waits for other tabs still reading the old conversion.
  if ('location' in opened.ready && opened.ready.replaced) void dropReplaced(id, options, store, opened.ready.replaced);
  const { handle } = opened;
  // Deeper layers are read from the store later: under the lock too, so they are not dropped mid-read.
  return {
    info: handle.info,
    model: handle.model,
    get fromCache() {
      return handle.fromCache;
    },
    fetchLayers: (l) => withLock(lock, 'shared', () => handle.fetchLayers(l)),
    ensureLayers: (l) => withLock(lock, 'shared', () => handle.ensureLayers(l)),
  };
}

/** A resolved hub model as a handle: read from the store (a location) or from memory (no store). */
async function openConverted(
  id: HubModelId,
  options: HubSourceOptions,
  ready: HubPack,
  store: HubPackStore | null = null,
): Promise<ModelHandle> {
  if ('pack' in ready) {
    const { pack } = ready;
    return openPack(
      hubIdText(id),
      async () => ({ manifest: pack.manifest, files: pack.files, fromCache: false }),
      options.layers,
    );
  }
  // Just converted, the store is read back at once: its cache progress would restart the bar.
  const { onProgress: _quiet, ...quiet } = options;
  const handle = await (store as HubPackStore).open(ready.location, ready.converted ? quiet : options);
  if (!ready.converted) return handle;
  // Read back from the store, but it came over the network this time.
  return {
    info: handle.info,
    model: handle.model,
    fromCache: false,
    fetchLayers: (l) => handle.fetchLayers(l),
    ensureLayers: (l) => handle.ensureLayers(l),
  };
}
