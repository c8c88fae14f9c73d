import { ModelNotFoundError, UnsupportedError } from '../errors.js';
import { JINA_V5_PREFIXES } from '../weights/jina-v5.js';
import { GgufFile, ggufArray, ggufNumber } from './gguf.js';
import { ggufConfig, requiredNumber } from './gguf-config.js';
import {
  BERT_NAMES,
  EUROBERT_NAMES,
  GEMMA_NAMES,
  JINA_NAMES,
  MODERN_NAMES,
  NOMIC_MOE_NAMES,
  NOMIC_NAMES,
  QWEN3_NAMES,
  ROBERTA_HEAD_NAMES,
} from './gguf-tensor-names.js';
import { GgufTensors, type Mapped, refuseUnread, type TensorNames, tensorMap } from './gguf-tensors.js';
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
      // RoBERTa's: SpecialVocab reads its RobertaProcessing as add_bos / add_eos, <s> and </s>; a pair
      // (a reranker's) is <s> A </s></s> B </s>.
      gpt2: (file, v) => byteLevelBpeJson(file, v, ...flagged(file, v, '<s>', '</s>'), true),
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
 * transformers' names, decoded from their ggml types when read; a reranker's file (rerankerOf) as
 * the one-label sequence classifier it was converted from.
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
  const reranker = rerankerOf(file, arch, roberta);
  const stated = ggufNumber(file, `${arch}.pooling_type`) ?? 0;
  const pooling = stated === 0 || (stated === RANK && reranker) ? family.pooling : stated;
  const poolingKey = POOLINGS[pooling];
  if (!poolingKey)
    throw new UnsupportedError(
      `${file.name} pools by llama.cpp's pooling type ${pooling}${pooling === RANK ? ' (rank: a reranker without a classification head m3web reads)' : ''}; m3web reads GGUF embedders (mean, CLS or last token) and XLM-R, RoBERTa and Qwen3-Reranker rerankers`,
    );
  const vocab = vocabOf(file);
  const shape = ggufConfig(file, arch, vocab.tokens.length, roberta);
  const { zeroPositions } = shape;
  const config = reranker ? { ...shape.config, ...reranker.config } : shape.config;
  const layers = requiredNumber(file, `${arch}.block_count`);
  const hidden = requiredNumber(file, `${arch}.embedding_length`);
  const json = rebuild(file, vocab);
  const names =
    reranker?.head === 'roberta' ? { ...family.names, outside: [...family.names.outside, ...ROBERTA_HEAD_NAMES] } : family.names;
  const map = tensorMap(file, names, layers, hidden, zeroPositions);
  // Qwen3-Reranker's score: its yes row against its no row, as the sequence classifier it converts to holds it.
  if (reranker?.head === 'yes-no')
    map.set('score.weight', {
      shape: [1, hidden],
      zeroRows: 0,
      parts: [{ gguf: 'cls.output.weight', from: 0, rows: 2 }],
      difference: true,
    });
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

/** llama.cpp's LLAMA_POOLING_TYPE_RANK: a reranker's classification head over the first token. */
const RANK = 4;

/**
 * A reranker's config.json fields where the file holds a classification head, and which head:
 * RoBERTa's (classifier.dense as `cls`, classifier.out_proj as `cls.output`, one label: the
 * converter's XLMRobertaForSequenceClassification, bge-reranker-base / -large / -v2-m3, or a
 * RobertaForSequenceClassification), which
 * llama.cpp's rank pooling runs over the first token; or Qwen3-Reranker's (`cls.output`: the LM
 * head's "yes" and "no" rows, labels ["yes", "no"]), whose rank score is softmax over them at the
 * last token, that is sigmoid(yes - no): the one-label Qwen3 sequence classifier m3web runs with
 * Qwen3-Reranker's prompt. Other heads are refused: BERT's classifier without the pooler the
 * converter drops, several labels.
 */
function rerankerOf(
  file: GgufFile,
  arch: string,
  roberta: 'xlm-roberta' | 'roberta' | null,
): { config: Record<string, unknown>; head: 'roberta' | 'yes-no' } | null {
  const out = file.tensors.get('cls.output.weight');
  if (!out) return null;
  const labels = out.shape.length === 2 ? (out.shape[0] as number) : 1;
  const oneLabel = { id2label: { 0: 'LABEL_0' }, label2id: { LABEL_0: 0 } };
  const named = ggufArray(file, `${arch}.classifier.output_labels`, 'string');
  if (arch === 'qwen3' && labels === 2 && named?.join() === 'yes,no')
    return { config: { architectures: ['Qwen3ForSequenceClassification'], num_labels: 1, ...oneLabel }, head: 'yes-no' };
  if (roberta === null || !file.tensors.has('cls.weight') || labels !== 1)
    throw new UnsupportedError(
      `${file.name} holds a classification head (cls.output, ${labels} label${labels === 1 ? '' : 's'}${file.tensors.has('cls.weight') ? '' : ', no cls dense layer'}); m3web reads GGUF rerankers of XLM-R or RoBERTa with RoBERTa's head and one label (bge-reranker-*) and Qwen3-Reranker's`,
    );
  const architecture = roberta === 'xlm-roberta' ? 'XLMRobertaForSequenceClassification' : 'RobertaForSequenceClassification';
  return { config: { architectures: [architecture], ...oneLabel }, head: 'roberta' };
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
  'IQ4_XS',
  'IQ4_NL',
  'Q3_K_L',
  'Q3_K_M',
  'Q3_K_S',
  'Q2_K',
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
