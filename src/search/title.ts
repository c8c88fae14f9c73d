import { chunkText, estimateTokens } from './chunk.js';

/**
 * Share of a chunk budget a title may take in front of each chunk: a long title is cut to it
 * for embedding (its words all still count for BM25), so a chunk keeps most of the input.
 */
const TITLE_SHARE = 0.25;

/** The title as it is embedded before each chunk of its document under a chunk budget of `budget` tokens ('' without one). */
export function embeddedTitle(title: string | undefined, budget: number): string {
  if (!title) return '';
  const most = Math.max(1, Math.floor(budget * TITLE_SHARE));
  return estimateTokens(title) <= most ? title : (chunkText(title, most)[0] as string);
}

/** Tokens left for a chunk's own text behind `title` (embeddedTitle's), of a budget of `budget`. */
export const budgetAfterTitle = (title: string, budget: number): number =>
  title ? Math.max(1, budget - estimateTokens(title)) : budget;

/**
 * What the encoder reads for a chunk: the embedded title on its own line, then the chunk (title
 * first, as retrieval benchmarks such as BEIR feed a titled passage); the chunk alone without one.
 */
export const titledChunk = (title: string, chunk: string): string => (title ? `${title}\n${chunk}` : chunk);
