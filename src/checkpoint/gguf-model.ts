import { ModelFormatError, ModelNotFoundError, UnsupportedError } from '../errors.js';
import { JINA_V5_PREFIXES } from '../weights/jina-v5.js';
import { GgufFile, ggufNumber } from './gguf.js';
import { ggufConfig, requiredNumber } from './gguf-config.js';
import { byteLevelBpeJson, sentencePieceBpeJson, unigramJson, type Vocab, vocabOf, wordPieceJson } from './gguf-tokenizer.js';
import type { ByteSource, TensorSource } from './safetensors.js';
import type { DenseFiles, SentenceTransformersFiles } from './sentence-transformers.js';

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

/**
 * llama.cpp's LLAMA_POOLING_TYPE_*: what `{arch}.pooling_type` says. NONE (0), llama.cpp's
 * per-token default, and a file that says nothing pool as the architecture's family does.
 */
const POOLINGS: Readonly<Record<number, string>> = {
  1: 'pooling_mode_mean_tokens',
  2: 'pooling_mode_cls_token',
  3: 'pooling_mode_lasttoken',
};

/** What m3web knows of one architecture (ARCHITECTURES). */
interface Family {
  names: TensorNames;
  pooling: number;
  vocabularies: Readonly<Record<string, (file: GgufFile, v: Vocab) => unknown>>;
}

/** Qwen3-Embedding, by name: its prompt, and the token it ends every text with (qwenFrame). */
const QWEN3_EMBEDDING = /qwen3[-_ ]?embedding/i;

/**
 * The prompts of models whose cards ask for them (config_sentence_transformers.json's, which a
 * GGUF does not carry), by the model's name in the file (`general.name`, `general.basename`) or
 * the file's own name: without them `kind: 'query'` would add nothing.
 */
const KNOWN_PROMPTS: readonly { name: RegExp; prompts: Record<string, string> }[] = [
  {
    name: QWEN3_EMBEDDING,
    prompts: { query: 'Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:' },
  },
  {
    name: /nomic[-_ ]embed[-_ ]text[-_ ]v(1|2[-_ ]moe)|modernbert[-_ ]embed/i,
    prompts: { query: 'search_query: ', document: 'search_document: ' },
  },
  { name: /embedding[-_ ]?gemma/i, prompts: { query: 'task: search result | query: ', document: 'title: none | text: ' } },
  // Jina's own files are named v5-nano-retrieval-F16.gguf and the like.
  {
    name: /jina[-_ ]embeddings[-_ ]v5|(^|[^a-z0-9])v5[-_ ](nano|small)[-_ ]/i,
    prompts: { query: JINA_V5_PREFIXES.query, document: JINA_V5_PREFIXES.passage },
  },
];

/** Whether the model's name in the file (`general.name`, `general.basename`) or the file's own name matches. */
function isNamed(file: GgufFile, name: RegExp): boolean {
  const names = [file.metadata.get('general.name'), file.metadata.get('general.basename'), file.name];
  return names.some((n) => typeof n === 'string' && name.test(n));
}

const knownPrompts = (file: GgufFile): Record<string, string> | undefined =>
  KNOWN_PROMPTS.find((k) => isNamed(file, k.name))?.prompts;

/** Rows [from, from + rows) of one GGUF tensor. */
interface Part {
  gguf: string;
  from: number;
  rows: number;
  /** Values in a row where a 3-D tensor is read as a matrix (GgufFile.rows). */
  width?: number;
}

/**
 * Where a transformers tensor comes from: `zeroRows` rows of zeros (XLM-R's position rows, which
 * llama.cpp cuts), then the rows of one or more GGUF tensors in order (a matrix the converter split).
 */
