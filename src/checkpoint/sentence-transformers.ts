import { ModelFormatError, UnsupportedError } from '../errors.js';
import type { Pooling } from '../weights/config.js';
import { JINA_V5_PREFIXES, JINA_V5_TYPE } from '../weights/jina-v5.js';
import { quantizeLinear } from '../weights/quantize.js';
import type { DenseModule, OutputQuantizer, Quant } from '../weights/weights.js';
import type { TensorSource } from './safetensors.js';
import type { TorchTensor } from './torch-state-dict.js';

/** One Dense module's files: its config.json and, where the reader can open it, its model.safetensors. */
export interface DenseFiles {
  /** The module folder, e.g. 2_Dense. */
  path: string;
  config: unknown;
  weights?: TensorSource;
}

/** The sentence-transformers files of a model folder, parsed (each may be absent). */
export interface SentenceTransformersFiles {
  /** modules.json */
  modules?: unknown;
  /** The Pooling module's config.json (1_Pooling/config.json in most folders). */
  pooling?: unknown;
  /** sentence_bert_config.json */
  bertConfig?: unknown;
  /** config_sentence_transformers.json */
  stConfig?: unknown;
  /** The Dense modules, in modules.json's order. */
  dense?: DenseFiles[];
  /** artifact.metadata: a stanford-futuredata ColBERT checkpoint's settings. */
  colbertMetadata?: unknown;
  /** sparse_linear.pt's state dict: BGE-M3's lexical-weights head. */
  sparseLinear?: ReadonlyMap<string, TorchTensor>;
  /** colbert_linear.pt's state dict: BGE-M3's multi-vector (ColBERT) projection. */
  colbertLinear?: ReadonlyMap<string, TorchTensor>;
  /**
   * A SPLADE model's SpladePooling module: its config.json (undefined where it has none), and an
   * inference-free model's query weights (its SparseStaticEmbedding's model.safetensors: `weight`,
   * one per token id; see router.ts).
   */
  splade?: { config: unknown; queryWeights?: TensorSource };
  /** An idf.json at the root: OpenSearch's own layout of an inference-free sparse encoder (see spladeByName). */
  idf?: true;
  /** config.json's model_type: a model whose own code pools and prompts (jina-embeddings-v5) stands in for files it lacks. */
  modelType?: string;
}

/** A Dense module as its config.json declares it. */
export interface DenseSpec {
  path: string;
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
  activation: DenseModule['activation'];
}

/** What the sentence-transformers files decide about a converted model. */
export interface SentenceTransformersSettings {
  pooling?: Pooling;
  prefixes?: { query?: string; passage?: string };
  maxTokens?: number;
  /** Dense projections after pooling, in order. */
  dense?: DenseSpec[];
  /** An elementwise quantizer after them (pplx-embed's st_quantize.FlexibleQuantizer). */
  quantizer?: OutputQuantizer;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const MODULE_PATH = /^[\w.-]+$/;

/** Whether modules.json lists a module of this type (by class name suffix), whatever its path. */
const hasModule = (modules: unknown, type: string): boolean =>
  Array.isArray(modules) && modules.some((m) => isObject(m) && String(m.type).endsWith(`.${type}`));

/** modules.json's modules of one type (by class name suffix), with a plain relative path. */
export function modulePaths(modules: unknown, type: string): string[] {
  if (!Array.isArray(modules)) return [];
  return modules
    .filter((m) => isObject(m) && String(m.type).endsWith(`.${type}`))
    .map((m) => (m as Record<string, unknown>).path)
    .filter((p): p is string => typeof p === 'string' && MODULE_PATH.test(p));
}

/**
 * The folder of a StaticEmbedding module in sentence-transformers' own static layout
 * (static-retrieval-mrl-en-v1: `0_StaticEmbedding/` holds model.safetensors and tokenizer.json, and
 * there is no config.json), or null. model2vec's layout names the root (`.`) and has a config.json.
 */
export function staticEmbeddingPath(modules: unknown): string | null {
  const path = modulePaths(modules, 'StaticEmbedding')[0];
  return path !== undefined && /^\w/.test(path) ? path : null;
}

/** The path of the Pooling module from modules.json (default 1_Pooling), where its config.json lives. */
export function poolingPath(modules: unknown): string {
  return modulePaths(modules, 'Pooling')[0] ?? '1_Pooling';
}

function poolingOf(raw: unknown): Pooling | undefined {
  if (!isObject(raw)) return undefined;
  if (raw.pooling_mode_cls_token === true) return 'cls';
  if (raw.pooling_mode_mean_tokens === true) return 'mean';
  if (raw.pooling_mode_lasttoken === true) return 'last';
  const asked = Object.entries(raw)
    .filter(([k, v]) => k.startsWith('pooling_mode_') && v === true)
    .map(([k]) => k.slice('pooling_mode_'.length));
  throw new UnsupportedError(
    `the Pooling module asks for ${asked.join(', ') || 'no pooling'}; m3web pools by mean, CLS or last token`,
  );
}

const ACTIVATIONS: Record<string, DenseModule['activation']> = {
  'torch.nn.modules.linear.Identity': 'identity',
  'torch.nn.modules.activation.Tanh': 'tanh',
};

function denseSpec(d: DenseFiles): DenseSpec {
  const c = d.config;
  if (!isObject(c)) throw new ModelFormatError(`${d.path}/config.json is missing or not an object`);
  const features = (key: string) => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      throw new ModelFormatError(`${d.path}/config.json: "${key}" must be a positive integer`);
    return v;
  };
  const activation = ACTIVATIONS[String(c.activation_function ?? 'torch.nn.modules.activation.Tanh')];
  if (!activation) {
    throw new UnsupportedError(
      `${d.path} uses activation ${JSON.stringify(c.activation_function)}; m3web runs Dense modules with Identity or Tanh`,
    );
  }
  return {
    path: d.path,
    inFeatures: features('in_features'),
    outFeatures: features('out_features'),
    bias: c.bias !== false,
    activation,
  };
}

