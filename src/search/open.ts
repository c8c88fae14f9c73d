import type { GpuSession } from '../gpu/session.js';
import { openIndex as openMemoryOrStored } from './search-index.js';
import { openStaticIndex } from './static/static-index.js';
import type { IndexHost, IndexOptions, StaticIndex, StaticIndexOptions, VectorIndex } from './types.js';

/**
 * Opens an index: a static folder's when `options.url` is given (read-only, see
 * StaticIndexOptions), else a memory or IndexedDB one (see search-index.ts's openIndex; a
 * static index is fixed at its exit, so it has no use for `host`).
 */
export function openIndex(options: StaticIndexOptions, gpu?: GpuSession, host?: IndexHost): Promise<StaticIndex>;
export function openIndex(options: IndexOptions, gpu?: GpuSession, host?: IndexHost): Promise<VectorIndex>;
export function openIndex(options: IndexOptions | StaticIndexOptions, gpu?: GpuSession, host?: IndexHost): Promise<VectorIndex>;
export async function openIndex(
  options: IndexOptions | StaticIndexOptions,
  gpu?: GpuSession,
  host?: IndexHost,
): Promise<VectorIndex> {
  if (typeof options === 'object' && options !== null && options.url !== undefined) return openStaticIndex(options);
  return openMemoryOrStored(options as IndexOptions, gpu, host);
}
