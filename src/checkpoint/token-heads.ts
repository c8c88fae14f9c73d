import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import { type ConfigOptions, type EncoderConfig, parseHfConfig } from '../weights/config.js';
import { LATE_INTERACTION_KEY, lateInteractionJson } from '../weights/late-interaction.js';
import { SPARSE_KEY, sparseJson } from '../weights/sparse.js';
import { SPLADE_KEY, spladeJson, spladeSettings } from '../weights/splade.js';
import type { DenseModule, Linear, MlmHead } from '../weights/weights.js';
import { type LateInteractionSource, lateInteractionOf } from './late-interaction.js';
import { listwiseProjector } from './listwise.js';
import { mlmHeadOf, queryWeightsOf } from './mlm-head.js';
import { sparseHeadOf } from './sparse.js';

/** What a checkpoint runs over every token's state besides pooling, read for conversion. */
export interface TokenHeads {
  /** config.json with the heads' settings recorded (for a pack's config.json). */
  raw: Record<string, unknown>;
  config: EncoderConfig;
  /** A late-interaction (ColBERT) model's token projection, a listwise reranker's projector, or null. */
  projection: DenseModule[] | null;
  /** A lexical-weights head (BGE-M3's sparse_linear.pt), or null. */
  sparseHead: Linear | null;
  /** A SPLADE model's masked-LM head, or null. */
  mlmHead: MlmHead | null;
}

/**
 * config.json (`raw`) parsed with `options`, with the heads the checkpoint runs over every token:
 * a late-interaction model's projection, and a lexical-weights head. Their settings are recorded
 * in the returned config.json, so a pack reads them back as the checkpoint gave them.
 */
export async function parseWithTokenHeads(
  raw: Record<string, unknown>,
  options: ConfigOptions,
  source: Omit<LateInteractionSource, 'config'>,
  tokenizer: TextTokenizer,
): Promise<TokenHeads> {
  const plain = parseHfConfig(raw, options);
  const { hiddenSize, maxTokens } = plain;
  if (plain.listwise) {
    const projection = await listwiseProjector(plain, source.weights);
    return { raw, config: plain, projection, sparseHead: null, mlmHead: null };
  }
  const late = await lateInteractionOf({ ...source, config: raw }, tokenizer, hiddenSize, maxTokens);
  const sparse = sparseHeadOf(source.sentenceTransformers?.sparseLinear, tokenizer, source.tokenizerConfig, hiddenSize);
  const pooling = source.sentenceTransformers?.splade;
  const mlm = pooling ? await mlmHeadOf(source.weights, plain, raw) : null;
  const queryWeights = mlm && pooling?.queryWeights && (await queryWeightsOf(pooling.queryWeights, plain.vocabSize));
  if (!late && !sparse && !mlm) return { raw, config: plain, projection: null, sparseHead: null, mlmHead: null };
  const splade = pooling &&
    mlm && {
      ...spladeSettings(pooling.config, 'SpladePooling'),
      tied: mlm.head.decoder === null,
      headActivation: mlm.activation,
      ...(queryWeights ? { staticQuery: true as const } : {}),
    };
  const recorded = {
    ...raw,
    ...(late ? { [LATE_INTERACTION_KEY]: lateInteractionJson(late.spec) } : {}),
    ...(sparse ? { [SPARSE_KEY]: sparseJson(sparse.spec) } : {}),
    ...(splade ? { [SPLADE_KEY]: spladeJson(splade) } : {}),
  };
  return {
    raw: recorded,
    config: parseHfConfig(recorded, options),
    projection: late?.projection ?? null,
    sparseHead: sparse?.head ?? null,
    mlmHead: mlm ? { ...mlm.head, ...(queryWeights ? { queryWeights } : {}) } : null,
  };
}
