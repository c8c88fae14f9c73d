import { ModelFormatError, UnsupportedError } from '../errors.js';
import { template } from '../tokenizer/tokenizer-json.js';
import { PIECE, unigramJson } from '../tokenizer/unigram-json.js';
import { wordPieceJson } from '../tokenizer/wordpiece-json.js';
import { readSentencePieceModel } from './sentencepiece-model.js';

/** A model folder's small files (a hub repository, a Node folder, dropped Files); undefined where missing. */
export type FolderFiles = (name: string) => Promise<Uint8Array | undefined>;

/** The slow tokenizer classes whose vocab.txt transformers' BertConverter turns into tokenizer.json. */
const BERT_TOKENIZERS = new Set([
  'BertTokenizer',
  'BertTokenizerFast',
  'DistilBertTokenizer',
  'DistilBertTokenizerFast',
  'ElectraTokenizer',
  'ElectraTokenizerFast',
]);
const WORDPIECE_MODEL_TYPES = new Set(['bert', 'distilbert', 'electra']);
const XLMR_TOKENIZERS = new Set(['XLMRobertaTokenizer', 'XLMRobertaTokenizerFast']);
const XLMR_MODEL_TYPES = new Set(['xlm-roberta']);
const CAMEMBERT_TOKENIZERS = new Set(['CamembertTokenizer', 'CamembertTokenizerFast']);
const CAMEMBERT_MODEL_TYPES = new Set(['camembert']);
const ALBERT_TOKENIZERS = new Set(['AlbertTokenizer', 'AlbertTokenizerFast']);
const ALBERT_MODEL_TYPES = new Set(['albert']);
const T5_TOKENIZERS = new Set(['T5Tokenizer', 'T5TokenizerFast']);
const T5_MODEL_TYPES = new Set(['t5', 'mt5']);
const SENTENCEPIECE_FILE = 'sentencepiece.bpe.model';
const SPIECE_FILE = 'spiece.model';

/**
 * The folder's tokenizer.json as bytes; where it has none, one made from the slow tokenizer's files
 * that older repositories hold instead (BERT's vocab.txt, XLM-R's and CamemBERT's
 * sentencepiece.bpe.model, ALBERT's and T5's spiece.model, with tokenizer_config.json and
 * special_tokens_map.json), as transformers' converters make it; undefined where it has none of them.
 */
export async function folderTokenizer(read: FolderFiles, config: unknown): Promise<Uint8Array | undefined> {
  const json = await read('tokenizer.json');
  if (json !== undefined) return json;
  const [vocab, spm, spiece] = await Promise.all([read('vocab.txt'), read(SENTENCEPIECE_FILE), read(SPIECE_FILE)]);
  if (vocab === undefined && spm === undefined && spiece === undefined) return undefined;
  const settings = { ...(await jsonFile(read, 'special_tokens_map.json')), ...(await jsonFile(read, 'tokenizer_config.json')) };
  const declared = settings.tokenizer_class;
  const modelType = (config as { model_type?: unknown } | undefined)?.model_type;
  // The class tokenizer_config.json names, else the architecture's usual one.
  const is = (classes: ReadonlySet<string>, types: ReadonlySet<string>) =>
    typeof declared === 'string' ? classes.has(declared) : typeof modelType === 'string' && types.has(modelType);
  let made: unknown;
  if (vocab !== undefined && is(BERT_TOKENIZERS, WORDPIECE_MODEL_TYPES)) {
    made = wordPieceTokenizer(new TextDecoder().decode(vocab), settings);
  } else if (spm !== undefined && is(XLMR_TOKENIZERS, XLMR_MODEL_TYPES)) {
    made = await xlmRobertaTokenizer(spm);
  } else if (spm !== undefined && is(CAMEMBERT_TOKENIZERS, CAMEMBERT_MODEL_TYPES)) {
    made = await camembertTokenizer(spm);
  } else if (spiece !== undefined && is(ALBERT_TOKENIZERS, ALBERT_MODEL_TYPES)) {
    made = await albertTokenizer(spiece, settings);
  } else if (spiece !== undefined && is(T5_TOKENIZERS, T5_MODEL_TYPES)) {
    made = await t5Tokenizer(spiece, settings);
  } else {
    const named = typeof declared === 'string' ? declared : `model_type ${JSON.stringify(modelType)}`;
    const file = vocab ? 'vocab.txt' : spm ? SENTENCEPIECE_FILE : SPIECE_FILE;
    throw new UnsupportedError(
      `this folder has ${file} but no tokenizer.json: m3web builds one for BERT's WordPiece, XLM-R's, CamemBERT's, ALBERT's and T5's SentencePiece only, not ${named}`,
    );
  }
  return new TextEncoder().encode(JSON.stringify(made));
}

