import { ModelFormatError } from '../errors.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import { tensorPrefix } from './prefix.js';
import type { TensorSource } from './safetensors.js';

/**
 * The original Qwen3-Reranker repositories hold a Qwen3ForCausalLM whose score is the last
 * token's "yes" logit against its "no" logit; their config says nothing of it. vLLM is told with
 * `hf_overrides` (`is_original_qwen3_reranker`, `classifier_from_token`); m3web adds the same
 * fields where the repository's or folder's name says Qwen3-Reranker.
 */
const RERANKER_NAME = /(^|[/\\-])qwen3-reranker-/i;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** config.json with vLLM's Qwen3-Reranker overrides where `name` (a Hub id, pack id or folder) is one's. */
export function qwen3RerankerOverrides(raw: unknown, name: string | undefined): unknown {
  if (!isObject(raw) || raw.model_type !== 'qwen3' || name === undefined || !RERANKER_NAME.test(name)) return raw;
  const causal = Array.isArray(raw.architectures) && raw.architectures.includes('Qwen3ForCausalLM');
  if (!causal || raw.is_original_qwen3_reranker !== undefined) return raw;
  return { ...raw, is_original_qwen3_reranker: true, classifier_from_token: ['no', 'yes'] };
}

/**
 * An original Qwen3-Reranker (config `is_original_qwen3_reranker`) as the sequence classifier it
 * converts to, as sentence-transformers' and vLLM's conversions make it: the config of a
 * single-label Qwen3ForSequenceClassification and a `score.weight` row, the LM head's (or the tied
 * embeddings') "yes" row minus its "no" row, so sigmoid(score) is softmax([no, yes])[yes].
 * Anything else is returned as it is.
 */
export function asQwen3Classifier(
  raw: unknown,
  tokenizer: TextTokenizer,
  source: TensorSource,
): { config: unknown; weights: TensorSource } {
  if (!isObject(raw) || raw.is_original_qwen3_reranker !== true) return { config: raw, weights: source };
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
    : `${tensorPrefix(source, 'embed_tokens.weight', 'Qwen3')}embed_tokens.weight`;
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
    architectures: ['Qwen3ForSequenceClassification'],
    num_labels: 1,
    id2label: { 0: 'LABEL_0' },
    label2id: { LABEL_0: 0 },
  };
  return { config, weights };
}
