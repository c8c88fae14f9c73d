import { MANIFEST_FILE } from '../pack/manifest.js';
import type { Pack } from '../pack/write.js';
import { openPackCache, type PackCache } from '../store/cache.js';
import type { FetchLike } from '../store/fetch.js';
import { loadPackFiles } from '../store/pack-loader.js';
import { type ConversionKeys, type HubPackStore, manifestText, memoryFetch } from './hub-model.js';
import { openPackUrl, type SourceOptions } from './model-source.js';

/** A fetch that is always offline: the pack loader then takes what the cache holds. */
const cacheOnly: FetchLike = () => Promise.reject(new TypeError('served from the IndexedDB cache only'));

/**
 * Converted hub models in the pack cache (IndexedDB), each stored like a downloaded pack whose
 * "URL" is its conversion key; the revision's key points to the last one stored.
 */
export function idbHubStore(cache: PackCache | null = openPackCache()): HubPackStore | null {
  if (!cache) return null;
  return {
    async find(keys: ConversionKeys) {
      const base = keys.exact ?? keys.latest;
      return (await cache.getManifest(`${base}/${MANIFEST_FILE}`)) ? base : null;
    },
    async save(keys, pack: Pack) {
      const { manifestHash } = await loadPackFiles(keys.exact, { fetch: memoryFetch(keys.exact, pack), cache });
      await cache.putManifest(`${keys.latest}/${MANIFEST_FILE}`, manifestText(pack), manifestHash);
      return keys.exact;
    },
    open: (base: string, options: SourceOptions) => openPackUrl(base, options, { fetch: cacheOnly, cache }),
  };
}
