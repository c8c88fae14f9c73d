import { addedToken, template } from './tokenizer-json.js';

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
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: spec.added.map((a) => addedToken(a.id, a.content)),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: spec.chineseChars,
      strip_accents: spec.stripAccents,
      lowercase: spec.lowercase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: template([spec.cls, id(spec.cls)], [spec.sep, id(spec.sep)], false),
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
