import type { LoadedModel } from '../checkpoint/load.js';
import { InputError } from '../errors.js';
import type { PackManifest } from '../pack/manifest.js';
import { modelFromPack } from '../pack/model.js';
import { extendPackWeights } from '../pack/read.js';
import { type LoadPackOptions, loadPackFiles } from '../store/pack-loader.js';
import { rerankerInfo } from '../tokenizer/rerank-input.js';
import type { LoadProgress, ModelInfo } from '../types.js';
import { firstExit } from '../weights/config.js';
import { hfConfigField } from '../weights/config-fields.js';
import type { EncoderConfig } from '../weights/encoder-config.js';

/** A model whose layers can be loaded a few at a time: the first L for a shallow plan, more later. */
export interface ModelHandle {
  readonly info: ModelInfo;
  readonly model: LoadedModel;
  /** True when nothing came over the network. */
  readonly fromCache: boolean;
  /**
   * Fetches (and caches) the files of the first `layers` layers without adding them to the model,
   * so a download can run while calls go on; concurrent fetches share their downloads.
   */
  fetchLayers(layers: number): Promise<void>;
  /** Loads layers up to `layers` if they are not loaded yet (fetching what is missing); true when it added any. */
  ensureLayers(layers: number): Promise<boolean>;
}

export interface SourceOptions {
  layers?: number;
  cache?: boolean;
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
}

/** The shards' SHA-256 digests (their first 16 bytes) XOR-ed: any changed weight file changes it. */
function weightsFingerprint(manifest: PackManifest): string {
  const folded = new Uint8Array(16);
  for (const { sha256 } of manifest.shards) {
    for (let i = 0; i < 16; i++) folded[i] = (folded[i] as number) ^ Number.parseInt(sha256.slice(2 * i, 2 * i + 2), 16);
  }
  return Array.from(folded, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** What a model's info says of its sparse output: BGE-M3's beside its vectors, or a SPLADE encoder's instead of them. */
export function sparseInfo(config: Pick<EncoderConfig, 'sparse' | 'splade'>): {
  sparse?: true;
  sparseOnly?: true;
  staticQuery?: true;
} {
  if (config.splade) return { sparse: true, sparseOnly: true, ...(config.splade.staticQuery ? { staticQuery: true } : {}) };
  return config.sparse ? { sparse: true } : {};
}

export function infoFromManifest(manifest: PackManifest, source: string, model: LoadedModel): ModelInfo {
  return {
    id: manifest.id,
    source,
    layers: model.config.numLayers,
    hiddenSize: model.config.hiddenSize,
    exits: manifest.exits,
    dims: manifest.dims,
    pooling: manifest.pooling,
    maxTokens: model.config.maxTokens,
    quantization: manifest.quantization.linear,
    prefixes: manifest.prefixes ?? {},
    ...(model.config.lora ? { tasks: [...model.config.lora.tasks] } : {}),
    ...rerankerInfo(model.config),
    ...sparseInfo(model.config),
    quality: manifest.quality ?? null,
    fingerprint: weightsFingerprint(manifest),
    ...(manifest.search ? { search: manifest.search } : {}),
  };
}

/** Files of a pack, fetched (and cached) or read from disk, keyed by file name. */
export type PackFileLoader = (
  layers: number | undefined,
  have: ReadonlySet<string>,
) => Promise<{ manifest: PackManifest; files: Map<string, Uint8Array>; fromCache: boolean }>;

/** A pack whose files come from `load`: over HTTP with the IndexedDB cache, or from a Node folder. */
export async function openPack(source: string, load: PackFileLoader, layers: number | undefined): Promise<ModelHandle> {
  const first = await load(layers, new Set());
  const { manifest } = first;
  const files = first.files;
  const total = Number(hfConfigField(manifest.config, 'num_hidden_layers'));
  // A progressive start asks for one layer of a model it knows nothing of yet: what a pack has is the most it gets.
  const initial = Math.min(layers ?? total, total);
  const least = firstExit(total);
  if (!Number.isInteger(initial) || initial < least)
    throw new InputError(`layers must be an integer in ${least}..${total}, got ${layers}`);
  const model = modelFromPack(manifest, files, initial);
  const info = infoFromManifest(manifest, source, model);
  let fromCache = first.fromCache;
  let fetched = initial;
  let fetching: Promise<void> = Promise.resolve();
  const fetchLayers = (wanted: number): Promise<void> => {
    // One load at a time, each after the one before it: a call's deeper layers and a background
    // download never fetch the same shard twice.
    const run = fetching.then(async () => {
      if (wanted <= fetched) return;
      const more = await load(wanted, new Set(files.keys()));
      fromCache &&= more.fromCache;
      for (const [name, bytes] of more.files) files.set(name, bytes);
      fetched = wanted;
    });
    fetching = run.catch(() => undefined);
    return run;
  };
  return {
    info,
    model,
    get fromCache() {
      return fromCache;
    },
    fetchLayers,
    async ensureLayers(wanted: number) {
      if (wanted <= model.weights.layers.length) return false;
      await fetchLayers(wanted);
      extendPackWeights(manifest, model.weights, files, wanted);
      return true;
    },
  };
}

/**
 * A pack served over HTTP(S) (or relative to the page), cached in IndexedDB where it exists.
 * `via` replaces how files are fetched and cached (a store that serves from the cache only).
 */
export function openPackUrl(
  url: string,
  options: SourceOptions,
  via: Pick<LoadPackOptions, 'fetch' | 'cache'> = {},
): Promise<ModelHandle> {
  const base = url.replace(/\/manifest\.json$/, '').replace(/\/+$/, '');
  return openPack(
    base,
    (layers, have) =>
      loadPackFiles(base, {
        ...(layers === undefined ? {} : { layers }),
        have,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.cache === false ? { cache: null } : {}),
        ...via,
      }),
    options.layers,
  );
}
