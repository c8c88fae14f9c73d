export { openIndex } from './search-index.js';
export type {
  IndexDoc,
  IndexEncoder,
  IndexOptions,
  IndexSignature,
  JsonValue,
  Meta,
  MetaFilter,
  SearchHit,
  SearchOptions,
  VectorIndex,
  VectorType,
} from './types.js';
