import { InputError, ModelFormatError } from '../errors.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { type EncoderConfig, type ExitNorm, firstExit } from '../weights/config.js';
import { decoderRerankerOverrides } from '../weights/decoder-rerankers.js';
import { completeStaticConfig, tokenizing } from '../weights/static-config.js';
import { type EncoderWeights, QUANTS, type Quant } from '../weights/weights.js';
import { asDecoderClassifier } from './decoder-reranker.js';
import { spladeByName } from './mlm-head.js';
import { SafetensorsFile, type TensorSource } from './safetensors.js';
import { denseModules, type SentenceTransformersFiles, sentenceTransformersSettings } from './sentence-transformers.js';
import { parseWithTokenHeads } from './token-heads.js';
import { tokenizerMaxLength } from './tokenizer-config.js';
import { weightsFromTensors } from './weights.js';

/** The contents of a Hugging Face model folder: parsed JSON files and the raw checkpoint bytes. */
export interface HfModelFiles {
  /** config.json */
  config: unknown;
  /** tokenizer.json */
  tokenizer: unknown;
  /** tokenizer_config.json, if the model has one. */
  tokenizerConfig?: unknown;
  /** model.safetensors; or, instead, `weights`. */
  safetensors?: Uint8Array;
  /** The tensors read some other way (an ONNX export: OnnxTensors). */
  weights?: TensorSource;
  /** The folder's name: how a reranker saved as a causal LM is known (weights/decoder-rerankers.ts). */
  name?: string;
  /** The sentence-transformers files: the Dense modules after pooling, a ColBERT model's settings, a sparse head. */
  sentenceTransformers?: SentenceTransformersFiles;
}

export interface LoadOptions {
  /** How to store the layer matrices (default f32). */
  quant?: Quant;
  /** Load only the first `layers` transformer layers (default: all). */
  layers?: number;
  /** Pre-norm models only (ModernBERT, Qwen3, Gemma 3): what early exits pool (default 'none'). */
  exitNorm?: ExitNorm;
}

export interface LoadedModel {
  config: EncoderConfig;
  weights: EncoderWeights;
  tokenizer: TextTokenizer;
}

/**
 * Parses and checks a Hugging Face model of a supported architecture: config, tokenizer and
 * weights. Texts are held to the position table and to the tokenizer's model_max_length, as a
 * pack converted from the folder is.
 */
export async function loadHfModel(files: HfModelFiles, options: LoadOptions = {}): Promise<LoadedModel> {
  const quant = options.quant ?? 'f32';
  if (!QUANTS.includes(quant)) throw new InputError(`quant must be one of ${QUANTS.join(', ')}, got ${JSON.stringify(quant)}`);
  const tokenizer = TextTokenizer.fromJson(files.tokenizer, files.tokenizerConfig, tokenizing(files.config));
  const maxId = tokenizer.maxTokenId;
  const { config: asClassifier, weights: source } = asDecoderClassifier(
    decoderRerankerOverrides(files.config, files.name),
    tokenizer,
    files.weights ?? safetensorsOf(files.safetensors),
  );
  const raw = completeStaticConfig(asClassifier, maxId + 1, (name) => source.shape(name)) as Record<string, unknown>;
  const st = spladeByName(files.sentenceTransformers ?? {}, raw, files.name);
  const {
    config: parsed,
    projection: late,
    sparseHead,
    mlmHead,
  } = await parseWithTokenHeads(
    raw,
    options.exitNorm ? { exitNorm: options.exitNorm } : {},
    { tokenizerConfig: files.tokenizerConfig, sentenceTransformers: st, weights: source },
    tokenizer,
  );
  const config = {
    ...parsed,
    maxTokens: Math.min(parsed.maxTokens, tokenizerMaxLength(files.tokenizerConfig) ?? parsed.maxTokens),
  };
  const layers = options.layers ?? config.numLayers;
  const least = firstExit(config.numLayers);
  if (!Number.isInteger(layers) || layers < least || layers > config.numLayers) {
    throw new InputError(`layers must be an integer in ${least}..${config.numLayers}, got ${layers}`);
  }
  if (maxId >= config.vocabSize) {
    throw new ModelFormatError(
      `tokenizer.json has token id ${maxId} but config.json's vocab_size is ${config.vocabSize} (tokenizer from another model?)`,
    );
  }
  const weights = await weightsFromTensors(config, source, { quant, layers });
  // A ColBERT model's Dense modules project every token, not a pooled vector.
  if (late) weights.lateProjection = late;
  else {
    const head = await denseModules(st, config.hiddenSize, 'f32');
    if (head.length > 0) weights.head = head;
    const { quantizer } = sentenceTransformersSettings(st);
    if (quantizer) weights.quantizer = quantizer;
  }
  if (sparseHead) weights.sparseHead = sparseHead;
  if (mlmHead) weights.mlmHead = mlmHead;
  return { config, weights, tokenizer };
}

function safetensorsOf(bytes: unknown): TensorSource {
  if (!(bytes instanceof Uint8Array)) throw new ModelFormatError('model.safetensors must be given as bytes');
  return new SafetensorsFile(bytes);
}
