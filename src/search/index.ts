export { openIndex } from './search-index.js';
export type {
  IndexDoc,
  IndexEncoder,
  IndexOptions,
  IndexSignature,
  JsonValue,
  Meta,
  MetaFilter,
  Ranker,
  SearchHit,
  SearchMode,
  SearchOptions,
  SyncReport,
  VectorIndex,
  VectorType,
} from './types.js';
