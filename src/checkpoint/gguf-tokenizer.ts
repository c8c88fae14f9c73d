import { ModelFormatError, UnsupportedError } from '../errors.js';
import { type GgufFile, ggufArray, ggufNumber } from './gguf.js';

// tokenizer.json rebuilt from a GGUF file's vocabulary (tokenizer.ggml.*), as the model's own
// tokenizer was before llama.cpp's converter rewrote it.

/** gguf-py's TokenType. */
const UNKNOWN = 2;
const CONTROL = 3;
const USER_DEFINED = 4;
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

const addedToken = (id: number, content: string, special = true) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special,
});

/**
 * The post-processor's template: `first A last`, and for pairs `first A last (mid) B last`; a
 * vocabulary that puts nothing first (Qwen's) has `first` null.
 */
function template(first: [string, number] | null, last: [string, number], pairMid: boolean) {
  const tok = (id: string, type = 0) => ({ SpecialToken: { id, type_id: type } });
  const seq = (id: string, type: number) => ({ Sequence: { id, type_id: type } });
  const typeB = pairMid ? 0 : 1;
  const head = first ? [tok(first[0])] : [];
  return {
    type: 'TemplateProcessing',
    single: [...head, seq('A', 0), tok(last[0])],
    pair: [...head, seq('A', 0), tok(last[0]), ...(pairMid ? [tok(last[0])] : []), seq('B', typeB), tok(last[0], typeB)],
    special_tokens: Object.fromEntries(
      [...(first ? [first] : []), last].map(([t, id]) => [t, { id: t, ids: [id], tokens: [t] }]),
    ),
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

/**
 * What a byte-level BPE vocabulary's `tokenizer.ggml.pre` stands for: the model's own
 * normalizer and split pattern, as its tokenizer.json has them (llama.cpp keeps only the pattern,
 * and a name for it).
 */
const BYTE_LEVEL_PRE: Readonly<Record<string, { normalizer: unknown; split: string }>> = {
  qwen2: {
    normalizer: { type: 'NFC' },
    split:
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  },
};

/**
 * tokenizer.json for a byte-level BPE vocabulary (tokenizer.ggml.model "gpt2": Qwen's): the tokens
 * and merges as they are (GPT-2's byte alphabet), control tokens as special added tokens,
 * user-defined ones (`<think>`) as plain added tokens, padding slots (UNUSED) in the vocabulary
 * only, where no merge reaches them. `last`: the token every text ends with (Qwen3-Embedding's
 * `<|endoftext|>`), or null.
 */
export function byteLevelBpeJson(file: GgufFile, v: Vocab, last: number | null): unknown {
  const pre = file.metadata.get('tokenizer.ggml.pre');
  const known = typeof pre === 'string' ? BYTE_LEVEL_PRE[pre] : undefined;
  if (!known)
    throw new UnsupportedError(
      `${file.name}: byte-level BPE with pre-tokenizer ${JSON.stringify(pre)}; m3web rebuilds ${Object.keys(BYTE_LEVEL_PRE).join(', ')}`,
    );
  const merges = ggufArray(file, 'tokenizer.ggml.merges', 'string');
  if (!merges?.length) throw new ModelFormatError(`${file.name} has no tokenizer.ggml.merges: a BPE vocabulary needs them`);
  const vocab: Record<string, number> = {};
  const added: ReturnType<typeof addedToken>[] = [];
  v.tokens.forEach((t, id) => {
    const type = v.types[id];
    if (type === CONTROL || type === USER_DEFINED) added.push(addedToken(id, t, type === CONTROL));
    else if (!Object.hasOwn(vocab, t)) vocab[t] = id;
  });
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: known.normalizer,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [{ type: 'Split', pattern: { Regex: known.split }, behavior: 'Isolated', invert: false }, byteLevel],
    },
    post_processor: last === null ? byteLevel : template(null, [v.tokens[last] as string, last], false),
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}
