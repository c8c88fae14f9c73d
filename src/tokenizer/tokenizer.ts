import { Tokenizer } from '@huggingface/tokenizers';
import { InputError, ModelFormatError } from '../errors.js';

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
}
