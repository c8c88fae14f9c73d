import type { EncoderConfig } from '../weights/config.js';

/** A right-padded block of texts of similar length: what one forward pass over the GPU consumes. */
export interface TokenBatch {
  /** Position of each row in the caller's list of texts. */
  indices: number[];
  size: number;
  seqLen: number;
  /** [size, seqLen] token ids, pads filled with the pad id. */
  ids: Uint32Array;
  /** [size, seqLen] position-table rows (RoBERTa-style offset, pads at padding_idx). */
  positions: Uint32Array;
  /** Real (unpadded) length of each row; the attention and pooling masks derive from it. */
  lengths: Uint32Array;
  /**
   * Tokens of each row whose states are wanted, where more than `lengths`: a late-interaction
   * query's expansion tokens, past its attended length, attend to its tokens but no token attends
   * to them. Absent where every row's is its length. (The GPU and the TypeScript attention compute
   * every row anyway; the WebAssembly kernel skips rows past this.)
   */
  computed?: Uint32Array;
  /** [size, seqLen] token types (a cross-encoder's second segment: 1), or null where all are 0. */
  types: Uint32Array | null;
}

/** Default token budget of one batch: keeps the FFN activation (tokens x intermediate) well under binding limits. */
export const DEFAULT_BATCH_TOKENS = 4096;

/** Tokens the GPU encodes per submission; bigger calls are split so input and output buffers stay bounded. */
export const SUBMISSION_TOKENS = 32768;

/**
 * Sorts texts by length and cuts them into batches whose padded size stays within `maxBatchTokens`,
 * so a long text never forces every short one to be padded to its length.
 */
export function bucketize(
  tokens: readonly ArrayLike<number>[],
  config: Pick<EncoderConfig, 'padTokenId' | 'positionOffset'>,
  maxBatchTokens = DEFAULT_BATCH_TOKENS,
  secondSegment?: readonly number[],
  attended?: readonly number[],
): TokenBatch[] {
  const order = tokens
    .map((_, i) => i)
    .sort((a, b) => (tokens[b] as ArrayLike<number>).length - (tokens[a] as ArrayLike<number>).length);
  const groups: number[][] = [];
  let current: number[] = [];
  let seqLen = 0;
  for (const i of order) {
    const len = (tokens[i] as ArrayLike<number>).length;
    if (current.length > 0 && (current.length + 1) * seqLen > maxBatchTokens) {
      groups.push(current);
      current = [];
    }
    if (current.length === 0) seqLen = len;
    current.push(i);
  }
  if (current.length > 0) groups.push(current);
  return groups.map((indices) => makeBatch(tokens, indices, config, secondSegment, attended));
}

/**
 * `secondSegment`: per text, where its token type 1 starts (ForwardOptions.secondSegment);
 * `attended`: per text, how many of its first tokens are attended (all where absent; see TokenBatch.computed).
 */
function makeBatch(
  tokens: readonly ArrayLike<number>[],
  indices: number[],
  { padTokenId, positionOffset }: Pick<EncoderConfig, 'padTokenId' | 'positionOffset'>,
  secondSegment?: readonly number[],
  attended?: readonly number[],
): TokenBatch {
  const size = indices.length;
  const seqLen = Math.max(1, ...indices.map((i) => (tokens[i] as ArrayLike<number>).length));
  const ids = new Uint32Array(size * seqLen).fill(padTokenId);
  const positions = new Uint32Array(size * seqLen);
  const lengths = new Uint32Array(size);
  const types = secondSegment ? new Uint32Array(size * seqLen) : null;
  const computed = attended ? new Uint32Array(size) : null;
  indices.forEach((textIndex, row) => {
    const t = tokens[textIndex] as ArrayLike<number>;
    lengths[row] = attended?.[textIndex] ?? t.length;
    if (computed) computed[row] = t.length;
    const second = secondSegment?.[textIndex] ?? t.length;
    for (let j = 0; j < seqLen; j++) {
      if (j < t.length) ids[row * seqLen + j] = t[j] as number;
      if (types && j >= second && j < t.length) types[row * seqLen + j] = 1;
      // RoBERTa reserves position row `padding_idx` for pads; BERT (offset 0) just counts.
      positions[row * seqLen + j] = positionOffset > 0 && j >= t.length ? padTokenId : positionOffset + j;
    }
  });
  return { indices, size, seqLen, ids, positions, lengths, types, ...(computed ? { computed } : {}) };
}

/**
 * The rows `keep` (ascending row numbers) of `batch`, in that order, at the same seqLen: what
 * goes on to the next layer when the other rows' texts have left (adaptive depth).
 */
export function selectRows(batch: TokenBatch, keep: readonly number[]): TokenBatch {
  const { seqLen } = batch;
  const ids = new Uint32Array(keep.length * seqLen);
  const positions = new Uint32Array(keep.length * seqLen);
  const types = batch.types && new Uint32Array(keep.length * seqLen);
  keep.forEach((row, j) => {
    ids.set(batch.ids.subarray(row * seqLen, (row + 1) * seqLen), j * seqLen);
    positions.set(batch.positions.subarray(row * seqLen, (row + 1) * seqLen), j * seqLen);
    types?.set((batch.types as Uint32Array).subarray(row * seqLen, (row + 1) * seqLen), j * seqLen);
  });
  return {
    indices: keep.map((row) => batch.indices[row] as number),
    size: keep.length,
    seqLen,
    ids,
    positions,
    lengths: Uint32Array.from(keep, (row) => batch.lengths[row] as number),
    types,
    ...(batch.computed ? { computed: Uint32Array.from(keep, (row) => batch.computed?.[row] as number) } : {}),
  };
}
