import type { EncoderConfig, LoraSpec } from '../weights/config.js';
import { embeddingWidth } from '../weights/shapes.js';
import type { EmbeddingAdapters, EncoderWeights } from '../weights/weights.js';

/**
 * The vocabulary rows of `ids` into `rows` [ids.length, width] (embeddingWidth), with task `task`'s update where one
 * runs, and for tokens of `types` other than 0 (a cross-encoder's second segment) the difference
 * of their token-type row from row 0, which every forward adds to all tokens.
 */
export function gatherWords(
  weights: EncoderWeights,
  ids: ArrayLike<number>,
  rows: Float32Array,
  task?: number,
  types?: Uint32Array | null,
): void {
  weights.word.gather(ids, rows);
  if (weights.family !== 'bert') return;
  const { adapters, tokenType, config } = weights;
  if (task !== undefined && adapters && config.lora) addEmbeddingAdapter(adapters, ids, rows, task, config);
  if (!types || !tokenType) return;
  const H = embeddingWidth(config);
  for (let i = 0; i < ids.length; i++) {
    const t = types[i] as number;
    if (t === 0) continue;
    for (let c = 0; c < H; c++)
      rows[i * H + c] = (rows[i * H + c] as number) + (tokenType[t * H + c] as number) - (tokenType[c] as number);
  }
}

/** Adds task `task`'s update (word and token-type rows) to word rows gathered for `ids` into `rows` [ids.length, H]. */
function addEmbeddingAdapter(
  adapters: EmbeddingAdapters,
  ids: ArrayLike<number>,
  rows: Float32Array,
  task: number,
  { hiddenSize: H, vocabSize: vocab, lora }: EncoderConfig,
): void {
  const rank = (lora as LoraSpec).rank;
  const up = adapters.up.subarray(task * rank * H, (task + 1) * rank * H);
  const typeRow = adapters.tokenType.subarray(task * H, (task + 1) * H);
  for (let i = 0; i < ids.length; i++) {
    const a = (task * vocab + (ids[i] as number)) * rank;
    for (let c = 0; c < H; c++) {
      let s = typeRow[c] as number;
      for (let k = 0; k < rank; k++) s += (adapters.down[a + k] as number) * (up[k * H + c] as number);
      rows[i * H + c] = (rows[i * H + c] as number) + s;
    }
  }
}
