import { Tokenizer } from '@huggingface/tokenizers';
import { InputError, ModelFormatError, UnsupportedError } from '../errors.js';

/** How texts become ids beyond what tokenizer.json says: static embedders (model2vec) read them bare. */
export interface TokenizingOptions {
  /** Add the post-processor's special tokens ([CLS], [SEP]...); default true. */
  specialTokens?: boolean;
  /** Leave out the model's unknown token (model2vec's StaticModel.tokenize); default false. */
  dropUnknown?: boolean;
}

export interface EncodedText {
  /** Token ids, the post-processor's special tokens included (unless TokenizingOptions leave them out). */
  ids: number[];
  /** True when the text was longer than `maxTokens` and its end was cut off. */
  truncated: boolean;
}

/** Two texts as one sequence, by the post-processor's pair template ([CLS] A [SEP] B [SEP], <s> A </s></s> B </s>). */
export interface EncodedPair {
  ids: number[];
  /** Where token type 1 starts (ids.length where the template gives every token type 0, as RoBERTa's). */
  secondSegment: number;
  /** True when the pair was longer than `maxTokens` and the longer text was cut, a token at a time. */
  truncated: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A Hugging Face `tokenizer.json` (plus optional `tokenizer_config.json`), run by
 * `@huggingface/tokenizers`. This class only adds validation and truncation.
 */
export class TextTokenizer {
  private readonly specialIds: Set<number>;
  private readonly specialTokens: boolean;
  /** The id dropped from every text, or null. */
  private readonly unknownId: number | null;

  private constructor(
    private readonly tokenizer: Tokenizer,
    unknownToken: string | null,
    options: TokenizingOptions,
  ) {
    this.specialIds = new Set([...tokenizer.get_added_tokens_decoder()].filter(([, token]) => token.special).map(([id]) => id));
    this.specialTokens = options.specialTokens ?? true;
    const unknownId = options.dropUnknown && unknownToken !== null ? tokenizer.get_vocab(true).get(unknownToken) : undefined;
    this.unknownId = typeof unknownId === 'number' ? unknownId : null;
  }

  static fromJson(tokenizerJson: unknown, tokenizerConfig?: unknown, options: TokenizingOptions = {}): TextTokenizer {
    if (!isObject(tokenizerJson)) throw new ModelFormatError('tokenizer.json must be a JSON object');
    if (!isObject(tokenizerJson.model) || typeof tokenizerJson.model.type !== 'string') {
      throw new ModelFormatError('tokenizer.json has no "model" with a "type" (is this a Hugging Face tokenizers file?)');
    }
    if (tokenizerConfig !== undefined && tokenizerConfig !== null && !isObject(tokenizerConfig)) {
      throw new ModelFormatError('tokenizer_config.json must be a JSON object');
    }
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig ?? {});
      // Some malformed files only fail on first use.
      tokenizer.encode('a');
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new ModelFormatError(`tokenizer.json is not a usable tokenizer: ${reason}`, { cause });
    }
    // As model2vec reads it: the models with an unknown token name it (WordPiece, BPE, WordLevel).
    const unknown = typeof tokenizerJson.model.unk_token === 'string' ? tokenizerJson.model.unk_token : null;
    return new TextTokenizer(tokenizer, unknown, options);
  }

  /** Largest token id the tokenizer can produce (added tokens included). */
  get maxTokenId(): number {
    let max = -1;
    for (const id of this.tokenizer.get_vocab(true).values()) if (id > max) max = id;
    return max;
  }

  /** The id of one vocabulary entry (added tokens included), or null. */
  tokenId(token: string): number | null {
    return this.tokenizer.get_vocab(true).get(token) ?? null;
  }

  /** The full, untruncated token ids, with or without the post-processor's special tokens. */
  tokenIds(text: string, addSpecialTokens = true): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  /**
   * Ids with special tokens (see TokenizingOptions), at most `maxTokens` of them. A longer text
   * keeps its first `maxTokens - 1` ids and the final special token (`[SEP]`, `</s>`) so the
   * template stays whole.
   */
  encode(text: string, maxTokens: number): EncodedText {
    if (typeof text !== 'string') throw new InputError(`text must be a string, got ${typeof text}`);
    if (!Number.isInteger(maxTokens) || maxTokens < 1) {
      throw new InputError(`maxTokens must be a positive integer, got ${maxTokens}`);
    }
    let ids = this.tokenIds(text, this.specialTokens);
    if (this.unknownId !== null) ids = ids.filter((id) => id !== this.unknownId);
    if (ids.length <= maxTokens) return { ids, truncated: false };
    const last = ids[ids.length - 1] as number;
    const template = this.specialTokens && maxTokens >= 2 && this.specialIds.has(last);
    const keep = template ? [...ids.slice(0, maxTokens - 1), last] : ids.slice(0, maxTokens);
    return { ids: keep, truncated: true };
  }

  /**
   * `first` and `second` as one sequence by the pair template, at most `maxTokens` ids: past it the
   * longer of the two loses its last token until the pair fits (transformers' "longest_first",
   * what sentence-transformers' CrossEncoder asks for). `segmentTypes`: whether the model reads the
   * template's token types (without, the second segment is not marked and any types are fine).
   */
  encodePair(first: string, second: string, maxTokens: number, segmentTypes = true): EncodedPair {
    for (const [what, t] of [
      ['first', first],
      ['second', second],
    ] as const) {
      if (typeof t !== 'string') throw new InputError(`the ${what} text must be a string, got ${typeof t}`);
    }
    const full = this.tokenizer.encode(first, { text_pair: second, return_token_type_ids: true });
    const a = this.tokenIds(first, false);
    const b = this.tokenIds(second, false);
    // The template's specials around and between the two texts: found where the bare encodings sit in the pair.
    const at = (part: number[], from: number) => {
      for (let i = from; i + part.length <= full.ids.length; i++) {
        if (part.every((t, k) => full.ids[i + k] === t)) return i;
      }
      throw new ModelFormatError("tokenizer.json's post-processor has no pair template that keeps both texts whole");
    };
    const startA = at(a, 0);
    const startB = at(b, startA + a.length);
    const pre = full.ids.slice(0, startA);
    const mid = full.ids.slice(startA + a.length, startB);
    const post = full.ids.slice(startB + b.length);
    const types: number[] = full.token_type_ids ?? [];
    const typeB = segmentTypes ? (types[startB] ?? 0) : 0;
    if (segmentTypes && (types.slice(0, startB).some((t) => t !== 0) || types.slice(startB).some((t) => t !== typeB))) {
      throw new UnsupportedError(
        "tokenizer.json's pair template gives token types m3web does not run (0 for the first text, one type for the second)",
      );
    }
    const room = maxTokens - pre.length - mid.length - post.length;
    if (room < 2) throw new InputError(`maxTokens ${maxTokens} leaves no room for a pair of texts`);
    let [keepA, keepB] = [a.length, b.length];
    while (keepA + keepB > room) {
      if (keepA > keepB) keepA--;
      else keepB--;
    }
    const ids = [...pre, ...a.slice(0, keepA), ...mid, ...b.slice(0, keepB), ...post];
    const secondSegment = typeB === 0 ? ids.length : pre.length + keepA + mid.length;
    return { ids, secondSegment, truncated: keepA < a.length || keepB < b.length };
  }
}
