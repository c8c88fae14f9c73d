import { ModelFormatError } from '../errors.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import { isCausalLm } from '../weights/decoder-rerankers.js';
import { tensorPrefix } from './prefix.js';
import type { TensorSource } from './safetensors.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The sequence classifier class of a decoder family, as transformers names it. */
const CLASSIFIER: Record<string, string> = {
  qwen3: 'Qwen3ForSequenceClassification',
  qwen2: 'Qwen2ForSequenceClassification',
};

/**
 * A reranker saved as a causal LM (config `is_original_qwen3_reranker`, or a *ForCausalLM with
 * `classifier_from_token`; weights/decoder-rerankers.ts adds both where the name says) as the
 * sequence classifier it converts to, as sentence-transformers' and vLLM's conversions make it:
 * the config of a single-label *ForSequenceClassification and a `score.weight` row, the LM head's
 * (or the tied embeddings') "yes" row minus its "no" row, so sigmoid(score) is
 * softmax([no, yes])[yes]. Anything else is returned as it is.
 */
export function asDecoderClassifier(
  raw: unknown,
  tokenizer: TextTokenizer,
  source: TensorSource,
): { config: unknown; weights: TensorSource } {
  if (!isObject(raw)) return { config: raw, weights: source };
  const told = raw.is_original_qwen3_reranker === true || (isCausalLm(raw) && raw.classifier_from_token !== undefined);
  const architecture = CLASSIFIER[String(raw.model_type)];
  if (!told || !architecture) return { config: raw, weights: source };
  const tokens = raw.classifier_from_token;
  if (!Array.isArray(tokens) || tokens.length !== 2 || tokens.some((t) => typeof t !== 'string')) {
    throw new ModelFormatError('config.json: "classifier_from_token" must name the "no" and the "yes" token');
  }
  const [no, yes] = (tokens as string[]).map((t) => {
    const id = tokenizer.tokenId(t);
    if (id === null) throw new ModelFormatError(`tokenizer.json has no token ${JSON.stringify(t)} (classifier_from_token)`);
    return id;
  }) as [number, number];
  const head = source.has('lm_head.weight')
    ? 'lm_head.weight'
    : `${tensorPrefix(source, 'embed_tokens.weight', 'Qwen')}embed_tokens.weight`;
  const shape = source.shape(head) ?? [];
  const [rows, H] = [shape[0] ?? 0, shape[1] ?? 0];
  const score = async () => {
    const row = async (id: number) => Float32Array.from(await source.getRows(head, [rows, H], id, id + 1));
    const [y, n] = [await row(yes), await row(no)];
    return y.map((v, c) => v - (n[c] as number));
  };
  const SCORE = 'score.weight';
  const weights: TensorSource = {
    has: (name) => name === SCORE || source.has(name),
    names: () => [...source.names(), SCORE],
    shape: (name) => (name === SCORE ? [1, H] : source.shape(name)),
    get: (name, s) => (name === SCORE ? score() : source.get(name, s)),
    getRows: (name, s, from, to) => (name === SCORE ? score() : source.getRows(name, s, from, to)),
  };
  const config = {
    ...raw,
    architectures: [architecture],
    num_labels: 1,
    id2label: { 0: 'LABEL_0' },
    label2id: { LABEL_0: 0 },
  };
  return { config, weights };
}