/**
 * Reads the modules a sentence-transformers model applies after the transformer: Pooling, then
 * any Dense projections, then Normalize. Modules m3web does not run (other poolings, LayerNorm,
 * a Normalize before a Dense) are refused rather than skipped: skipping one would return vectors
 * unlike the model's without a word.
 */
export function sentenceTransformersSettings(files: SentenceTransformersFiles): SentenceTransformersSettings {
  const out: SentenceTransformersSettings = {};
  if (files.modules !== undefined) {
    if (!Array.isArray(files.modules)) throw new ModelFormatError('modules.json must be a list of modules');
    // pplx-embed's FlexibleQuantizer (its st_quantize.py) saves no settings: int8 by default.
    const order = ['Transformer', 'Pooling', 'Dense', 'FlexibleQuantizer', 'Normalize'];
    // A static embedder's (model2vec) first module is its table and mean, in the transformer's
    // place; a SPLADE model's are the masked LM and its pooling.
    const stands: Record<string, number> = { StaticEmbedding: 0, MLMTransformer: 0, SpladePooling: 1 };
    let at = 0;
    for (const m of files.modules) {
      const type = isObject(m) ? String(m.type) : '';
      if (type.endsWith('.Router')) {
        throw new UnsupportedError(
          'modules.json routes queries and documents through different modules (a Router: inference-free SPLADE, ' +
            'asymmetric models); m3web runs one module chain for both',
        );
      }
      const own = stands[type.slice(type.lastIndexOf('.') + 1)];
      const kind = own ?? order.findIndex((k) => type.endsWith(`.${k}`));
      if (kind < 0) {
        throw new UnsupportedError(
          `modules.json lists a ${type || 'module'} after the transformer; m3web runs the Transformer, Pooling, Dense, Normalize and pplx-embed's FlexibleQuantizer modules (MLMTransformer and SpladePooling for SPLADE) only`,
        );
      }
      if (kind < at)
        throw new UnsupportedError(
          `modules.json lists ${type} after ${order[at]}; m3web runs them in the order ${order.join(', ')}`,
        );
      at = kind;
    }
  }
  const pooling = poolingOf(files.pooling) ?? (files.modelType === JINA_V5_TYPE ? 'last' : undefined);
  if (pooling) out.pooling = pooling;
  const dense = (files.dense ?? []).map(denseSpec);
  if (dense.length > 0) out.dense = dense;
  if (hasModule(files.modules, 'FlexibleQuantizer')) out.quantizer = 'int8_tanh';
  const length = isObject(files.bertConfig) ? files.bertConfig.max_seq_length : undefined;
  // sentence-transformers truncates the tokenized input, special tokens included, to it.
  if (typeof length === 'number' && Number.isInteger(length) && length > 1) out.maxTokens = length;
  const prompts = isObject(files.stConfig) && isObject(files.stConfig.prompts) ? files.stConfig.prompts : {};
  const prompt = (...names: string[]) => names.map((n) => prompts[n]).find((p): p is string => typeof p === 'string' && p !== '');
  // jina-embeddings-v3 names its prompts after its task adapters.
  const query = prompt('query', 'retrieval.query');
  const passage = prompt('passage', 'document', 'retrieval.passage');
  if (query !== undefined || passage !== undefined) {
    out.prefixes = { ...(query === undefined ? {} : { query }), ...(passage === undefined ? {} : { passage }) };
  } else if (files.modelType === JINA_V5_TYPE) {
    out.prefixes = { ...JINA_V5_PREFIXES };
  }
  return out;
}

/**
 * The Dense modules' weights (sentence-transformers names linear.weight / linear.bias), quantized
 * like the layers. The chain must start at the hidden size and, so that Matryoshka widths and the
 * pooled buffers keep one meaning, end there too (EmbeddingGemma: 768 -> 3072 -> 768).
 */
export async function denseModules(files: SentenceTransformersFiles, hiddenSize: number, quant: Quant): Promise<DenseModule[]> {
  const specs = sentenceTransformersSettings(files).dense ?? [];
  let width = hiddenSize;
  for (const spec of specs) {
    if (spec.inFeatures !== width)
      throw new ModelFormatError(`${spec.path} takes ${spec.inFeatures} features but receives ${width}`);
    width = spec.outFeatures;
  }
  if (width !== hiddenSize) {
    throw new UnsupportedError(
      `the Dense modules end at ${width} features; m3web runs Dense chains that return to the hidden size ${hiddenSize}`,
    );
  }
  const out: DenseModule[] = [];
  for (const [i, spec] of specs.entries()) {
    const source = files.dense?.[i]?.weights;
    if (!source) {
      throw new ModelFormatError(`${spec.path} has neither model.safetensors nor pytorch_model.bin`);
    }
    const { outFeatures: rows, inFeatures: cols } = spec;
    const w = await source.get('linear.weight', [rows, cols]);
    const b = spec.bias ? await source.get('linear.bias', [rows]) : new Float32Array(rows);
    out.push({ linear: quantizeLinear(w, rows, cols, b, quant), activation: spec.activation });
  }
  return out;
}
