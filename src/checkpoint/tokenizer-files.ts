import { ModelFormatError, UnsupportedError } from '../errors.js';
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
const SENTENCEPIECE_FILE = 'sentencepiece.bpe.model';

/**
 * The folder's tokenizer.json as bytes; where it has none, one made from the slow tokenizer's files
 * that older repositories hold instead (BERT's vocab.txt, XLM-R's sentencepiece.bpe.model, with
 * tokenizer_config.json and special_tokens_map.json), as transformers' converters make it;
 * undefined where it has none of them.
 */
export async function folderTokenizer(read: FolderFiles, config: unknown): Promise<Uint8Array | undefined> {
  const json = await read('tokenizer.json');
  if (json !== undefined) return json;
  const [vocab, spm] = await Promise.all([read('vocab.txt'), read(SENTENCEPIECE_FILE)]);
  if (vocab === undefined && spm === undefined) return undefined;
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
  } else {
    const named = typeof declared === 'string' ? declared : `model_type ${JSON.stringify(modelType)}`;
    throw new UnsupportedError(
      `this folder has ${vocab ? 'vocab.txt' : SENTENCEPIECE_FILE} but no tokenizer.json: m3web builds one for BERT's WordPiece and XLM-R's SentencePiece only, not ${named}`,
    );
  }
  return new TextEncoder().encode(JSON.stringify(made));
}

/**
 * tokenizer.json as transformers' XLMRobertaConverter makes it from sentencepiece.bpe.model: fairseq's
 * four specials first (`<s>`, `<pad>`, `</s>`, `<unk>`), SentencePiece's pieces from its fourth on
 * (its own `<unk>`, `<s>`, `</s>` come first), `<mask>` last; the model's character map and
 * whitespace settings.
 */
async function xlmRobertaTokenizer(bytes: Uint8Array): Promise<unknown> {
  const model = await readSentencePieceModel(bytes, SENTENCEPIECE_FILE);
  if (model.modelType !== 1)
    throw new UnsupportedError(`${SENTENCEPIECE_FILE} is a SentencePiece model of type ${model.modelType}, not Unigram`);
  const rest = model.pieces.slice(3);
  const { control, unknown } = PIECE;
  return unigramJson({
    tokens: ['<s>', '<pad>', '</s>', '<unk>', ...rest.map((p) => p.piece), '<mask>'],
    scores: [0, 0, 0, 0, ...rest.map((p) => p.score), 0],
    types: [control, control, control, unknown, ...rest.map((p) => p.type), control],
    charsmap: model.charsmap,
    addPrefix: model.addDummyPrefix,
    collapse: model.removeExtraWhitespaces,
    bos: 0,
    eos: 2,
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

/** A special token's text: a string, or an AddedToken's `content` (how newer files write it). */
function tokenText(settings: Record<string, unknown>, key: string, fallback: string): string {
  const v = settings[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string')
    return (v as { content: string }).content;
  return fallback;
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