interface Mapped {
  shape: number[];
  zeroRows: number;
  parts: Part[];
  /** Subtracted from every value: the 1 llama.cpp's converter adds to Gemma's norms, which the Gemma reader adds itself. */
  less?: number;
  /**
   * The file holds each block of this many rows transposed (llama.cpp's experts' down projections,
   * [experts, hidden, inner], for transformers' stacked [experts x inner, hidden]).
   */
  transposedBlocks?: number;
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
      throw new ModelFormatError(
        `${this.file.name}: tensor "${m.parts.map((p) => p.gguf).join('" + "')}" has shape [${m.shape}], expected [${shape}]`,
      );
    return m;
  }

  get(name: string, shape: readonly number[]): Promise<Float32Array> {
    return this.getRows(name, shape, 0, shape[0] ?? 1);
  }

  async getRows(name: string, shape: readonly number[], from: number, to: number): Promise<Float32Array> {
    const m = this.mapped(name, shape);
    const rows = m.transposedBlocks ? await this.untransposed(m, m.transposedBlocks, from, to) : await this.decoded(m, from, to);
    const less = m.less;
    return less ? rows.map((v) => v - less) : rows;
  }

  /** Whole blocks only: each is one row of the file's first dimension, [cols, n] there and [n, cols] here. */
  private async untransposed(m: Mapped, n: number, from: number, to: number): Promise<Float32Array> {
    const part = m.parts[0] as Part;
    if (from % n !== 0 || to % n !== 0)
      throw new RangeError(`${this.file.name}: rows ${from}..${to} of "${part.gguf}" are not whole blocks of ${n}`);
    const cols = m.shape[1] as number;
    const out = new Float32Array((to - from) * cols);
    for (let b = from / n; b < to / n; b++) {
      const block = await this.file.rows(part.gguf, b, b + 1);
      const at = (b * n - from) * cols;
      for (let c = 0; c < cols; c++) for (let r = 0; r < n; r++) out[at + r * cols + c] = block[c * n + r] as number;
    }
    return out;
  }

  private async decoded({ shape, zeroRows, parts }: Mapped, from: number, to: number): Promise<Float32Array> {
    const only = parts[0] as Part;
    if (parts.length === 1 && from >= zeroRows)
      return this.file.rows(only.gguf, only.from + from - zeroRows, only.from + to - zeroRows, only.width);
    const perRow = shape.slice(1).reduce((a, b) => a * b, 1);
    const out = new Float32Array((to - from) * perRow);
    let start = zeroRows;
    for (const part of parts) {
      const lo = Math.max(from, start);
      const hi = Math.min(to, start + part.rows);
      if (lo < hi)
        out.set(
          await this.file.rows(part.gguf, part.from + lo - start, part.from + hi - start, part.width),
          (lo - from) * perRow,
        );
      start += part.rows;
    }
    return out;
  }
}

/** Transformers' names of an architecture's tensors, by llama.cpp's (`blk.N.` + the name, per layer). */
interface TensorNames {
  /** Those outside the layers. */
  outside: readonly (readonly [string, string])[];
  layer: (l: number) => string;
  layers: readonly (readonly [string, string])[];
  /** BERT's separate query / key / value, which some conversions fuse into one `attn_qkv`. */
  splitsQkv?: boolean;
  /** A matrix older converters split into `ffn_gate` (its first rows) and `ffn_up` (the rest). */
  gatedUp?: string;
  /** The converter stored Gemma's RMSNorm factors as (1 + w). */
  normsPlusOne?: boolean;
  /** Mixture-of-experts layers: llama.cpp's `ffn_up_exps` / `ffn_down_exps` as NomicBERT's stacked experts. */
  experts?: boolean;
}

/** The word and token-type tables, under the same names in every architecture here. */
const TABLES = [
  ['embeddings.word_embeddings', 'token_embd'],
  ['embeddings.token_type_embeddings', 'token_types'],
] as const;

