import { MANIFEST_FILE } from '../pack/manifest.js';
import { sha256Hex } from '../pack/sha256.js';
import { openPackCache, type PackCache } from '../store/cache.js';
import type { FetchLike } from '../store/fetch.js';
import { storeConvertedPack } from '../store/pack-loader.js';
import type { ConversionKeys, HubPackStore } from './hub-model.js';
import { openPackUrl, type SourceOptions } from './model-source.js';

/** A fetch that is always offline: the pack loader then takes what the cache holds. */
const cacheOnly: FetchLike = () => Promise.reject(new TypeError('served from the IndexedDB cache only'));

/**
 * Converted hub models in the pack cache (IndexedDB), each stored like a downloaded pack whose
 * "URL" is its conversion key; the revision's key points to the last one stored. A conversion of
 * a newer commit replaces the older one (see HubPackStore.drop).
 */
export function idbHubStore(cache: PackCache | null = openPackCache()): HubPackStore | null {
  if (!cache) return null;
  return {
    async find(keys: ConversionKeys) {
      const base = keys.exact ?? keys.latest;
      return (await cache.getManifest(`${base}/${MANIFEST_FILE}`)) ? base : null;
    },
    async save(keys, id, convert) {
      const latest = `${keys.latest}/${MANIFEST_FILE}`;
      const before = await cache.getManifest(latest);
      // The version is named before the manifest exists, by the conversion's key: one commit
      // converted one way always gives the same pack.
      const version = (await sha256Hex(new TextEncoder().encode(keys.exact))).slice(0, 16);
      const text = await storeConvertedPack(keys.exact, id, version, cache, convert);
      await cache.putManifest(latest, text, version);
      // Packs are stored by id and version: the one `latest` named before, if another.
      const replaced = before && before.hash !== version ? `${id}@${before.hash}` : null;
      return { location: keys.exact, replaced };
    },
    // Every stored manifest of that version goes too (the older commit's key), then its files.
    async drop(replaced: string) {
      const at = replaced.lastIndexOf('@');
      await cache.deleteModel(replaced.slice(0, at), replaced.slice(at + 1));
    },
    open: (base: string, options: SourceOptions) => openPackUrl(base, options, { fetch: cacheOnly, cache }),
  };
}
