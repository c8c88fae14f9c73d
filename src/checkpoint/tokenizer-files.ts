import { ModelFormatError, UnsupportedError } from '../errors.js';
import { wordPieceJson } from '../tokenizer/wordpiece-json.js';

/** A model folder's small files as text (a hub repository, a Node folder, dropped Files); undefined where missing. */
export type TextFiles = (name: string) => Promise<string | undefined>;

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

/**
 * The folder's tokenizer.json as bytes; where it has none, one made from BERT's slow tokenizer files
 * (vocab.txt, tokenizer_config.json, special_tokens_map.json), as older repositories hold them;
 * undefined where it has neither.
 */
export async function folderTokenizer(read: TextFiles, config: unknown): Promise<Uint8Array | undefined> {
  const json = await read('tokenizer.json');
  if (json !== undefined) return new TextEncoder().encode(json);
  const vocab = await read('vocab.txt');
  if (vocab === undefined) return undefined;
  const settings = { ...(await jsonFile(read, 'special_tokens_map.json')), ...(await jsonFile(read, 'tokenizer_config.json')) };
  const declared = settings.tokenizer_class;
  const modelType = (config as { model_type?: unknown } | undefined)?.model_type;
  const isBert =
    typeof declared === 'string'
      ? BERT_TOKENIZERS.has(declared)
      : typeof modelType === 'string' && WORDPIECE_MODEL_TYPES.has(modelType);
  if (!isBert) {
    const named = typeof declared === 'string' ? declared : `model_type ${JSON.stringify(modelType)}`;
    throw new UnsupportedError(
      `this folder has vocab.txt but no tokenizer.json: m3web builds one for BERT's WordPiece only, not ${named}`,
    );
  }
  return new TextEncoder().encode(JSON.stringify(wordPieceTokenizer(vocab, settings)));
}

async function jsonFile(read: TextFiles, name: string): Promise<Record<string, unknown>> {
  const text = await read(name);
  if (text === undefined) return {};
  try {
    const v: unknown = JSON.parse(text);
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