const BERT_NAMES: TensorNames = {
  outside: [...TABLES, ['embeddings.LayerNorm', 'token_embd_norm']],
  layer: (l) => `encoder.layer.${l}.`,
  layers: [
    ['attention.self.query', 'attn_q'],
    ['attention.self.key', 'attn_k'],
    ['attention.self.value', 'attn_v'],
    ['attention.output.dense', 'attn_output'],
    ['attention.output.LayerNorm', 'attn_output_norm'],
    ['intermediate.dense', 'ffn_up'],
    ['output.dense', 'ffn_down'],
    ['output.LayerNorm', 'layer_output_norm'],
  ],
  splitsQkv: true,
};

/** NomicBertModel's names: fused q/k/v, SwiGLU's fc11 (up) and fc12 (the gate), llama.cpp's ffn_up and ffn_gate. */
const NOMIC_NAMES: TensorNames = {
  outside: [...TABLES, ['emb_ln', 'token_embd_norm']],
  layer: (l) => `encoder.layers.${l}.`,
  layers: [
    ['attn.Wqkv', 'attn_qkv'],
    ['attn.out_proj', 'attn_output'],
    ['norm1', 'attn_output_norm'],
    ['mlp.fc11', 'ffn_up'],
    ['mlp.fc12', 'ffn_gate'],
    ['mlp.fc2', 'ffn_down'],
    ['norm2', 'layer_output_norm'],
  ],
};

/**
 * nomic-embed-text-v2-moe's names: NomicBERT's attention, GELU's fc1 / fc2 where a layer has no
 * experts, the router where it has (tensorMap maps the experts themselves).
 */
const NOMIC_MOE_NAMES: TensorNames = {
  ...NOMIC_NAMES,
  layers: [
    ...NOMIC_NAMES.layers.filter(([hf]) => !hf.startsWith('mlp.')),
    ['mlp.fc1', 'ffn_up'],
    ['mlp.fc2', 'ffn_down'],
    ['mlp.router.layer', 'ffn_gate_inp'],
  ],
  experts: true,
};

/**
 * JinaBERT v2's names: BERT's attention, the GeGLU feed-forward `mlp.gated_layers` (GELU'd rows
 * first), `mlp.wo` and `mlp.layernorm`; no position table (ALiBi). Current converters write
 * gated_layers whole as `ffn_up`; older ones split it, the GELU'd half as `ffn_gate`, the other as
 * `ffn_up` (tensorMap joins them again).
 */
const JINA_NAMES: TensorNames = {
  ...BERT_NAMES,
  gatedUp: 'mlp.gated_layers',
  layers: [
    ...BERT_NAMES.layers.filter(([hf]) => !['intermediate.dense', 'output.dense', 'output.LayerNorm'].includes(hf)),
    ['mlp.gated_layers', 'ffn_up'],
    ['mlp.wo', 'ffn_down'],
    ['mlp.layernorm', 'layer_output_norm'],
  ],
};

/**
 * Qwen3Model's names (sentence-transformers saves Qwen3-Embedding without the `model.` prefix).
 * llama.cpp rotates Qwen's queries and keys as transformers does (NEOX order), so the converter
 * stores q and k as they are, unpermuted.
 */
const QWEN3_NAMES: TensorNames = {
  outside: [
    ['embed_tokens', 'token_embd'],
    ['norm', 'output_norm'],
  ],
  layer: (l) => `layers.${l}.`,
  layers: [
    ['input_layernorm', 'attn_norm'],
    ['self_attn.q_proj', 'attn_q'],
    ['self_attn.k_proj', 'attn_k'],
    ['self_attn.v_proj', 'attn_v'],
    ['self_attn.o_proj', 'attn_output'],
    ['self_attn.q_norm', 'attn_q_norm'],
    ['self_attn.k_norm', 'attn_k_norm'],
    ['post_attention_layernorm', 'ffn_norm'],
    ['mlp.gate_proj', 'ffn_gate'],
    ['mlp.up_proj', 'ffn_up'],
    ['mlp.down_proj', 'ffn_down'],
  ],
};

/** EuroBertModel's names are Qwen3's, and it has no query / key norms (a file holding them is refused). */
const EUROBERT_NAMES = QWEN3_NAMES;

