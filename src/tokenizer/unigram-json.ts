import { addedToken } from './tokenizer-json.js';

/** SentencePiece's piece types (sentencepiece_model.proto; gguf-py's TokenType is the same list). */
export const PIECE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/** What a SentencePiece Unigram tokenizer.json is made of, wherever it came from (a .model file, a GGUF file). */
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
  /** Normalizers before the character map (ALBERT's quotes, accents and case). */
  before?: readonly object[];
  /** Whether trailing whitespace is stripped after the character map (transformers' SpmConverter, which T5's converter keeps). */
  stripRight?: boolean;
  /** The post-processor (template()). */
  frame: unknown;
  /** Added tokens beyond the control and unknown pieces (T5's sentinels, ALBERT's [MASK]), by id. */
  added?: readonly { id: number; lstrip?: boolean }[];
}

const base64 = (bytes: Uint8Array) => {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
};

/**
 * tokenizer.json for a SentencePiece Unigram vocabulary as transformers' SpmConverter lays it out:
 * the pieces and their scores, the precompiled character map, Metaspace, control and unknown
 * pieces (and `added`) as special added tokens, and the given frame.
 */
export function unigramJson(spec: UnigramSpec): unknown {
  const normalizers = [
    ...(spec.before ?? []),
    ...(spec.charsmap?.length ? [{ type: 'Precompiled', precompiled_charsmap: base64(spec.charsmap) }] : []),
    ...(spec.stripRight ? [{ type: 'Strip', strip_left: false, strip_right: true }] : []),
    ...(spec.collapse ? [{ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] : []),
  ];
  const unk = spec.types.indexOf(PIECE.unknown);
  const metaspace = {
    type: 'Metaspace',
    replacement: '\u2581',
    prepend_scheme: spec.addPrefix ? 'always' : 'never',
    split: true,
  };
  const lstrip = new Map((spec.added ?? []).map((a) => [a.id, a.lstrip === true]));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: spec.tokens.flatMap((content, id) =>
      spec.types[id] === PIECE.control || spec.types[id] === PIECE.unknown || lstrip.has(id)
        ? [{ ...addedToken(id, content), lstrip: lstrip.get(id) === true }]
        : [],
    ),
    normalizer: normalizers.length ? { type: 'Sequence', normalizers } : null,
    pre_tokenizer: metaspace,
    post_processor: spec.frame,
    decoder: metaspace,
    model: {
      type: 'Unigram',
      unk_id: unk < 0 ? null : unk,
      vocab: spec.tokens.map((t, i) => [t, spec.scores[i]]),
      byte_fallback: spec.types.includes(PIECE.byte),
    },
  };
}
