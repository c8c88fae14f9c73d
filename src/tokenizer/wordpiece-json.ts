/** What a BERT WordPiece tokenizer.json is made of, wherever the vocabulary came from (vocab.txt, a GGUF file). */
export interface WordPieceSpec {
  vocab: Record<string, number>;
  cls: string;
  sep: string;
  unk: string;
  /** Added tokens (never split): the special tokens, by id. */
  added: { id: number; content: string }[];
  lowercase: boolean;
  /** null: as the case says (BertNormalizer's default). */
  stripAccents: boolean | null;
  chineseChars: boolean;
}

/** tokenizer.json as transformers' BertConverter lays it out: BertNormalizer, BertPreTokenizer, `[CLS] $A [SEP]`, WordPiece. */
export function wordPieceJson(spec: WordPieceSpec): unknown {
  const id = (token: string) => spec.vocab[token] as number;
  const tok = (t: string, type: number) => ({ SpecialToken: { id: t, type_id: type } });
  const seq = (t: string, type: number) => ({ Sequence: { id: t, type_id: type } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: spec.added.map((a) => ({
      ...a,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: spec.chineseChars,
      strip_accents: spec.stripAccents,
      lowercase: spec.lowercase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [tok(spec.cls, 0), seq('A', 0), tok(spec.sep, 0)],
      pair: [tok(spec.cls, 0), seq('A', 0), tok(spec.sep, 0), seq('B', 1), tok(spec.sep, 1)],
      special_tokens: Object.fromEntries([spec.cls, spec.sep].map((t) => [t, { id: t, ids: [id(t)], tokens: [t] }])),
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: spec.unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: spec.vocab,
    },
  };
}