/**
 * Gemma3TextModel's names, as EmbeddingGemma's checkpoint keeps them: Qwen3's, with Gemma's norms
 * around each sub-layer's output.
 */
const GEMMA_NAMES: TensorNames = {
  ...QWEN3_NAMES,
  layers: [
    ...QWEN3_NAMES.layers.filter(([hf]) => hf !== 'post_attention_layernorm'),
    ['post_attention_layernorm', 'post_attention_norm'],
    ['pre_feedforward_layernorm', 'ffn_norm'],
    ['post_feedforward_layernorm', 'post_ffw_norm'],
  ],
  normsPlusOne: true,
};

/** ModernBertModel's names; layer 0 has no attn_norm (transformers' Identity), which the reader knows. */
const MODERN_NAMES: TensorNames = {
  outside: [
    ['embeddings.tok_embeddings', 'token_embd'],
    ['embeddings.norm', 'token_embd_norm'],
    ['final_norm', 'output_norm'],
  ],
  layer: (l) => `layers.${l}.`,
  layers: [
    ['attn_norm', 'attn_norm'],
    ['attn.Wqkv', 'attn_qkv'],
    ['attn.Wo', 'attn_output'],
    ['mlp_norm', 'ffn_norm'],
    ['mlp.Wi', 'ffn_up'],
    ['mlp.Wo', 'ffn_down'],
  ],
};

/**
 * Per architecture m3web reads: its tensor names, how its family pools, and the vocabularies its
 * files hold (`tokenizer.ggml.model`) with the tokenizer.json each is rebuilt as. The converter
 * writes XLM-R models as "bert" with their SentencePiece vocabulary ("t5"), RoBERTa ones with their
 * byte-level BPE ("gpt2").
 */
const ARCHITECTURES: Readonly<Record<string, Family>> = {
  bert: {
    names: BERT_NAMES,
    pooling: 1,
    vocabularies: {
      bert: wordPieceJson,
      t5: unigramJson,
      // RoBERTa's: SpecialVocab reads its RobertaProcessing as add_bos / add_eos, <s> and </s>.
      gpt2: (file, v) => byteLevelBpeJson(file, v, ...flagged(file, v, '<s>', '</s>')),
    },
  },
  'nomic-bert': { names: NOMIC_NAMES, pooling: 1, vocabularies: { bert: wordPieceJson } },
  'nomic-bert-moe': { names: NOMIC_MOE_NAMES, pooling: 1, vocabularies: { t5: unigramJson, bert: wordPieceJson } },
  'jina-bert-v2': { names: JINA_NAMES, pooling: 1, vocabularies: { bert: wordPieceJson } },
  qwen3: {
    names: QWEN3_NAMES,
    pooling: 3,
    vocabularies: { gpt2: (file, v) => byteLevelBpeJson(file, v, ...qwenFrame(file, v)) },
  },
  // jina-embeddings-v5-text-nano, the EuroBERT embedder the converter reads, pools the last token.
  eurobert: {
    names: EUROBERT_NAMES,
    pooling: 3,
    vocabularies: { gpt2: (file, v) => byteLevelBpeJson(file, v, ...flagged(file, v, '<|begin_of_text|>', '<|end_of_text|>')) },
  },
  'gemma-embedding': { names: GEMMA_NAMES, pooling: 1, vocabularies: { llama: sentencePieceBpeJson } },
  // The converter sets add_bos / add_eos for every ModernBERT, whose SpecialVocab names [CLS] and [SEP] for them.
  'modern-bert': {
    names: MODERN_NAMES,
    pooling: 1,
    vocabularies: { gpt2: (file, v) => byteLevelBpeJson(file, v, ...flagged(file, v, '[CLS]', '[SEP]')) },
  },
};

/**
 * The file's tensors under transformers' names. Conversions that fuse BERT's three projections
 * (`attn_qkv`) have them split into three; XLM-R's position table gets `zeroPositions` rows back.
 */
