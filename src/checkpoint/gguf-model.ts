import { ModelFormatError, ModelNotFoundError, UnsupportedError } from '../errors.js';
import { GgufFile, ggufArray, ggufNumber } from './gguf.js';
import type { ByteSource, TensorSource } from './safetensors.js';
import type { SentenceTransformersFiles } from './sentence-transformers.js';

/**
 * What a GGUF file holds, in the shape of a Hugging Face folder (config.json, tokenizer.json, the
 * Pooling module, tensors under transformers' names), so it converts as a checkpoint does.
 */
export interface GgufCheckpoint {
  config: Record<string, unknown>;
  /** tokenizer.json, rebuilt from the vocabulary in the metadata. */
  tokenizer: Uint8Array;
  sentenceTransformers: SentenceTransformersFiles;
  weights: TensorSource;
}

/** gguf-py's TokenType. */
const UNKNOWN = 2;
const CONTROL = 3;
const UNUSED = 5;
const BYTE = 6;
/** llama.cpp's phantom space: what the converter puts before every word-initial WordPiece token. */
const PHANTOM = '\u2581';

/** llama.cpp's LLAMA_POOLING_TYPE_*: what `{arch}.pooling_type` says. */
const POOLINGS: Readonly<Record<number, string>> = {
  0: 'pooling_mode_mean_tokens',
  1: 'pooling_mode_mean_tokens',
  2: 'pooling_mode_cls_token',
  3: 'pooling_mode_lasttoken',
};

/** Transformers' BERT names for llama.cpp's, per layer (`blk.N.` + the GGUF name). */
const BERT_LAYER: readonly (readonly [string, string])[] = [
  ['attention.self.query', 'attn_q'],
  ['attention.self.key', 'attn_k'],
  ['attention.self.value', 'attn_v'],
  ['attention.output.dense', 'attn_output'],
  ['attention.output.LayerNorm', 'attn_output_norm'],
  ['intermediate.dense', 'ffn_up'],
  ['output.dense', 'ffn_down'],
  ['output.LayerNorm', 'layer_output_norm'],
];

/** Where a transformers tensor comes from: a GGUF tensor, some of its rows, with zero rows put before them. */
interface Mapped {
  gguf: string;
  shape: number[];
  /** Rows of the GGUF tensor: [from, from + shape[0] - zeroRows). */
  from: number;
  /** Zero rows before the GGUF tensor's (XLM-R's position table, which llama.cpp cuts). */
  zeroRows: number;
}

/** GGUF tensors under transformers' names (see Mapped), decoded to f32 a block of rows at a time. */
class GgufTensors implements TensorSource {
  constructor(
    private readonly file: GgufFile,
    private readonly map: ReadonlyMap<string, Mapped>,
  ) {}

  has = (name: string) => this.map.has(name);
  names = () => this.map.keys();
  shape = (name: string) => this.map.get(name)?.shape;

  private mapped(name: string, shape: readonly number[]): Mapped {
    const m = this.map.get(name);
    if (!m) throw new ModelFormatError(`${this.file.name}: missing tensor "${name}"`);
    if (m.shape.length !== shape.length || m.shape.some((d, i) => d !== shape[i]))
      throw new ModelFormatError(`${this.file.name}: tensor "${m.gguf}" has shape [${m.shape}], expected [${shape}]`);
    return m;
  }

  get(name: string, shape: readonly number[]): Promise<Float32Array> {
    return this.getRows(name, shape, 0, shape[0] ?? 1);
  }

  async getRows(name: string, shape: readonly number[], from: number, to: number): Promise<Float32Array> {
    const m = this.mapped(name, shape);
    const perRow = shape.slice(1).reduce((a, b) => a * b, 1);
    const zeros = Math.max(0, Math.min(to, m.zeroRows) - from);
    const first = Math.max(from, m.zeroRows) - m.zeroRows;
    const last = Math.max(to, m.zeroRows) - m.zeroRows;
    if (zeros === 0) return this.file.rows(m.gguf, m.from + first, m.from + last);
    const out = new Float32Array((to - from) * perRow);
    out.set(await this.file.rows(m.gguf, m.from + first, m.from + last), zeros * perRow);
    return out;
  }
}

const required = (file: GgufFile, key: string): number => {
  const v = ggufNumber(file, key);
  if (v === undefined) throw new ModelFormatError(`${file.name}: metadata ${key} is missing`);
  return v;
};

