import { ModelFormatError } from '../errors.js';
import type { LateInteractionSpec } from './encoder-config.js';

/** Where a converted late-interaction model's settings live in its pack's config.json. */
export const LATE_INTERACTION_KEY = 'm3web_late_interaction';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The spec as config.json records it (snake_case, as the other fields there). */
export function lateInteractionJson(spec: LateInteractionSpec): Record<string, unknown> {
  return {
    dim: spec.dim,
    query_length: spec.queryLength,
    document_length: spec.documentLength,
    query_marker: spec.queryMarker,
    document_marker: spec.documentMarker,
    expansion_token: spec.expansionToken,
    attend_expansion: spec.attendExpansion,
    skiplist: [...spec.skiplist],
    projection: [...spec.projection],
    ...(spec.firstToken === false ? { first_token: false } : {}),
    ...(spec.score === 'mean' ? { score: 'mean' } : {}),
    ...(spec.pooled ? { pooled: true } : {}),
  };
}

/**
 * config.json's `m3web_late_interaction`, checked (null where there is none): what a converter
 * wrote from the checkpoint's ColBERT files (src/checkpoint/late-interaction.ts).
 */
export function lateInteractionSpec(cfg: Record<string, unknown>, vocabSize: number): LateInteractionSpec | null {
  const raw = cfg[LATE_INTERACTION_KEY];
  if (raw === undefined) return null;
  const fail = (why: string): never => {
    throw new ModelFormatError(`config.json: ${LATE_INTERACTION_KEY}${why}`);
  };
  if (!isObject(raw)) return fail(' must be an object');
  const int = (key: string, min: number) => {
    const v = raw[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) return fail(`.${key} must be an integer >= ${min}`);
    return v;
  };
  const token = (key: string) => {
    const v = raw[key];
    if (v === null) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= vocabSize)
      return fail(`.${key} must be a token id below ${vocabSize} or null`);
    return v;
  };
  const skiplist = raw.skiplist;
  if (!Array.isArray(skiplist) || skiplist.some((t) => typeof t !== 'number' || !Number.isInteger(t) || t < 0))
    return fail('.skiplist must be a list of token ids');
  const projection = raw.projection;
  if (!Array.isArray(projection) || projection.length === 0 || projection.some((a) => a !== 'identity' && a !== 'tanh'))
    return fail('.projection must list the activations (identity or tanh) of one or more modules');
  if (typeof raw.attend_expansion !== 'boolean') return fail('.attend_expansion must be a boolean');
  if (raw.first_token !== undefined && raw.first_token !== false) return fail('.first_token must be false or absent');
  if (raw.score !== undefined && raw.score !== 'mean') return fail('.score must be "mean" or absent');
  if (raw.pooled !== undefined && raw.pooled !== true) return fail('.pooled must be true or absent');
  const queryMarker = token('query_marker');
  const documentMarker = token('document_marker');
  // The smallest query: [CLS], its marker, one token, [SEP].
  const least = queryMarker === null ? 3 : 4;
  return {
    dim: int('dim', 1),
    queryLength: int('query_length', least),
    documentLength: int('document_length', least),
    queryMarker,
    documentMarker,
    expansionToken: token('expansion_token'),
    attendExpansion: raw.attend_expansion,
    skiplist: skiplist as number[],
    projection: projection as LateInteractionSpec['projection'],
    ...(raw.first_token === false ? { firstToken: false as const } : {}),
    ...(raw.score === 'mean' ? { score: 'mean' as const } : {}),
    ...(raw.pooled === true ? { pooled: true as const } : {}),
  };
}