function tensorMap(
  file: GgufFile,
  names: TensorNames,
  layers: number,
  hidden: number,
  zeroPositions: number,
): Map<string, Mapped> {
  const map = new Map<string, Mapped>();
  const add = (hf: string, gguf: string, from = 0, rows?: number, zeroRows = 0) => {
    const info = file.tensors.get(gguf);
    if (!info) return;
    const part = { gguf, from, rows: rows ?? (info.shape[0] as number) };
    const less = names.normsPlusOne && /norm\.weight$/.test(hf) ? 1 : 0;
    map.set(hf, { shape: [part.rows + zeroRows, ...info.shape.slice(1)], zeroRows, parts: [part], less });
  };
  // An older JinaBERT conversion's split feed-forward: the GELU'd half (ffn_gate) first, as transformers stores it.
  const join = (hf: string, first: string, second: string) => {
    const [a, b] = [file.tensors.get(first), file.tensors.get(second)];
    if (!a || !b) return;
    const parts = [a, b].map((t) => ({ gguf: t.name, from: 0, rows: t.shape[0] as number }));
    map.set(hf, { shape: [(a.shape[0] as number) + (b.shape[0] as number), ...a.shape.slice(1)], zeroRows: 0, parts });
  };
  for (const p of ['weight', 'bias']) {
    for (const [hf, gguf] of names.outside) add(`${hf}.${p}`, `${gguf}.${p}`);
    for (let l = 0; l < layers; l++) {
      for (const [hf, gguf] of names.layers) add(`${names.layer(l)}${hf}.${p}`, `blk.${l}.${gguf}.${p}`);
      const qkv = `blk.${l}.attn_qkv.${p}`;
      if (names.splitsQkv && file.tensors.has(qkv))
        for (const [i, k] of ['query', 'key', 'value'].entries())
          add(`${names.layer(l)}attention.self.${k}.${p}`, qkv, i * hidden, hidden);
      if (names.gatedUp) join(`${names.layer(l)}${names.gatedUp}.${p}`, `blk.${l}.ffn_gate.${p}`, `blk.${l}.ffn_up.${p}`);
    }
  }
  add('embeddings.position_embeddings.weight', 'position_embd.weight', 0, undefined, zeroPositions);
  if (names.experts) for (let l = 0; l < layers; l++) mapExperts(file, map, `${names.layer(l)}mlp.experts.`, l);
  return map;
}

/**
 * One layer's experts, where it has them, under NomicMoELayer's names: `ffn_up_exps` [E, I, H] is
 * `mlp.w1` [E x I, H] as it is; `ffn_down_exps` holds each expert's `mlp.w2` block transposed,
 * [E, H, I]. The converter drops the experts' shared output `bias` and llama.cpp runs without it:
 * zeros here too, so a file gives the vectors llama.cpp gives.
 */
function mapExperts(file: GgufFile, map: Map<string, Mapped>, at: string, l: number): void {
  const up = file.tensors.get(`blk.${l}.ffn_up_exps.weight`);
  const down = file.tensors.get(`blk.${l}.ffn_down_exps.weight`);
  if (!up || !down) return;
  const [E, I, H] = up.shape as [number, number, number];
  if (up.shape.length !== 3 || down.shape.join() !== [E, H, I].join())
    throw new ModelFormatError(`${file.name}: experts of layer ${l} shaped [${up.shape}] and [${down.shape}]`);
  map.set(`${at}mlp.w1`, { shape: [E * I, H], zeroRows: 0, parts: [{ gguf: up.name, from: 0, rows: E * I, width: H }] });
  map.set(`${at}mlp.w2`, { shape: [E * I, H], zeroRows: 0, parts: [{ gguf: down.name, from: 0, rows: E }], transposedBlocks: I });
  map.set(`${at}bias`, { shape: [H], zeroRows: H, parts: [] });
}