/** A tensor's rows as transformers names it; the fused q/k/v of some conversions is split into three. */
function bertTensors(file: GgufFile, layers: number, hidden: number, zeroPositions: number): Map<string, Mapped> {
  const map = new Map<string, Mapped>();
  const add = (hf: string, gguf: string, from = 0, rows?: number, zeroRows = 0) => {
    const info = file.tensors.get(gguf);
    if (!info) return;
    const shape = [...info.shape];
    shape[0] = (rows ?? (shape[0] as number)) + zeroRows;
    map.set(hf, { gguf, shape, from, zeroRows });
  };
  for (const p of ['weight', 'bias']) {
    add(`embeddings.LayerNorm.${p}`, `token_embd_norm.${p}`);
    for (let l = 0; l < layers; l++) {
      for (const [hf, gguf] of BERT_LAYER) add(`encoder.layer.${l}.${hf}.${p}`, `blk.${l}.${gguf}.${p}`);
      // Conversions that fuse the three projections store them as one [3 hidden, hidden] matrix.
      const qkv = `blk.${l}.attn_qkv.${p}`;
      if (file.tensors.has(qkv))
        for (const [i, k] of ['query', 'key', 'value'].entries())
          add(`encoder.layer.${l}.attention.self.${k}.${p}`, qkv, i * hidden, hidden);
    }
  }
  add('embeddings.word_embeddings.weight', 'token_embd.weight');
  add('embeddings.token_type_embeddings.weight', 'token_types.weight');
  add('embeddings.position_embeddings.weight', 'position_embd.weight', 0, undefined, zeroPositions);
  return map;
}

interface Vocab {
  tokens: string[];
  types: number[];
  /** The id named by `tokenizer.ggml.{key}_token_id`, else the id of `fallback`. */
  special(key: string, fallback: string): number;
}

function vocabOf(file: GgufFile): Vocab {
  const tokens = ggufArray(file, 'tokenizer.ggml.tokens', 'string');
  if (!tokens || tokens.length === 0)
    throw new ModelFormatError(`${file.name} has no tokenizer.ggml.tokens: m3web needs the vocabulary`);
  const types = ggufArray(file, 'tokenizer.ggml.token_type', 'number') ?? tokens.map(() => 1);
  if (types.length !== tokens.length)
    throw new ModelFormatError(`${file.name}: ${types.length} token types for ${tokens.length} tokens`);
  return {
    tokens,
    types,
    special(key, fallback) {
      const id = ggufNumber(file, `tokenizer.ggml.${key}_token_id`);
      const found = id !== undefined && Number.isInteger(id) && id >= 0 && id < tokens.length ? id : tokens.indexOf(fallback);
      if (found < 0) throw new ModelFormatError(`${file.name} names no ${key} token and has no ${fallback}`);
      return found;
    },
  };
}

const addedToken = (id: number, content: string) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

/** The post-processor's template: `first A last`, and for pairs `first A last (mid) B last`. */
function template(first: [string, number], last: [string, number], pairMid: boolean) {
  const tok = (id: string, type = 0) => ({ SpecialToken: { id, type_id: type } });
  const seq = (id: string, type: number) => ({ Sequence: { id, type_id: type } });
  const typeB = pairMid ? 0 : 1;
  return {
    type: 'TemplateProcessing',
    single: [tok(first[0]), seq('A', 0), tok(last[0])],
    pair: [tok(first[0]), seq('A', 0), tok(last[0]), ...(pairMid ? [tok(last[0])] : []), seq('B', typeB), tok(last[0], typeB)],
    special_tokens: Object.fromEntries([first, last].map(([t, id]) => [t, { id: t, ids: [id], tokens: [t] }])),
  };
}

const flag = (file: GgufFile, key: string): boolean | undefined => {
  const v = file.metadata.get(key);
  return typeof v === 'boolean' ? v : undefined;
};

/**
 * tokenizer.json for a WordPiece vocabulary (tokenizer.ggml.model "bert"), undoing the
 * converter's phantom space: a token it prefixed with U+2581 starts a word, any other
 * non-control token continues one (WordPiece's "##"). Casing comes from the normalizer keys newer
 * converters write; older files do not record it: a vocabulary with upper-case letters is then
 * cased, one without is lower-cased with accents stripped, as BERT's uncased tokenizers do.
 */
