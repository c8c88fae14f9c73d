import { asDecoderClassifier } from '../checkpoint/decoder-reranker.js';
import { COLBERT_FILE } from '../checkpoint/late-interaction.js';
import { withJinaV5Adapter } from '../checkpoint/lora-merge.js';
import { pendingTable } from '../checkpoint/matrix.js';
import { IDF_FILE, spladeByName } from '../checkpoint/mlm-head.js';
import { checkpointProjection } from '../checkpoint/projection.js';
import { routedSplade } from '../checkpoint/router.js';
import { blobSource, bytesSource, SafetensorsReader, type TensorSource } from '../checkpoint/safetensors.js';
import {
  type DenseFiles,
  denseModules,
  modulePaths,
  poolingPath,
  type SentenceTransformersFiles,
  sentenceTransformersSettings,
} from '../checkpoint/sentence-transformers.js';
import { SPARSE_FILE } from '../checkpoint/sparse.js';
import { parseWithTokenHeads } from '../checkpoint/token-heads.js';
import { tokenizerMaxLength } from '../checkpoint/tokenizer-config.js';
import { folderTokenizer } from '../checkpoint/tokenizer-files.js';
import { TorchCheckpoint } from '../checkpoint/torch-checkpoint.js';
import { readTorchStateDict } from '../checkpoint/torch-state-dict.js';
import { checkpointWeights } from '../checkpoint/weight-files.js';
import { weightsReader } from '../checkpoint/weights.js';
import { InputError, ModelFormatError } from '../errors.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import type { Pooling } from '../weights/config.js';
import { type ExitNorm, everyExit, firstExit } from '../weights/config.js';
import { decoderRerankerOverrides } from '../weights/decoder-rerankers.js';
import { completeStaticConfig, defaultWidths, tokenizing } from '../weights/static-config.js';
import { QUANTS, type Quant, type WeightParts } from '../weights/weights.js';
import { Arena } from './arena.js';
import type { PackManifest, QualityTable } from './manifest.js';
import { memorySink, type Pack, type PackSink, streamPack } from './write.js';

/** A Hugging Face checkpoint as the converter needs it, wherever its files came from. */
export interface HfCheckpoint {
  /** Parsed config.json. */
  config: unknown;
  /** tokenizer.json, as bytes: the pack stores it verbatim. */
  tokenizer: Uint8Array;
  /** Parsed tokenizer_config.json, if present. */
  tokenizerConfig?: unknown;
  /** The sentence-transformers files, where the folder has them: pooling, prompts, max length. */
  sentenceTransformers?: SentenceTransformersFiles;
  weights: TensorSource;
  /** The repository's id or the folder's name: how a reranker saved as a causal LM is known (default: the pack id). */
  name?: string;
}