/**
 * A tensor no name reaches is a part of the model m3web would leave out (jina-embeddings-v2-base-code's
 * query / key norms, a classifier): refused rather than run without it.
 */
function refuseUnread(file: GgufFile, maps: readonly ReadonlyMap<string, Mapped>[]): void {
  const used = new Set(maps.flatMap((map) => [...map.values()].flatMap((m) => m.parts.map((p) => p.gguf))));
  const left = [...file.tensors.keys()].filter((t) => !used.has(t));
  if (left.length > 0)
    throw new UnsupportedError(
      `${file.name} holds tensors m3web does not run: ${left.slice(0, 6).join(', ')}${left.length > 6 ? ', ...' : ''}`,
    );
}

/**
 * EmbeddingGemma's projections after pooling (sentence-transformers' 2_Dense and 3_Dense, 768 ->
 * 3072 -> 768, no bias, no activation), which llama.cpp's converter writes as `dense_2` and
 * `dense_3` when asked to. A file without them would give the mean of the last layer, which is
 * not EmbeddingGemma's embedding (nor its Matryoshka widths): refused.
 */
function gemmaDense(file: GgufFile): { files: DenseFiles[]; maps: Map<string, Mapped>[] } {
  const found = ['dense_2', 'dense_3'].map((n) => file.tensors.get(`${n}.weight`));
  if (found.some((t) => t === undefined))
    throw new UnsupportedError(
      `${file.name} is EmbeddingGemma without its Dense projections (dense_2, dense_3), as llama.cpp converted it before --sentence-transformers-dense-modules: its vectors would not be EmbeddingGemma's; use a file converted with them (ggml-org/embeddinggemma-300M-GGUF) or the original checkpoint`,
    );
  const maps = found.map((t) => {
    const info = t as NonNullable<typeof t>;
    const rows = info.shape[0] as number;
    return new Map([['linear.weight', { shape: [...info.shape], zeroRows: 0, parts: [{ gguf: info.name, from: 0, rows }] }]]);
  });
  const files = found.map((t, i) => {
    const [out, inp] = (t as NonNullable<typeof t>).shape as [number, number];
    const config = { in_features: inp, out_features: out, bias: false, activation_function: 'torch.nn.modules.linear.Identity' };
    return { path: `${i + 2}_Dense`, config, weights: new GgufTensors(file, maps[i] as Map<string, Mapped>) };
  });
  return { files, maps };
}

const SUPPORTED =
  'bert (BERT, MiniLM, BGE, E5, arctic-embed, mxbai-embed... with a WordPiece vocabulary; XLM-R with a SentencePiece one: multilingual-e5, BGE-M3...; RoBERTa with a byte-level BPE one: granite-embedding-30m / 125m-english, all-distilroberta-v1...), nomic-bert (nomic-embed-text v1, v1.5), nomic-bert-moe (nomic-embed-text-v2-moe), jina-bert-v2 (jina-embeddings-v2-*-en), qwen3 (Qwen3-Embedding, jina-embeddings-v5-text-small), eurobert (jina-embeddings-v5-text-nano), gemma-embedding (EmbeddingGemma, with its Dense projections) and modern-bert (ModernBERT embedders: gte-modernbert, modernbert-embed, granite-embedding-english-r2)';

/**
 * Opens a GGUF file (llama.cpp's format, as Hugging Face GGUF repositories and Ollama ship
 * embedding models) as a Hugging Face checkpoint: config from the `{arch}.*` metadata, the
 * tokenizer rebuilt from the vocabulary, pooling from `{arch}.pooling_type`, tensors under
 * transformers' names, decoded from their ggml types when read.
 */
