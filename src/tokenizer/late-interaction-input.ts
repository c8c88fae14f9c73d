import type { LateInteractionSpec } from '../weights/encoder-config.js';
import type { TextTokenizer } from './tokenizer.js';

/** A text as a late-interaction model reads it. */
export interface LateInput {
  ids: number[];
  /** How many of the first ids are attended: the rest are a query's expansion tokens. */
  attended: number;
  /** How many of the first ids the text made (specials and marker included): those before any expansion. */
  tokens: number;
  truncated: boolean;
}

/**
 * `text` with its specials, cut so that the marker still fits in `length`, and the marker put after
 * the first token, as both ColBERT implementations do (tokenize to length - 1, insert at 1).
 */
function withMarker(tokenizer: TextTokenizer, text: string, length: number, marker: number | null): LateInput {
  const { ids, truncated } = tokenizer.encode(text, marker === null ? length : length - 1);
  if (marker !== null) ids.splice(1, 0, marker);
  return { ids, attended: ids.length, tokens: ids.length, truncated };
}

/**
 * A query: cut at spec.queryLength tokens, and, where the model expands queries, padded to that
 * length with its mask token, whose states are kept although (unless attendExpansion) no token
 * attends to them.
 */
export function encodeLateQuery(tokenizer: TextTokenizer, spec: LateInteractionSpec, text: string): LateInput {
  const q = withMarker(tokenizer, text, spec.queryLength, spec.queryMarker);
  if (spec.expansionToken === null) return q;
  const ids = [...q.ids, ...new Array<number>(spec.queryLength - q.ids.length).fill(spec.expansionToken)];
  return { ...q, ids, attended: spec.attendExpansion ? ids.length : q.attended };
}

/** A document: cut at spec.documentLength tokens. */
export function encodeLateDocument(tokenizer: TextTokenizer, spec: LateInteractionSpec, text: string): LateInput {
  return withMarker(tokenizer, text, spec.documentLength, spec.documentMarker);
}