/** A SentencePiece Unigram model (BPE ones are refused: the converters here are for Unigram). */
async function unigramModel(bytes: Uint8Array, name: string) {
  const model = await readSentencePieceModel(bytes, name);
  if (model.modelType !== 1)
    throw new UnsupportedError(`${name} is a SentencePiece model of type ${model.modelType}, not Unigram`);
  return model;
}

/**
 * tokenizer.json as transformers' XLMRobertaConverter makes it from sentencepiece.bpe.model: fairseq's
 * four specials first (`<s>`, `<pad>`, `</s>`, `<unk>`), SentencePiece's pieces from its fourth on
 * (its own `<unk>`, `<s>`, `</s>` come first), `<mask>` last; the model's character map and
 * whitespace settings.
 */
async function xlmRobertaTokenizer(bytes: Uint8Array): Promise<unknown> {
  const model = await unigramModel(bytes, SENTENCEPIECE_FILE);
  const rest = model.pieces.slice(3);
  const { control, unknown } = PIECE;
  return unigramJson({
    tokens: ['<s>', '<pad>', '</s>', '<unk>', ...rest.map((p) => p.piece), '<mask>'],
    scores: [0, 0, 0, 0, ...rest.map((p) => p.score), 0],
    types: [control, control, control, unknown, ...rest.map((p) => p.type), control],
    charsmap: model.charsmap,
    addPrefix: model.addDummyPrefix,
    collapse: model.removeExtraWhitespaces,
    frame: template(['<s>', 0], ['</s>', 2], true),
  });
}

/**
 * tokenizer.json as transformers' CamembertConverter makes it from sentencepiece.bpe.model:
 * fairseq's `<s>NOTUSED`, `<pad>`, `</s>NOTUSED`, `<unk>`, then SentencePiece's own unknown piece
 * as `<unk>NOTUSED` 100 lower in score (never chosen: `<unk>` is 3), its other pieces from id 5
 * (its `<s>` and `</s>` at 5 and 6 frame every text), `<mask>` last.
 */
async function camembertTokenizer(bytes: Uint8Array): Promise<unknown> {
  const model = await unigramModel(bytes, SENTENCEPIECE_FILE);
  const rest = model.pieces.slice(1);
  const { control, unknown, normal } = PIECE;
  const tokens = ['<s>NOTUSED', '<pad>', '</s>NOTUSED', '<unk>', '<unk>NOTUSED', ...rest.map((p) => p.piece), '<mask>'];
  return unigramJson({
    tokens,
    scores: [0, 0, 0, 0, -100, ...rest.map((p) => p.score), 0],
    types: [control, control, control, unknown, normal, ...rest.map((p) => p.type), control],
    charsmap: model.charsmap,
    addPrefix: model.addDummyPrefix,
    collapse: model.removeExtraWhitespaces,
    frame: template(pieceId(tokens, '<s>', SENTENCEPIECE_FILE), pieceId(tokens, '</s>', SENTENCEPIECE_FILE), true),
  });
}