export async function openGguf(source: ByteSource): Promise<GgufCheckpoint> {
  const file = await GgufFile.open(source);
  const arch = file.metadata.get('general.architecture');
  const family = typeof arch === 'string' && Object.hasOwn(ARCHITECTURES, arch) ? ARCHITECTURES[arch] : undefined;
  if (typeof arch !== 'string' || family === undefined)
    throw new UnsupportedError(`${file.name} is a GGUF of architecture ${JSON.stringify(arch)}; m3web reads ${SUPPORTED}`);
  const tokenizerModel = file.metadata.get('tokenizer.ggml.model');
  const rebuild = typeof tokenizerModel === 'string' ? family.vocabularies[tokenizerModel] : undefined;
  if (!rebuild)
    throw new UnsupportedError(
      `${file.name} is ${arch} with a ${JSON.stringify(tokenizerModel)} tokenizer; m3web rebuilds ${Object.keys(
        family.vocabularies,
      )
        .map((m) => JSON.stringify(m))
        .join(' and ')} vocabularies for it`,
    );
  // The converter writes XLM-R (SentencePiece) and RoBERTa (byte-level BPE) models as "bert".
  const roberta = arch !== 'bert' ? null : tokenizerModel === 't5' ? 'xlm-roberta' : tokenizerModel === 'gpt2' ? 'roberta' : null;
  const stated = ggufNumber(file, `${arch}.pooling_type`) ?? 0;
  const pooling = stated === 0 ? family.pooling : stated;
  const poolingKey = POOLINGS[pooling];
  if (!poolingKey)
    throw new UnsupportedError(
      `${file.name} pools by llama.cpp's pooling type ${pooling}${pooling === 4 ? ' (rank: a reranker)' : ''}; m3web reads GGUF embedders (mean, CLS or last token)`,
    );
  const vocab = vocabOf(file);
  const { config, zeroPositions } = ggufConfig(file, arch, vocab.tokens.length, roberta);
  const layers = requiredNumber(file, `${arch}.block_count`);
  const hidden = requiredNumber(file, `${arch}.embedding_length`);
  const json = rebuild(file, vocab);
  const map = tensorMap(file, family.names, layers, hidden, zeroPositions);
  const dense = arch === 'gemma-embedding' ? gemmaDense(file) : { files: [], maps: [] };
  refuseUnread(file, [map, ...dense.maps]);
  return {
    config,
    tokenizer: new TextEncoder().encode(JSON.stringify(json)),
    sentenceTransformers: {
      pooling: { [poolingKey]: true },
      stConfig: { prompts: knownPrompts(file) },
      ...(dense.files.length > 0 ? { dense: dense.files } : {}),
    },
    weights: new GgufTensors(file, map),
  };
}

/**
 * The tokens llama.cpp adds around a text where the file says to (add_bos_token, add_eos_token),
 * by the file's ids or, where it names none, these tokens: jina-embeddings-v5-text-nano's
 * tokenizer appends `<|end_of_text|>` and the converter writes add_eos_token so.
 */
function flagged(file: GgufFile, vocab: Vocab, bos: string, eos: string): [number | null, number | null] {
  const says = (key: string) => file.metadata.get(`tokenizer.ggml.add_${key}_token`) === true;
  return [says('bos') ? vocab.special('bos', bos) : null, says('eos') ? vocab.special('eos', eos) : null];
}

/**
 * A qwen3 file's framing: its add flags, as for the others; Qwen3-Embedding, known by name, ends
 * every text with `<|endoftext|>` all the same: its tokenizer appends it, and its first official
 * files say neither add_eos_token nor which token (its card tells llama.cpp users to append it by
 * hand). Other Qwen3 embedders that append a token have converters that wrote add_eos_token.
 */
function qwenFrame(file: GgufFile, vocab: Vocab): [number | null, number | null] {
  const [first, last] = flagged(file, vocab, '<|endoftext|>', '<|endoftext|>');
  if (last !== null || !isNamed(file, QWEN3_EMBEDDING)) return [first, last];
  const id = vocab.tokens.indexOf('<|endoftext|>');
  return [first, id >= 0 ? id : vocab.special('eos', '<|endoftext|>')];
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