function wordPieceJson(file: GgufFile, v: Vocab): unknown {
  const vocab: Record<string, number> = {};
  const added: ReturnType<typeof addedToken>[] = [];
  let cased = false;
  v.tokens.forEach((t, id) => {
    const type = v.types[id];
    let piece = t;
    if (type === CONTROL) added.push(addedToken(id, t));
    else if (t.startsWith(PHANTOM)) piece = t.slice(PHANTOM.length);
    // Older converters left bracketed tokens ([unused0]) as they were, as they still do unused slots.
    else if (type !== UNUSED && !/^\[.*\]$/s.test(t)) piece = `##${t}`;
    if (type !== CONTROL && piece !== piece.toLowerCase()) cased = true;
    if (!Object.hasOwn(vocab, piece)) vocab[piece] = id;
  });
  const cls = v.special('cls', '[CLS]');
  const sep = v.special('seperator', '[SEP]');
  const unk = v.tokens[v.special('unknown', '[UNK]')] as string;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: flag(file, 'tokenizer.ggml.normalizer.strip_accents') ?? null,
      lowercase: flag(file, 'tokenizer.ggml.normalizer.lowercase') ?? !cased,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: template([v.tokens[cls] as string, cls], [v.tokens[sep] as string, sep], false),
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: unk.startsWith(PHANTOM) ? unk.slice(PHANTOM.length) : unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

const base64 = (bytes: readonly number[]) => {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.slice(i, i + 0x8000).map((b) => b & 0xff));
  return btoa(text);
};

/**
 * tokenizer.json for a SentencePiece Unigram vocabulary (tokenizer.ggml.model "t5": what the
 * converter writes for XLM-R models, ids already in transformers' order): the pieces and their
 * scores, the normalizer's precompiled character map, whitespace as the metadata says, and
 * XLM-R's `<s> A </s></s> B </s>` template.
 */
