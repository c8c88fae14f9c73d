import { ModelFormatError, UnsupportedError } from '../errors.js';
import { addedToken, template } from '../tokenizer/tokenizer-json.js';
import { PIECE, unigramJson as unigramSpecJson } from '../tokenizer/unigram-json.js';
import { wordPieceJson as wordPieceSpecJson } from '../tokenizer/wordpiece-json.js';
import { type GgufFile, ggufArray, ggufNumber } from './gguf.js';

// tokenizer.json rebuilt from a GGUF file's vocabulary (tokenizer.ggml.*), as the model's own
// tokenizer was before llama.cpp's converter rewrote it.

/** gguf-py's TokenType: SentencePiece's piece types. */
const { unknown: UNKNOWN, control: CONTROL, userDefined: USER_DEFINED, unused: UNUSED, byte: BYTE } = PIECE;
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
  const added: { id: number; content: string }[] = [];
  let cased = false;
  v.tokens.forEach((t, id) => {
    const type = v.types[id];
    let piece = t;
    if (type === CONTROL) added.push({ id, content: t });
    else if (t.startsWith(PHANTOM)) piece = t.slice(PHANTOM.length);
    // Older converters left bracketed tokens ([unused0]) as they were, as they still do unused slots.
    else if (type !== UNUSED && !/^\[.*\]$/s.test(t)) piece = `##${t}`;
    // Unused slots ([PAD2062], where the table is padded) say nothing about the vocabulary's case.
    if (type !== CONTROL && type !== UNUSED && piece !== piece.toLowerCase()) cased = true;
    if (!Object.hasOwn(vocab, piece)) vocab[piece] = id;
  });
  const unk = v.tokens[v.special('unknown', '[UNK]')] as string;
  return wordPieceSpecJson({
    vocab,
    cls: v.tokens[v.special('cls', '[CLS]')] as string,
    sep: v.tokens[v.special('seperator', '[SEP]')] as string,
    unk: unk.startsWith(PHANTOM) ? unk.slice(PHANTOM.length) : unk,
    added,
    lowercase: flag(file, 'tokenizer.ggml.normalizer.lowercase') ?? !cased,
    stripAccents: flag(file, 'tokenizer.ggml.normalizer.strip_accents') ?? null,
    chineseChars: true,
  });
}

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
  const special = (id: number): [string, number] => [v.tokens[id] as string, id];
  return unigramSpecJson({
    tokens: v.tokens,
    scores,
    types: v.types,
    charsmap: charsmap && Uint8Array.from(charsmap, (b) => b & 0xff),
    addPrefix: file.metadata.get('tokenizer.ggml.add_space_prefix') !== false,
    collapse: file.metadata.get('tokenizer.ggml.remove_extra_whitespaces') !== false,
    frame: template(special(v.special('cls', '<s>')), special(v.special('seperator', '</s>')), true),
  });
}

/** What a byte-level BPE vocabulary's `tokenizer.ggml.pre` stands for (BYTE_LEVEL_PRE). */
interface BytePre {
  normalizer: unknown;
  split: string;
  /** A word that is itself a token is kept whole before any merge (tokenizer.json's `ignore_merges`). */
  ignoreMerges: boolean;
}

const QWEN2_PRE: BytePre = {
  normalizer: { type: 'NFC' },
  split:
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ignoreMerges: false,
};

/** Llama 3's: no normalizer, digits in threes, ignore_merges (as llama.cpp's LLAMA3 pre-tokenizer runs it). */
const LLAMA3_PRE: BytePre = {
  normalizer: null,
  split:
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  ignoreMerges: true,
};

/**
 * GPT-2's: the regex its ByteLevel pre-tokenizer splits by (letters, digits and other symbols each
 * with one leading space, digit runs whole, contractions case-sensitive), no normalizer. RoBERTa's
 * tokenizer is GPT-2's ("roberta-bpe"); llama.cpp runs ModernBERT's vocabulary ("modern-bert") with
 * it too, and whether ModernBERT's own tokenizer.json adds a normalizer was not reachable from here.
 */
const GPT2_PRE: BytePre = {
  normalizer: null,
  split: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
  ignoreMerges: false,
};

/**
 * What a byte-level BPE vocabulary's `tokenizer.ggml.pre` stands for: the model's own normalizer,
 * split pattern and merge rule, as its tokenizer.json has them (llama.cpp keeps only a name for
 * them). The converter names a tokenizer by the hash of its ids for a fixed text, framing
 * included: jina-embeddings-v5-text-nano's (Llama 3's vocabulary, `<|end_of_text|>` appended) is
 * "jina-v5-nano", which llama.cpp runs as Llama 3's.
 */
const BYTE_LEVEL_PRE: Readonly<Record<string, BytePre>> = {
  qwen2: QWEN2_PRE,
  'llama-bpe': LLAMA3_PRE,
  llama3: LLAMA3_PRE,
  'llama-v3': LLAMA3_PRE,
  'jina-v5-nano': LLAMA3_PRE,
  'gpt-2': GPT2_PRE,
  'modern-bert': GPT2_PRE,
  'roberta-bpe': GPT2_PRE,
};

