/**
 * Rerankers published as causal language models: their score is the last token's logit for one
 * answer token against another, and their config.json says nothing of it (nor of the prompt
 * they read). vLLM is told with `hf_overrides`; m3web adds the same fields where the repository's
 * or folder's name says which reranker it is, and `m3web_rerank_prompt` for the prompt, so a
 * pack converted under any id keeps both.
 */

/** The prompts m3web builds for decoder rerankers (src/tokenizer/rerank-input.ts). */
export type DecoderRerankPrompt = 'qwen3-reranker' | 'mxbai-rerank-v2';
export const DECODER_RERANK_PROMPTS: readonly DecoderRerankPrompt[] = ['qwen3-reranker', 'mxbai-rerank-v2'];

interface KnownReranker {
  name: RegExp;
  modelType: string;
  prompt: DecoderRerankPrompt;
  /** vLLM's classifier_from_token: the "no" and the "yes" answer. */
  fromTokens: [string, string];
  /** Other fields vLLM's overrides for the model set. */
  extra?: Record<string, unknown>;
}

const KNOWN: readonly KnownReranker[] = [
  {
    name: /(^|[/\\-])qwen3-reranker-/i,
    modelType: 'qwen3',
    prompt: 'qwen3-reranker',
    fromTokens: ['no', 'yes'],
    extra: { is_original_qwen3_reranker: true },
  },
  // mixedbread-ai/mxbai-rerank-base-v2, -large-v2 (Qwen2ForCausalLM), and their sequence-classifier
  // conversions (mxbai-rerank-base-v2-seq).
  {
    name: /(^|[/\\_-])mxbai-rerank-[a-z0-9]+-v2(?![0-9])/i,
    modelType: 'qwen2',
    prompt: 'mxbai-rerank-v2',
    fromTokens: ['0', '1'],
  },
];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a config's architectures name a causal language model (a *ForCausalLM). */
export const isCausalLm = (raw: Record<string, unknown>): boolean =>
  Array.isArray(raw.architectures) && raw.architectures.some((a) => typeof a === 'string' && a.endsWith('ForCausalLM'));

/**
 * config.json with the fields that make it the reranker `name` (a Hub id, pack id or folder)
 * says it is: for a causal LM vLLM's `classifier_from_token` (and the model's other override
 * fields), for either form the prompt. Fields the config already has are kept.
 */
export function decoderRerankerOverrides(raw: unknown, name: string | undefined): unknown {
  if (!isObject(raw) || name === undefined) return raw;
  const known = KNOWN.find((k) => k.modelType === raw.model_type && k.name.test(name));
  if (!known) return raw;
  const causal = isCausalLm(raw) && raw.classifier_from_token === undefined;
  return {
    ...(causal ? { ...known.extra, classifier_from_token: known.fromTokens } : {}),
    m3web_rerank_prompt: known.prompt,
    ...raw,
  };
}
