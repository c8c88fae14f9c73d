import { isJinaV5, JINA_V5_REPO, JINA_V5_WIDTHS } from '../weights/jina-v5.js';
import { cardWidths } from './model-card.js';

/**
 * The Matryoshka widths published embedders were trained for, by Hub repository (lower case), as
 * their model cards state them (read from memory of the cards, nomic-embed-text-v2-moe's from public
 * copies of its card: no hub is reachable where this was written). A Hub model opens with its entry here, cut to its hidden size, unless `dims` says
 * otherwise, so the budget planner can trade width for speed on it as on a pack; any other
 * repository opens at the widths its config or model card declares, else its full width only.
 */
const TRAINED_WIDTHS: Readonly<Record<string, readonly number[]>> = {
  'nomic-ai/nomic-embed-text-v1.5': [64, 128, 256, 512, 768],
  'nomic-ai/nomic-embed-text-v2-moe': [256, 768],
  'snowflake/snowflake-arctic-embed-m-v2.0': [256, 768],
  'snowflake/snowflake-arctic-embed-l-v2.0': [256, 1024],
  'google/embeddinggemma-300m': [128, 256, 512, 768],
  'qwen/qwen3-embedding-0.6b': [32, 64, 128, 256, 512, 768, 1024],
};

/**
 * The widths a model says it was trained for, up to `hiddenSize` (which is added): those its
 * config.json declares (`matryoshka_dimensions`, as jina-embeddings-v3's does) or its model type
 * implies (jina-embeddings-v5: 32 up), else those its model card's training losses list
 * (model-card.ts); undefined where it says none.
 */
export function declaredWidths(hiddenSize: number, config?: unknown, card?: string): number[] | undefined {
  const declared =
    typeof config === 'object' && config !== null ? (config as Record<string, unknown>).matryoshka_dimensions : undefined;
  const valid =
    Array.isArray(declared) && declared.length > 0 && declared.every((d) => Number.isInteger(d) && d > 0)
      ? (declared as number[])
      : undefined;
  const own = isJinaV5(config) ? JINA_V5_WIDTHS : undefined;
  return upTo(valid ?? own ?? (card === undefined ? undefined : cardWidths(card)), hiddenSize);
}

/**
 * The widths repository `repo` was trained for up to `hiddenSize`, or undefined where none are
 * known: those the model declares (declaredWidths), else its entry in the table above.
 */
export function trainedWidths(repo: string, hiddenSize: number, config?: unknown, card?: string): number[] | undefined {
  const declared = declaredWidths(hiddenSize, config, card);
  if (declared) return declared;
  // A GGUF conversion's repository is the original's name with -GGUF after it, often under another
  // owner (ggml-org/embeddinggemma-300M-GGUF, unsloth/..., second-state/...).
  const lower = repo.toLowerCase();
  const converted = lower.endsWith('-gguf') ? lower.slice(0, -'-gguf'.length).split('/').pop() : undefined;
  const known =
    TRAINED_WIDTHS[lower] ??
    Object.entries(TRAINED_WIDTHS).find(([original]) => original.split('/').pop() === converted)?.[1] ??
    (JINA_V5_REPO.test(lower) ? JINA_V5_WIDTHS : undefined);
  return upTo(known, hiddenSize);
}

function upTo(widths: readonly number[] | undefined, hiddenSize: number): number[] | undefined {
  const kept = widths?.filter((d) => d <= hiddenSize);
  return kept?.length ? [...new Set([...kept, hiddenSize])] : undefined;
}
