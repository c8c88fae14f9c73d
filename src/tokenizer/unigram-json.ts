import { addedToken, template } from './tokenizer-json.js';

/** SentencePiece's piece types (sentencepiece_model.proto; gguf-py's TokenType is the same list). */
export const PIECE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/** What an XLM-R-style SentencePiece Unigram tokenizer.json is made of, wherever it came from (a .model file, a GGUF file). */
export interface UnigramSpec {
  /** Pieces in id order, with their scores and SentencePiece types. */
  tokens: readonly string[];
  scores: readonly number[];
  types: readonly number[];
  /** The normalizer's precompiled character map (sentencepiece's normalizer_spec), if any. */
  charsmap?: Uint8Array | undefined;
  /** sentencepiece's add_dummy_prefix: a space before the text. */
  addPrefix: boolean;
  /** sentencepiece's remove_extra_whitespaces: runs of spaces as one. */
  collapse: boolean;
  bos: number;
  eos: number;
}

const base64 = (bytes: Uint8Array) => {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
};

/**
 * tokenizer.json for a SentencePiece Unigram vocabulary as XLM-R's is laid out: the pieces and
 * their scores, the precompiled character map, Metaspace, control and unknown pieces as special
 * added tokens, and `<s> A </s></s> B </s>`.
 */
export function unigramJson(spec: UnigramSpec): unknown {
  const normalizers = [
    ...(spec.charsmap?.length ? [{ type: 'Precompiled', precompiled_charsmap: base64(spec.charsmap) }] : []),
    ...(spec.collapse ? [{ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] : []),
  ];
  const unk = spec.types.indexOf(PIECE.unknown);
  const metaspace = {
    type: 'Metaspace',
    replacement: '\u2581',
    prepend_scheme: spec.addPrefix ? 'always' : 'never',
    split: true,
  };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: spec.tokens.flatMap((content, id) =>
      spec.types[id] === PIECE.control || spec.types[id] === PIECE.unknown ? [addedToken(id, content)] : [],
    ),
    normalizer: normalizers.length ? { type: 'Sequence', normalizers } : null,
    pre_tokenizer: metaspace,
    post_processor: template([spec.tokens[spec.bos] as string, spec.bos], [spec.tokens[spec.eos] as string, spec.eos], true),
    decoder: metaspace,
    model: {
      type: 'Unigram',
      unk_id: unk < 0 ? null : unk,
      vocab: spec.tokens.map((t, i) => [t, spec.scores[i]]),
      byte_fallback: spec.types.includes(PIECE.byte),
    },
  };
}
