export {
  type CachedManifest,
  type CachedModel,
  clearCache,
  deleteCachedModel,
  listCachedModels,
  openPackCache,
  type PackCache,
  persistStorage,
} from './cache.js';
export type { FetchLike } from './fetch.js';
export {
  type LoadedPackFiles,
  type LoadPackOptions,
  loadPackFiles,
  type PackLoadPhase,
  type PackLoadProgress,
} from './pack-loader.js';