/** A special token and its id among the converted pieces, for the post-processor's template. */
function pieceId(tokens: readonly string[], token: string, file: string): [string, number] {
  const id = tokens.indexOf(token);
  if (id < 0) throw new ModelFormatError(`${file} has no ${token} piece`);
  return [token, id];
}

/** A piece AlbertTokenizer splits before its comma ("9," -> "9", ","): transformers' check_number_comma fails on it. */
const numberComma = (piece: string) => piece.length >= 2 && piece.endsWith(',') && /\p{Nd}/u.test(piece.at(-2) as string);

/**
 * tokenizer.json as transformers' AlbertConverter makes it from spiece.model: the pieces are the
 * ids; a piece ending in a digit and a comma loses 100 from its score (what stands in for
 * AlbertTokenizer's splitting of them); `` and '' read as ", accents stripped after NFKD unless
 * keep_accents, lower case unless do_lower_case is false, then the character map;
 * `[CLS] A [SEP]` and `[CLS] A [SEP] B [SEP]` with B typed 1.
 */
async function albertTokenizer(bytes: Uint8Array, settings: Record<string, unknown>): Promise<unknown> {
  const model = await unigramModel(bytes, SPIECE_FILE);
  const tokens = model.pieces.map((p) => p.piece);
  const cls = tokenText(settings, 'cls_token', '[CLS]');
  const sep = tokenText(settings, 'sep_token', '[SEP]');
  const named = ['unk', 'sep', 'pad', 'cls', 'mask'].flatMap((key) => {
    const content = tokenText(settings, `${key}_token`, '');
    const i = tokens.indexOf(content);
    return content && i >= 0 ? [{ id: i, lstrip: tokenFlag(settings, `${key}_token`, 'lstrip') }] : [];
  });
  const replace = (from: string, to: string) => ({ type: 'Replace', pattern: { String: from }, content: to });
  return unigramJson({
    tokens,
    scores: model.pieces.map((p) => (numberComma(p.piece) ? p.score - 100 : p.score)),
    types: model.pieces.map((p) => p.type),
    charsmap: model.charsmap,
    addPrefix: model.addDummyPrefix,
    collapse: model.removeExtraWhitespaces,
    before: [
      replace('``', '"'),
      replace("''", '"'),
      ...(flagOr(settings, 'keep_accents', false) === true ? [] : [{ type: 'NFKD' }, { type: 'StripAccents' }]),
      ...(flagOr(settings, 'do_lower_case', true) === true ? [{ type: 'Lowercase' }] : []),
    ],
    frame: template(pieceId(tokens, cls, SPIECE_FILE), pieceId(tokens, sep, SPIECE_FILE), false),
    added: named,
  });
}

/**
 * tokenizer.json as transformers' T5Converter makes it from spiece.model: the pieces are the ids,
 * then the sentinels `<extra_id_{N-1}>` down to `<extra_id_0>` (T5Tokenizer gives extra_id_k the
 * id vocab_size - k - 1); SpmConverter's normalizer (the character map, trailing whitespace
 * stripped, runs of spaces as one); `A </s>`.
 */
async function t5Tokenizer(bytes: Uint8Array, settings: Record<string, unknown>): Promise<unknown> {
  const model = await unigramModel(bytes, SPIECE_FILE);
  const listed = Array.isArray(settings.additional_special_tokens)
    ? settings.additional_special_tokens.filter((t) => /^<extra_id_\d+>$/.test(tokenContent(t) ?? '')).length
    : 0;
  const extra = typeof settings.extra_ids === 'number' && settings.extra_ids > 0 ? settings.extra_ids : listed || 100;
  if (!Number.isInteger(extra) || extra > 10_000)
    throw new ModelFormatError(`tokenizer_config.json: extra_ids ${extra} is not a count of sentinels`);
  const pieces = model.pieces.length;
  const sentinels = Array.from({ length: extra }, (_, i) => `<extra_id_${extra - 1 - i}>`);
  const tokens = [...model.pieces.map((p) => p.piece), ...sentinels];
  const eos = pieceId(tokens, tokenText(settings, 'eos_token', '</s>'), SPIECE_FILE);
  return unigramJson({
    tokens,
    scores: [...model.pieces.map((p) => p.score), ...sentinels.map(() => 0)],
    types: [...model.pieces.map((p) => p.type), ...sentinels.map(() => PIECE.userDefined)],
    charsmap: model.charsmap,
    addPrefix: model.addDummyPrefix,
    collapse: model.removeExtraWhitespaces,
    // What is left of a text before a sentinel keeps no trailing space (no lone "▁" before it).
    stripRight: true,
    frame: template(null, eos, false),
    added: sentinels.map((_, i) => ({ id: pieces + i })),
  });
}

