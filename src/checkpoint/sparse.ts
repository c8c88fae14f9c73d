import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import type { SparseSpec } from '../weights/encoder-config.js';
import type { Linear } from '../weights/weights.js';
import { specialToken } from './tokenizer-config.js';
import { linearFromStateDict } from './torch-linear.js';
import type { TorchTensor } from './torch-state-dict.js';

/** The file BGE-M3 (and FlagEmbedding's fine-tunes of it) keep the lexical-weights Linear in. */
export const SPARSE_FILE = 'sparse_linear.pt';

/**
 * The tokens FlagEmbedding's M3 inference drops from lexical weights: those its tokenizer's
 * special_tokens_map names cls, eos, pad and unk. Where tokenizer_config.json does not name one,
 * the defaults of XLM-R's and BERT's tokenizer classes stand in (BERT's has no eos token).
 */
const EXCLUDED: [key: string, usual: string[]][] = [
  ['cls_token', ['<s>', '[CLS]']],
  ['eos_token', ['</s>']],
  ['pad_token', ['<pad>', '[PAD]']],
  ['unk_token', ['<unk>', '[UNK]']],
];

/** A checkpoint's lexical-weights head, read from sparse_linear.pt's state dict (null where the folder has none). */
export function sparseHeadOf(
  stateDict: ReadonlyMap<string, TorchTensor> | undefined,
  tokenizer: TextTokenizer,
  tokenizerConfig: unknown,
  hiddenSize: number,
): { spec: SparseSpec; head: Linear } | null {
  if (!stateDict) return null;
  const head = linearFromStateDict(stateDict, SPARSE_FILE, hiddenSize, 1);
  const exclude = EXCLUDED.map(([key, usual]) => specialToken(tokenizer, tokenizerConfig, key, usual)).filter(
    (id): id is number => id !== null,
  );
  return {
    spec: { exclude: [...new Set(exclude)].sort((a, b) => a - b) },
    head,
  };
}
