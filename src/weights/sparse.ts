import { ModelFormatError } from '../errors.js';
import type { SparseSpec } from './encoder-config.js';

/** Where a converted model's lexical-weights head settings live in its pack's config.json. */
export const SPARSE_KEY = 'm3web_sparse';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The spec as config.json records it (snake_case, as the other fields there). */
export function sparseJson(spec: SparseSpec): Record<string, unknown> {
  return { exclude: [...spec.exclude] };
}

/**
 * config.json's `m3web_sparse`, checked (null where there is none): what a converter wrote from
 * the checkpoint's sparse_linear.pt (src/checkpoint/sparse.ts).
 */
export function sparseSpec(cfg: Record<string, unknown>, vocabSize: number): SparseSpec | null {
  const raw = cfg[SPARSE_KEY];
  if (raw === undefined) return null;
  const exclude = isObject(raw) ? raw.exclude : undefined;
  if (!Array.isArray(exclude) || exclude.some((t) => typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= vocabSize)) {
    throw new ModelFormatError(`config.json: ${SPARSE_KEY}.exclude must be a list of token ids below ${vocabSize}`);
  }
  return { exclude: exclude as number[] };
}
