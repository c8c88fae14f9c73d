import { ModelFormatError, UnsupportedError } from '../errors.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import type { LateInteractionSpec } from '../weights/encoder-config.js';
import { quantizeLinear } from '../weights/quantize.js';
import type { DenseModule } from '../weights/weights.js';
import type { TensorSource } from './safetensors.js';
import type { DenseFiles, SentenceTransformersFiles } from './sentence-transformers.js';
import { specialToken, tokenizerMaxLength } from './tokenizer-config.js';
import { linearFromStateDict } from './torch-linear.js';
import type { TorchTensor } from './torch-state-dict.js';

/** A late-interaction checkpoint's settings and its token projection, read for conversion. */
export interface LateInteractionCheckpoint {
  spec: LateInteractionSpec;
  projection: DenseModule[];
}

/** What the ColBERT readers need of a checkpoint. */
export interface LateInteractionSource {
  config: Record<string, unknown>;
  tokenizerConfig?: unknown;
  sentenceTransformers?: SentenceTransformersFiles;
  weights: TensorSource;
}

/** Python's string.punctuation: what both ColBERT implementations leave out of documents by default. */
const PUNCTUATION = [...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'];
// PyLate's defaults where a model's files do not say (stanford-futuredata's for query_maxlen agree).
const QUERY_LENGTH = 32;
const DOCUMENT_LENGTH = 180;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The checkpoint's late-interaction settings and projection, or null for a model of another kind:
 * a stanford-futuredata ColBERT checkpoint (config.json's architectures ["HF_ColBERT"], the
 * projection `linear.weight` beside the encoder, artifact.metadata for the rest), or a PyLate model
 * (modules.json lists pylate's Dense modules; config_sentence_transformers.json the rest).
 * Settings a file leaves out take the defaults PyLate applies when it opens the same files. Or
 * BGE-M3's multi-vector output (colbert_linear.pt beside the encoder), read as FlagEmbedding's M3
 * models run it.
 */
export async function lateInteractionOf(
  source: LateInteractionSource,
  tokenizer: TextTokenizer,
  hiddenSize: number,
  maxTokens: number,
): Promise<LateInteractionCheckpoint | null> {
  const colbert = source.sentenceTransformers?.colbertLinear;
  if (colbert) return bgeM3(colbert, hiddenSize, Math.min(maxTokens, tokenizerMaxLength(source.tokenizerConfig) ?? maxTokens));
  const architectures = source.config.architectures;
  if (Array.isArray(architectures) && architectures[0] === 'HF_ColBERT') return stanford(source, tokenizer, hiddenSize);
  const modules = source.sentenceTransformers?.modules;
  if (Array.isArray(modules) && modules.some((m) => isObject(m) && String(m.type).startsWith('pylate.')))
    return pylate(source, tokenizer, hiddenSize);
  return null;
}

/** The file BGE-M3 (and FlagEmbedding's fine-tunes of it) keep the multi-vector projection in. */
export const COLBERT_FILE = 'colbert_linear.pt';

/**
 * BGE-M3 (FlagEmbedding's EncoderOnlyEmbedderM3Model._colbert_embedding and colbert_score): every
 * token but the first (whose state is the dense vector) through colbert_linear, L2-normalised;
 * queries and documents read alike, without markers, expansion or a skiplist, up to the model's
 * length; a document scores MaxSim averaged over the query's vectors. The model still pools its
 * dense vector, so `embed` runs too.
 */
function bgeM3(stateDict: ReadonlyMap<string, TorchTensor>, hiddenSize: number, length: number): LateInteractionCheckpoint {
  const linear = linearFromStateDict(stateDict, COLBERT_FILE, hiddenSize, null);
  const dim = linear.rows;
  return {
    spec: {
      dim,
      queryLength: length,
      documentLength: length,
      queryMarker: null,
      documentMarker: null,
      expansionToken: null,
      attendExpansion: false,
      skiplist: [],
      projection: ['identity'],
      firstToken: false,
      score: 'mean',
      pooled: true,
    },
    projection: [{ linear, activation: 'identity' }],
  };
}

function tokenOf(tokenizer: TextTokenizer, token: string, what: string): number {
  const id = tokenizer.tokenId(token);
  if (id === null) throw new ModelFormatError(`tokenizer.json has no token ${JSON.stringify(token)} (the ${what})`);
  return id;
}

function maskToken(tokenizer: TextTokenizer, tokenizerConfig: unknown): number {
  const id = specialToken(tokenizer, tokenizerConfig, 'mask_token', ['[MASK]', '<mask>']);
  if (id === null) throw new UnsupportedError('query expansion needs a mask token, and the tokenizer has none');
  return id;
}

function length(v: unknown, key: string, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 4)
    throw new ModelFormatError(`${key} must be an integer >= 4, got ${JSON.stringify(v)}`);
  return v;
}

function flag(v: unknown, key: string, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new ModelFormatError(`${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * stanford-futuredata/ColBERT: markers by artifact.metadata's query_token_id / doc_token_id
 * ([unused0] / [unused1]), every pad of a query replaced by the mask token, documents without the
 * first id of each punctuation character encoded alone (ColBERT.skiplist, when mask_punctuation).
 */
async function stanford(
  source: LateInteractionSource,
  tokenizer: TextTokenizer,
  hiddenSize: number,
): Promise<LateInteractionCheckpoint> {
  const rawMeta = source.sentenceTransformers?.colbertMetadata;
  if (rawMeta !== undefined && !isObject(rawMeta)) throw new ModelFormatError('artifact.metadata must be a JSON object');
  const meta = rawMeta ?? {};
  const shape = source.weights.shape('linear.weight');
  if (shape?.length !== 2 || shape[1] !== hiddenSize) {
    throw new ModelFormatError(`an HF_ColBERT checkpoint needs its projection linear.weight [dim, ${hiddenSize}]`);
  }
  const dim = shape[0] as number;
  if (meta.dim !== undefined && meta.dim !== dim)
    throw new ModelFormatError(`artifact.metadata says dim ${JSON.stringify(meta.dim)}, linear.weight has ${dim} rows`);
  const marker = (key: string, fallback: string, what: string) =>
    tokenOf(tokenizer, typeof meta[key] === 'string' ? (meta[key] as string) : fallback, what);
  const w = await source.weights.get('linear.weight', [dim, hiddenSize]);
  const skiplist = flag(meta.mask_punctuation, 'artifact.metadata mask_punctuation', true)
    ? PUNCTUATION.map((c) => tokenizer.tokenIds(c, false)[0]).filter((id): id is number => id !== undefined)
    : [];
  return {
    spec: {
      dim,
      queryLength: length(meta.query_maxlen, 'artifact.metadata query_maxlen', QUERY_LENGTH),
      documentLength: length(meta.doc_maxlen, 'artifact.metadata doc_maxlen', DOCUMENT_LENGTH),
      queryMarker: marker('query_token_id', '[unused0]', 'query marker'),
      documentMarker: marker('doc_token_id', '[unused1]', 'document marker'),
      expansionToken: maskToken(tokenizer, source.tokenizerConfig),
      attendExpansion: flag(meta.attend_to_mask_tokens, 'artifact.metadata attend_to_mask_tokens', false),
      skiplist: [...new Set(skiplist)].sort((a, b) => a - b),
      projection: ['identity'],
    },
    projection: [{ linear: quantizeLinear(w, dim, hiddenSize, new Float32Array(dim), 'f32'), activation: 'identity' }],
  };
}

const ACTIVATIONS: Record<string, LateInteractionSpec['projection'][number]> = {
  'torch.nn.modules.linear.Identity': 'identity',
  'torch.nn.modules.activation.Tanh': 'tanh',
};

/** One of PyLate's Dense modules, kept in f32 (a few hundred thousand numbers that every token goes through). */
async function pylateDense(d: DenseFiles, width: number): Promise<DenseModule & { activation: 'identity' | 'tanh' }> {
  const c = d.config;
  if (!isObject(c)) throw new ModelFormatError(`${d.path}/config.json is missing or not an object`);
  const rows = c.out_features;
  if (c.in_features !== width || typeof rows !== 'number' || !Number.isInteger(rows) || rows < 1)
    throw new ModelFormatError(`${d.path}/config.json: in_features must be ${width} and out_features a positive integer`);
  if (c.use_residual === true) throw new UnsupportedError(`${d.path} adds a residual (use_residual), which m3web does not run`);
  const activation = ACTIVATIONS[String(c.activation_function ?? 'torch.nn.modules.linear.Identity')];
  if (!activation)
    throw new UnsupportedError(`${d.path} uses activation ${JSON.stringify(c.activation_function)}; m3web runs Identity or Tanh`);
  if (!d.weights) throw new ModelFormatError(`${d.path} has neither model.safetensors nor pytorch_model.bin`);
  const w = await d.weights.get('linear.weight', [rows, width]);
  const b = c.bias !== false ? await d.weights.get('linear.bias', [rows]) : new Float32Array(rows);
  return { linear: quantizeLinear(w, rows, width, b, 'f32'), activation };
}

/**
 * PyLate (pylate/models/colbert.py): the prefixes are tokens of the saved tokenizer, put after the
 * first token; queries are padded with the mask token when do_query_expansion; the skiplist's
 * words are looked up as whole tokens (the unknown token's id where one is missing, as
 * convert_tokens_to_ids gives).
 */
async function pylate(
  source: LateInteractionSource,
  tokenizer: TextTokenizer,
  hiddenSize: number,
): Promise<LateInteractionCheckpoint> {
  const files = source.sentenceTransformers ?? {};
  const st = isObject(files.stConfig) ? files.stConfig : {};
  const prefix = (key: string, fallback: string, what: string) => {
    const p = st[key] ?? fallback;
    if (typeof p !== 'string') throw new ModelFormatError(`config_sentence_transformers.json ${key} must be a string`);
    return p === '' ? null : tokenOf(tokenizer, p, what);
  };
  const dense = files.dense ?? [];
  if (dense.length === 0) throw new ModelFormatError('a PyLate model needs its Dense projection (modules.json lists none)');
  const projection: (DenseModule & { activation: 'identity' | 'tanh' })[] = [];
  let width = hiddenSize;
  for (const d of dense) {
    const m = await pylateDense(d, width);
    projection.push(m);
    width = m.linear.rows;
  }
  const words = st.skiplist_words ?? PUNCTUATION;
  if (!Array.isArray(words) || words.some((w) => typeof w !== 'string'))
    throw new ModelFormatError('config_sentence_transformers.json skiplist_words must be a list of strings');
  const unknown = specialToken(tokenizer, source.tokenizerConfig, 'unk_token', ['[UNK]', '<unk>']);
  const skiplist = (words as string[]).map((w) => tokenizer.tokenId(w) ?? unknown).filter((id): id is number => id !== null);
  const expand = flag(st.do_query_expansion, 'config_sentence_transformers.json do_query_expansion', true);
  return {
    spec: {
      dim: width,
      queryLength: length(st.query_length, 'config_sentence_transformers.json query_length', QUERY_LENGTH),
      documentLength: length(st.document_length, 'config_sentence_transformers.json document_length', DOCUMENT_LENGTH),
      queryMarker: prefix('query_prefix', '[Q] ', 'query prefix'),
      documentMarker: prefix('document_prefix', '[D] ', 'document prefix'),
      expansionToken: expand ? maskToken(tokenizer, source.tokenizerConfig) : null,
      attendExpansion:
        expand && flag(st.attend_to_expansion_tokens, 'config_sentence_transformers.json attend_to_expansion_tokens', false),
      skiplist: [...new Set(skiplist)].sort((a, b) => a - b),
      projection: projection.map((m) => m.activation),
    },
    projection,
  };
}