/**
 * tokenizer.json for a byte-level BPE vocabulary (tokenizer.ggml.model "gpt2": Qwen's, Llama 3's, GPT-2's):
 * the tokens and merges as they are (GPT-2's byte alphabet), control tokens as special added
 * tokens, user-defined ones (`<think>`) as plain added tokens, padding slots (UNUSED) in the
 * vocabulary only, where no merge reaches them. `first` / `last`: the tokens every text starts /
 * ends with (Qwen3-Embedding's `<|endoftext|>` last), or null; `pairMid`: a pair has `last` twice
 * between its texts (RoBERTa's `<s> A </s></s> B </s>`).
 */
export function byteLevelBpeJson(file: GgufFile, v: Vocab, first: number | null, last: number | null, pairMid = false): unknown {
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
    post_processor:
      first === null && last === null
        ? byteLevel
        : template(
            first === null ? null : [v.tokens[first] as string, first],
            last === null ? null : [v.tokens[last] as string, last],
            pairMid,
          ),
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: known.ignoreMerges,
      vocab,
      merges,
    },
  };
}

/**
 * tokenizer.json for a SentencePiece BPE vocabulary (tokenizer.ggml.model "llama": Gemma's), in
 * the form transformers' GemmaConverter gives the model's own tokenizer: spaces as U+2581, BPE
 * with byte fallback, and the merges it derives from the pieces (every split of a piece into two
 * pieces, by the piece's score, then the longer left and right parts first). llama.cpp's
 * converter marks added tokens with the score -1000 and writes user-defined ones with spaces for
 * U+2581; SentencePiece scored them 0, and that is undone here, so the merges come out in the
 * model's order. `<bos>` first and `<eos>` last as add_bos_token / add_eos_token say (llama.cpp's
 * defaults for this vocabulary: first, not last).
 */
export function sentencePieceBpeJson(file: GgufFile, v: Vocab): unknown {
  const scores = ggufArray(file, 'tokenizer.ggml.scores', 'number');
  if (!scores || scores.length !== v.tokens.length)
    throw new ModelFormatError(
      `${file.name}: a SentencePiece BPE vocabulary needs a score for each of its ${v.tokens.length} tokens`,
    );
  if (file.metadata.get('tokenizer.ggml.add_space_prefix') !== false)
    throw new UnsupportedError(
      `${file.name}: a SentencePiece BPE vocabulary with a space prefix; m3web rebuilds Gemma's, which has none`,
    );
  const added = (type: number | undefined) => type === CONTROL || type === USER_DEFINED || type === UNKNOWN;
  const pieces = v.tokens.map((t, id) => (v.types[id] === USER_DEFINED ? t.replaceAll(' ', PHANTOM) : t));
  const vocab: Record<string, number> = {};
  pieces.forEach((p, id) => {
    if (!Object.hasOwn(vocab, p)) vocab[p] = id;
  });
  const bos = (flag(file, 'tokenizer.ggml.add_bos_token') ?? true) ? v.special('bos', '<bos>') : null;
  const eos = (flag(file, 'tokenizer.ggml.add_eos_token') ?? false) ? v.special('eos', '<eos>') : null;
  const unk = v.tokens[v.special('unknown', '<unk>')] as string;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: pieces.flatMap((p, id) => (added(v.types[id]) ? [addedToken(id, p, v.types[id] !== USER_DEFINED)] : [])),
    normalizer: { type: 'Replace', pattern: { String: ' ' }, content: PHANTOM },
    pre_tokenizer: { type: 'Split', pattern: { String: ' ' }, behavior: 'MergedWithPrevious', invert: false },
    post_processor: template(
      bos === null ? null : [v.tokens[bos] as string, bos],
      eos === null ? null : [v.tokens[eos] as string, eos],
      false,
    ),
    decoder: {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: PHANTOM }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: v.types.includes(BYTE),
      ignore_merges: false,
      vocab,
      merges: pieceMerges(
        pieces,
        scores.map((s, id) => (added(v.types[id]) ? 0 : s)),
        vocab,
      ),
    },
  };
}

/**
 * transformers' generate_merges as its Gemma extractor calls it: for each piece in id order, its
 * splits into two pieces (ordered by the parts' ids; a tab stands for its byte piece there),
 * then all of them by the piece's score, the left part's length and the right part's, highest
 * first, ties kept in order. Lengths in code points, as Python counts them.
 */
function pieceMerges(pieces: readonly string[], scores: readonly number[], vocab: Readonly<Record<string, number>>): string[][] {
  const idOf = (p: string) => (p === '\t' && Object.hasOwn(vocab, '<0x09>') ? vocab['<0x09>'] : vocab[p]) as number;
  const merges: { left: string; right: string; score: number; l: number; r: number }[] = [];
  pieces.forEach((piece, id) => {
    const chars = Array.from(piece);
    const local: (typeof merges)[number][] = [];
    for (let i = 1; i < chars.length; i++) {
      const left = chars.slice(0, i).join('');
      const right = chars.slice(i).join('');
      if (Object.hasOwn(vocab, left) && Object.hasOwn(vocab, right))
        local.push({ left, right, score: scores[id] as number, l: i, r: chars.length - i });
    }
    local.sort((a, b) => idOf(a.left) - idOf(b.left) || idOf(a.right) - idOf(b.right));
    merges.push(...local);
  });
  merges.sort((a, b) => b.score - a.score || b.l - a.l || b.r - a.r);
  return merges.map((m) => [m.left, m.right]);
}