async function jsonFile(read: FolderFiles, name: string): Promise<Record<string, unknown>> {
  const bytes = await read(name);
  if (bytes === undefined) return {};
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch (cause) {
    throw new ModelFormatError(`${name} is not valid JSON`, { cause });
  }
}

/** A special token's text from its settings entry: a string, or an AddedToken's `content` (how newer files write it). */
const tokenContent = (v: unknown): string | undefined =>
  typeof v === 'string'
    ? v
    : typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string'
      ? (v as { content: string }).content
      : undefined;

function tokenText(settings: Record<string, unknown>, key: string, fallback: string): string {
  return tokenContent(settings[key]) ?? fallback;
}

/** An AddedToken flag (lstrip, rstrip) of a special token written as an object; false for a plain string. */
function tokenFlag(settings: Record<string, unknown>, key: string, flag: 'lstrip' | 'rstrip'): boolean {
  const v = settings[key];
  return typeof v === 'object' && v !== null && (v as Record<string, unknown>)[flag] === true;
}

const flagOr = (settings: Record<string, unknown>, key: string, fallback: boolean | null) => {
  const v = settings[key];
  return typeof v === 'boolean' ? v : v === null ? null : fallback;
};

/**
 * tokenizer.json as transformers' BertConverter writes it from BertTokenizer's files: vocab.txt's
 * lines are the ids (a token listed twice keeps its last line, as BertTokenizer's dict does); the
 * BertNormalizer with BertTokenizer's defaults (lower case, Chinese characters split, accents
 * stripped as the case says) unless tokenizer_config.json says otherwise; the special tokens as
 * added tokens, so they are never split.
 */
export function wordPieceTokenizer(vocabText: string, settings: Record<string, unknown>): unknown {
  const lines = vocabText.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) throw new ModelFormatError('vocab.txt is empty');
  const vocab: Record<string, number> = {};
  lines.forEach((token, id) => {
    vocab[token] = id;
  });
  const special = ['unk', 'sep', 'pad', 'cls', 'mask'].map((key) =>
    tokenText(settings, `${key}_token`, `[${key.toUpperCase()}]`),
  ) as [string, string, string, string, string];
  const [unk, sep, , cls] = special;
  for (const token of [unk, sep, cls]) {
    if (!Object.hasOwn(vocab, token)) throw new ModelFormatError(`vocab.txt has no ${token} token`);
  }
  // Without the basic tokenizer BertConverter finds no settings on it: nothing lower-cased, split or stripped.
  const basic = settings.do_basic_tokenize !== false;
  return wordPieceJson({
    vocab,
    cls,
    sep,
    unk,
    added: [...new Set(special)]
      .filter((t) => Object.hasOwn(vocab, t))
      .map((t) => ({ id: vocab[t] as number, content: t }))
      .sort((a, b) => a.id - b.id),
    lowercase: basic && flagOr(settings, 'do_lower_case', true) === true,
    stripAccents: basic ? flagOr(settings, 'strip_accents', null) : false,
    chineseChars: basic && flagOr(settings, 'tokenize_chinese_chars', true) === true,
  });
}