export interface ConvertOptions {
  id: string;
  /** Storage of the layer matrices and the vocabulary table (default q8). */
  quant?: Quant;
  /** Layer counts the model may stop at (default: every layer). */
  exits?: number[];
  /** Matryoshka widths (default: only the full width, for models not trained for truncation). */
  dims?: number[];
  /** Default: the sentence-transformers Pooling module's, else mean. */
  pooling?: Pooling;
  /** Pre-norm models only (ModernBERT, Qwen3, Gemma 3): what early exits pool (default 'none', see ExitNorm). */
  exitNorm?: ExitNorm;
  maxTokens?: number;
  prefixes?: { query?: string; passage?: string };
  license?: string;
  source?: string;
  quality?: QualityTable;
  layersPerShard?: number;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Distinct integers in min..max, sorted; an InputError names the first one outside. */
export function intList(name: string, values: number[], min: number, max: number): number[] {
  for (const v of values) {
    if (!Number.isInteger(v) || v < min || v > max) throw new InputError(`${name} must be integers in ${min}..${max}, got ${v}`);
  }
  return [...new Set(values)].sort((a, b) => a - b);
}

/** Converts a checkpoint of a supported architecture into a model pack (manifest, tokenizer, quantized shards) in memory. */
export async function convertCheckpoint(ckpt: HfCheckpoint, options: ConvertOptions): Promise<Pack> {
  const files = new Map<string, Uint8Array>();
  const manifest = await convertCheckpointTo(ckpt, options, memorySink(files));
  return { manifest, files };
}

/**
 * Converts a checkpoint into a model pack a shard at a time, each handed to `sink` once written
 * (manifest.json last; see streamPack): tensors are read and quantized a block of rows at a time,
 * so the conversion holds about one shard and one block, not the checkpoint or the pack.
 */
export async function convertCheckpointTo(ckpt: HfCheckpoint, options: ConvertOptions, sink: PackSink): Promise<PackManifest> {
  const { quant = 'q8', ...meta } = options;
  if (!QUANTS.includes(quant)) throw new InputError(`quant must be one of ${QUANTS.join(', ')}, got ${JSON.stringify(quant)}`);
  if (!ID_RE.test(options.id))
    throw new InputError(`model id ${JSON.stringify(options.id)} must be letters, digits, '.', '_' or '-'`);
  let tokenizerJson: unknown;
  try {
    tokenizerJson = JSON.parse(new TextDecoder().decode(ckpt.tokenizer));
  } catch (cause) {
    throw new ModelFormatError('tokenizer.json is not valid JSON', { cause });
  }
  const tokenizer = TextTokenizer.fromJson(tokenizerJson, ckpt.tokenizerConfig, tokenizing(ckpt.config));
  // A reranker saved as a causal LM (Qwen3-Reranker, mxbai-rerank-v2) is stored as the sequence classifier it converts to.
  const { config: asClassifier, weights: tensors } = asDecoderClassifier(
    decoderRerankerOverrides(ckpt.config, ckpt.name ?? options.id),
    tokenizer,
    ckpt.weights,
  );
  const rawConfig = completeStaticConfig(asClassifier, tokenizer.maxTokenId + 1, (name) => tensors.shape(name)) as Record<
    string,
    unknown
  >;
  const {
    raw: recorded,
    config,
    projection: late,
    sparseHead,
    mlmHead,
  } = await parseWithTokenHeads(
    rawConfig,
    options.exitNorm ? { exitNorm: options.exitNorm } : {},
    {
      ...ckpt,
      sentenceTransformers: spladeByName(ckpt.sentenceTransformers ?? {}, rawConfig, ckpt.name ?? options.id),
      weights: tensors,
    },
    tokenizer,
  );
  const preNorm = config.modern ?? config.decoder;
  if (options.exitNorm && !preNorm) throw new InputError('exitNorm applies to pre-norm models only (ModernBERT, Qwen3, Gemma 3)');
  if (tokenizer.maxTokenId >= config.vocabSize) {
    throw new ModelFormatError(
      `tokenizer.json has token id ${tokenizer.maxTokenId} but config.json's vocab_size is ${config.vocabSize}`,
    );
  }
  const st = sentenceTransformersSettings(ckpt.sentenceTransformers ?? {});
  // A SPLADE head was trained on the last layer's states only.
  const exits = intList(
    'exits',
    options.exits ?? (config.splade ? [config.numLayers] : everyExit(config.numLayers)),
    firstExit(config.numLayers),
    config.numLayers,
  );
  const dims = intList('dims', options.dims ?? defaultWidths(config), 1, config.hiddenSize);
  const maxTokens = Math.min(
    options.maxTokens ?? st.maxTokens ?? config.maxTokens,
    config.maxTokens,
    tokenizerMaxLength(ckpt.tokenizerConfig) ?? config.maxTokens,
  );
  // A ColBERT model's Dense modules project every token (late.projection), not a pooled vector.
  const head = late ? [] : await denseModules(ckpt.sentenceTransformers ?? {}, config.hiddenSize, quant);
  const prefixes = meta.prefixes ?? st.prefixes;
  const projection = await checkpointProjection(tensors, exits, config.hiddenSize, prefixes ?? {}, quant);
  // Each shard's matrices are made in the memory of the shard before; the vocabulary table, the
  // largest, straight in its shard.
  const arena = new Arena();
  const reader = weightsReader(config, tensors, { quant, embeddingQuant: quant, alloc: arena.alloc, table: pendingTable });
  const weights: WeightParts = {
    layerCount: reader.layerCount,
    layer: (l) => reader.layer(l),
    rest: async () => ({
      ...(await reader.rest()),
      ...(head.length > 0 ? { head } : {}),
      ...(st.quantizer && !late ? { quantizer: st.quantizer } : {}),
      ...(projection ? { projection } : {}),
      ...(late ? { lateProjection: late } : {}),
      ...(sparseHead ? { sparseHead } : {}),
      ...(mlmHead ? { mlmHead } : {}),
    }),
    release: () => arena.reset(),
  };
  return streamPack(
    weights,
    recorded,
    { json: ckpt.tokenizer, ...(ckpt.tokenizerConfig ? { config: ckpt.tokenizerConfig as Record<string, unknown> } : {}) },
    {
      ...meta,
      ...(preNorm ? { exitNorm: preNorm.exitNorm } : {}),
      exits,
      dims,
      pooling: meta.pooling ?? st.pooling ?? 'mean',
      ...(prefixes ? { prefixes } : {}),
      maxTokens,
    },
    sink,
  );
}

/**
 * Reads a folder's sentence-transformers files through `json` (undefined for a missing file), the
 * Dense modules' weights through `tensors` (undefined where it cannot open them) or, where a module
 * has no model.safetensors, `bytes` (its pytorch_model.bin), and BGE-M3's heads' state dicts
 * (sparse_linear.pt, colbert_linear.pt) through `bytes` (undefined for a missing file).
 */
export async function sentenceTransformersFiles(
  json: (name: string) => Promise<unknown>,
  tensors?: (name: string) => Promise<TensorSource | undefined>,
  bytes?: (name: string) => Promise<Uint8Array | undefined>,
): Promise<SentenceTransformersFiles> {
  const modules = await json('modules.json');
  const [config, pooling, bertConfig, stConfig, colbertMetadata, sparseBytes, colbertBytes, idf] = await Promise.all([
    json('config.json'),
    json(`${poolingPath(modules)}/config.json`),
    json('sentence_bert_config.json'),
    json('config_sentence_transformers.json'),
    json('artifact.metadata'),
    bytes?.(SPARSE_FILE),
    bytes?.(COLBERT_FILE),
    // Only a folder without sentence-transformers' files is told by it (see spladeByName).
    modules === undefined ? json(IDF_FILE) : undefined,
  ]);
  const modelType = (config as Record<string, unknown> | undefined)?.model_type;
  const spladePath = modulePaths(modules, 'SpladePooling')[0];
  const splade = spladePath === undefined ? undefined : { config: await json(`${spladePath}/config.json`) };
  const dense: DenseFiles[] = [];
  for (const path of modulePaths(modules, 'Dense')) {
    // Older sentence-transformers folders keep a Dense module's weights as torch.save's pytorch_model.bin.
    const pickled = async () => {
      const file = await bytes?.(`${path}/pytorch_model.bin`);
      return file && TorchCheckpoint.open(bytesSource(file, `${path}/pytorch_model.bin`));
    };
    const weights = (await tensors?.(`${path}/model.safetensors`)) ?? (await pickled());
    dense.push({ path, config: await json(`${path}/config.json`), ...(weights ? { weights } : {}) });
  }
  return {
    modules,
    pooling,
    bertConfig,
    stConfig,
    ...(dense.length > 0 ? { dense } : {}),
    ...(colbertMetadata === undefined ? {} : { colbertMetadata }),
    ...(splade ? { splade } : {}),
    ...(sparseBytes ? { sparseLinear: await readTorchStateDict(sparseBytes, SPARSE_FILE) } : {}),
    ...(colbertBytes ? { colbertLinear: await readTorchStateDict(colbertBytes, COLBERT_FILE) } : {}),
    ...(idf === undefined ? {} : { idf: true as const }),
    ...(typeof modelType === 'string' ? { modelType } : {}),
  };
}

async function jsonOf(blob: Blob | undefined, name: string): Promise<unknown> {
  if (!blob) return undefined;
  try {
    return JSON.parse(await blob.text());
  } catch (cause) {
    throw new ModelFormatError(`${name} is not valid JSON`, { cause });
  }
}

/**
 * Opens a checkpoint from files a user dropped into the page (or picked with a directory input):
 * matched by name, so a flat list and a folder with 1_Pooling/ both work. Tensors are read from
 * the Files lazily, one at a time.
 */
export async function checkpointFromFiles(files: Iterable<File>): Promise<HfCheckpoint> {
  const byName = new Map<string, File>();
  for (const f of files) {
    const path = (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
    const parts = path.split('/');
    // Files of a module folder (1_Pooling/config.json) keep their folder; the rest go by name.
    const key = parts.length > 1 && parts.at(-2) !== parts[0] ? `${parts.at(-2)}/${f.name}` : f.name;
    byName.set(key, f);
  }
  const json = (name: string) => jsonOf(byName.get(name), name);
  const tensors = async (name: string) => {
    const f = byName.get(name);
    return f && (await SafetensorsReader.open(blobSource(f, name)));
  };
  const st = await sentenceTransformersFiles(json, tensors, async (name) => {
    const f = byName.get(name);
    return f && new Uint8Array(await f.arrayBuffer());
  });
  // An inference-free SPLADE model's transformer is in its document module's folder (router.ts).
  const routed = await routedSplade(st, json, tensors);
  const dir = routed?.dir ?? '';
  const at = (name: string) => byName.get(`${dir}${name}`);
  const weights = await checkpointWeights({
    json: (name) => jsonOf(at(name), name),
    open: async (name) => {
      const f = at(name);
      return f && blobSource(f, name);
    },
  });
  if (!weights)
    throw new ModelFormatError('model.safetensors or pytorch_model.bin (or its index.json with its shards) is missing');
  const configFile = at('config.json');
  if (!configFile) throw new ModelFormatError(`${dir}config.json is missing from the dropped files`);
  const config = await jsonOf(configFile, 'config.json');
  const tokenizer = await folderTokenizer(async (name) => {
    const f = at(name);
    return f && new Uint8Array(await f.arrayBuffer());
  }, config);
  if (!tokenizer) throw new ModelFormatError("tokenizer.json (or a slow tokenizer's files) is missing from the dropped files");
  // Dropped files are keyed by their own folder only (adapters/retrieval/x as retrieval/x).
  const nested = (name: string) => name.split('/').slice(-2).join('/');
  return {
    config,
    tokenizer,
    tokenizerConfig: await jsonOf(at('tokenizer_config.json'), 'tokenizer_config.json'),
    sentenceTransformers: routed?.files ?? st,
    weights: await withJinaV5Adapter(config, weights, {
      json: (name) => json(nested(name)),
      tensors: (name) => tensors(nested(name)),
    }),
  };
}