function unigramJson(file: GgufFile, v: Vocab): unknown {
  const scores = ggufArray(file, 'tokenizer.ggml.scores', 'number') ?? v.tokens.map(() => 0);
  if (scores.length !== v.tokens.length)
    throw new ModelFormatError(`${file.name}: ${scores.length} token scores for ${v.tokens.length} tokens`);
  const charsmap = ggufArray(file, 'tokenizer.ggml.precompiled_charsmap', 'number');
  const prefix = file.metadata.get('tokenizer.ggml.add_space_prefix') === false ? 'never' : 'always';
  const collapse = file.metadata.get('tokenizer.ggml.remove_extra_whitespaces') !== false;
  const normalizers = [
    ...(charsmap?.length ? [{ type: 'Precompiled', precompiled_charsmap: base64(charsmap) }] : []),
    ...(collapse ? [{ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] : []),
  ];
  const unk = v.types.indexOf(UNKNOWN);
  const bos = v.special('cls', '<s>');
  const eos = v.special('seperator', '</s>');
  const metaspace = { type: 'Metaspace', replacement: PHANTOM, prepend_scheme: prefix, split: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: v.tokens.flatMap((t, id) => (v.types[id] === CONTROL || v.types[id] === UNKNOWN ? [addedToken(id, t)] : [])),
    normalizer: normalizers.length ? { type: 'Sequence', normalizers } : null,
    pre_tokenizer: metaspace,
    post_processor: template([v.tokens[bos] as string, bos], [v.tokens[eos] as string, eos], true),
    decoder: metaspace,
    model: {
      type: 'Unigram',
      unk_id: unk < 0 ? null : unk,
      vocab: v.tokens.map((t, i) => [t, scores[i]]),
      byte_fallback: v.types.includes(BYTE),
    },
  };
}

const SUPPORTED =
  'bert: BERT, MiniLM, BGE, E5, arctic-embed, mxbai-embed... (a WordPiece vocabulary) and XLM-R (a SentencePiece one: multilingual-e5, BGE-M3...)';

/**
 * Opens a GGUF file (llama.cpp's format, as Hugging Face GGUF repositories and Ollama ship
 * embedding models) as a Hugging Face checkpoint: config from the `{arch}.*` metadata, the
 * tokenizer rebuilt from the vocabulary, pooling from `{arch}.pooling_type`, tensors under
 * transformers' names, decoded from their ggml types when read.
 */
export async function openGguf(source: ByteSource): Promise<GgufCheckpoint> {
  const file = await GgufFile.open(source);
  const arch = file.metadata.get('general.architecture');
  if (arch !== 'bert')
    throw new UnsupportedError(`${file.name} is a GGUF of architecture ${JSON.stringify(arch)}; m3web reads ${SUPPORTED}`);
  const tokenizerModel = file.metadata.get('tokenizer.ggml.model');
  // The converter writes XLM-R models as "bert" with their SentencePiece vocabulary ("t5").
  const xlmr = tokenizerModel === 't5';
  if (tokenizerModel !== 'bert' && !xlmr)
    throw new UnsupportedError(
      `${file.name} has a ${JSON.stringify(tokenizerModel)} tokenizer; m3web rebuilds WordPiece ("bert") and SentencePiece Unigram ("t5") vocabularies from GGUF`,
    );
  const pooling = ggufNumber(file, `${arch}.pooling_type`) ?? 1;
  const poolingKey = POOLINGS[pooling];
  if (!poolingKey)
    throw new UnsupportedError(
      `${file.name} pools by llama.cpp's pooling type ${pooling}${pooling === 4 ? ' (rank: a reranker)' : ''}; m3web reads GGUF embedders (mean, CLS or last token)`,
    );
  const hidden = required(file, `${arch}.embedding_length`);
  const layers = required(file, `${arch}.block_count`);
  const vocab = vocabOf(file);
  const types = file.tensors.get('token_types.weight')?.shape[0];
  const pad = ggufNumber(file, 'tokenizer.ggml.padding_token_id') ?? (xlmr ? 1 : undefined);
  // XLM-R's positions start after the padding id; llama.cpp cut those rows off, so zero rows stand in for them.
  const skipped = xlmr ? (pad as number) + 1 : 0;
  const positions = (file.tensors.get('position_embd.weight')?.shape[0] ?? required(file, `${arch}.context_length`)) + skipped;
  const config = {
    architectures: [xlmr ? 'XLMRobertaModel' : 'BertModel'],
    model_type: xlmr ? 'xlm-roberta' : 'bert',
    vocab_size: vocab.tokens.length,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: required(file, `${arch}.attention.head_count`),
    intermediate_size: required(file, `${arch}.feed_forward_length`),
    hidden_act: 'gelu',
    max_position_embeddings: positions,
    type_vocab_size: types ?? 0,
    layer_norm_eps: ggufNumber(file, `${arch}.attention.layer_norm_epsilon`) ?? 1e-12,
    ...(pad === undefined ? {} : { pad_token_id: pad }),
  };
  const tokenizer = new TextEncoder().encode(JSON.stringify(xlmr ? unigramJson(file, vocab) : wordPieceJson(file, vocab)));
  return {
    config,
    tokenizer,
    sentenceTransformers: { pooling: { [poolingKey]: true } },
    weights: new GgufTensors(file, bertTensors(file, layers, hidden, skipped)),
  };
}

/** Quantizations by preference where a folder or repository holds several: m3web requantizes to its own storage, so the closest to the original first. */
const GGUF_PREFERENCE = [
  'Q8_0',
  'F16',
  'BF16',
  'F32',
  'Q6_K',
  'Q5_K_M',
  'Q5_K_S',
  'Q5_1',
  'Q5_0',
  'Q4_K_M',
  'Q4_K_S',
  'Q4_1',
  'Q4_0',
];

const hasTag = (file: string, tag: string) =>
  new RegExp(`(^|[^A-Za-z0-9])${tag.replace(/[.]/g, '\\.')}([^A-Za-z0-9]|$)`, 'i').test(file.replace(/\.gguf$/i, ''));

/**
 * The GGUF file to read among `files` (paths in a folder or repository): the one whose name
 * carries `tag` (a quantization such as Q8_0, as llama.cpp's `-hf repo:TAG` names it), else the
 * best by GGUF_PREFERENCE; null when there is no .gguf file. Vision projectors and split files
 * are not models m3web reads.
 */
export function pickGgufFile(files: readonly string[], tag?: string): string | null {
  const models = files.filter((f) => /\.gguf$/i.test(f) && !/mmproj/i.test(f)).sort();
  if (models.length === 0) return null;
  const isSplit = (f: string) => /-\d{5}-of-\d{5}\.gguf$/i.test(f);
  const chosen =
    tag === undefined
      ? (GGUF_PREFERENCE.map((q) => models.find((f) => hasTag(f, q))).find((f) => f !== undefined) ?? models[0])
      : models.find((f) => hasTag(f, tag));
  if (!chosen) throw new ModelNotFoundError(`no GGUF file named for ${tag} among ${models.join(', ')}`);
  if (isSplit(chosen)) throw new UnsupportedError(`${chosen} is one part of a split GGUF; m3web reads single-file GGUF models`);
  return chosen;
}
