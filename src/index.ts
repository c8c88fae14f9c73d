/**
 * m3web's public API: an encoder (createEncoder), a search index over it (createIndex), a site's
 * pages as its documents (sectionsFromHtml, sectionsFromMarkdown), word translations for
 * searching across languages (fetchLexicons), ColBERT's
 * MaxSim over a late-interaction model's token vectors (maxSim), the lexical matching score of two sparse vectors (sparseScore), the offline model cache, the browser-side converter for a dropped Hugging Face folder, and typed
 * errors. Engine internals (backends, kernels, pack readers) are in `m3web/internals`, with no
 * promise of stability.
 */

export type { Budget, Plan } from './budget/plan.js';
export { createEncoder, createIndex, type Encoder } from './client/client.js';
export * from './errors.js';
export { maxSim } from './model/late-interaction.js';
export { sparseScore } from './model/sparse.js';
export { type ConvertOptions, checkpointFromFiles, convertCheckpoint, type HfCheckpoint } from './pack/convert.js';
export type { Pack } from './pack/write.js';
export { fetchLexicons, type LexiconData } from './search/lexicon.js';
export { sectionsFromHtml } from './search/pages/html-sections.js';
export { sectionsFromMarkdown } from './search/pages/markdown-sections.js';
export { type SectionOptions, TITLE_SEPARATOR } from './search/pages/sections.js';
export type * from './search/types.js';
export { type CachedModel, clearCache, deleteCachedModel, listCachedModels, persistStorage } from './store/cache.js';
export type * from './types.js';
