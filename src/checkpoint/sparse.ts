import { ModelFormatError } from '../errors.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import type { SparseSpec } from '../weights/encoder-config.js';
import { quantizeLinear } from '../weights/quantize.js';
import type { Linear } from '../weights/weights.js';
import { specialToken } from './tokenizer-config.js';
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
  const weight = stateDict.get('weight');
  const bias = stateDict.get('bias');
  const fail = (why: string): never => {
    throw new ModelFormatError(`${SPARSE_FILE}: ${why}`);
  };
  if (weight?.shape.length !== 2 || weight.shape[0] !== 1 || weight.shape[1] !== hiddenSize)
    return fail(`weight must be [1, ${hiddenSize}] (a Linear from the hidden size to one weight per token)`);
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== 1)) return fail('bias must hold one number');
  const extra = [...stateDict.keys()].filter((k) => k !== 'weight' && k !== 'bias');
  if (extra.length > 0) return fail(`holds ${extra.join(', ')} besides weight and bias`);
  const exclude = EXCLUDED.map(([key, usual]) => specialToken(tokenizer, tokenizerConfig, key, usual)).filter(
    (id): id is number => id !== null,
  );
  return {
    spec: { exclude: [...new Set(exclude)].sort((a, b) => a - b) },
    head: quantizeLinear(weight.data, 1, hiddenSize, bias?.data ?? new Float32Array(1), 'f32'),
  };
}
