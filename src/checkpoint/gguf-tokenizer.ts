import { ModelFormatError } from '../errors.js';
import { type GgufFile, ggufArray, ggufNumber } from './gguf.js';

// tokenizer.json rebuilt from a GGUF file's vocabulary (tokenizer.ggml.*), as the model's own
// tokenizer was before llama.cpp's converter rewrote it.

/** gguf-py's TokenType. */
const UNKNOWN = 2;
const CONTROL = 3;
const UNUSED = 5;
const BYTE = 6;
/** llama.cpp's phantom space: what the converter puts before every word-initial WordPiece token. */
const PHANTOM = '\u2581';

export interface Vocab {
  tokens: string[];
  types: number[];
  /** The id named by `tokenizer.ggml.{key}_token_id`, else the id of `fallback`. */
  special(key: string, fallback: string): number;
}

export function vocabOf(file: GgufFile): Vocab {
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
export function wordPieceJson(file: GgufFile, v: Vocab): unknown {
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
    // Unused slots ([PAD2062], where the table is padded) say nothing about the vocabulary's case.
    if (type !== CONTROL && type !== UNUSED && piece !== piece.toLowerCase()) cased = true;
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
export function unigramJson(file: GgufFile, v: Vocab): unknown {
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
