import { Tokenizer } from '@huggingface/tokenizers';
import { InputError, ModelFormatError, UnsupportedError } from '../errors.js';
import { CharsMap } from './charsmap.js';

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
 * Makes every SentencePiece character map of the normalizer (`Precompiled`, first in XLM-R's
 * sequence, after ALBERT's case and accent rules) run through CharsMap, where it stands: the
 * library only approximates one (NFKC and a fixed list of whitespace).
 */
function exactCharsMaps(normalizer: NormalizerNode | null): void {
  if (normalizer?.config.type === 'Sequence') {
    for (const n of normalizer.normalizers ?? []) exactCharsMaps(n);
  } else if (normalizer?.config.type === 'Precompiled') {
    let map: CharsMap | null;
    try {
      map = CharsMap.fromBase64(String(normalizer.config.precompiled_charsmap ?? ''));
    } catch (cause) {
      throw new ModelFormatError('tokenizer.json: its Precompiled normalizer holds no readable character map', { cause });
    }
    // An empty map normalizes nothing, as in sentencepiece.
    normalizer.normalize = map ? (text) => map.normalize(text) : (text) => text;
  }
}

/** What exactCharsMaps reads of the library's normalizers (its package types do not resolve them under NodeNext). */
interface NormalizerNode {
  config: { type?: unknown; precompiled_charsmap?: unknown };
  normalizers?: (NormalizerNode | null)[];
  normalize(text: string): string;
}

/**
 * A Hugging Face `tokenizer.json` (plus optional `tokenizer_config.json`), run by
 * `@huggingface/tokenizers`. This class adds validation, truncation and SentencePiece's character
 * map, which the library only approximates.
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
    /** The files it was made from (what a static index ships for its queries to be tokenized alike). */
    readonly files: { json: unknown; config?: unknown },
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
      exactCharsMaps(tokenizer.normalizer as unknown as NormalizerNode | null);
      // Some malformed files only fail on first use.
      tokenizer.encode('a');
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new ModelFormatError(`tokenizer.json is not a usable tokenizer: ${reason}`, { cause });
    }
    // As model2vec reads it: the models with an unknown token name it (WordPiece, BPE, WordLevel).
    const unknown = typeof tokenizerJson.model.unk_token === 'string' ? tokenizerJson.model.unk_token : null;
    const files =
      tokenizerConfig === undefined || tokenizerConfig === null
        ? { json: tokenizerJson }
        : { json: tokenizerJson, config: tokenizerConfig };
    return new TextTokenizer(tokenizer, unknown, options, files);
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

  /** The text of `ids`, special tokens kept, as transformers' decode gives it by default. */
  decode(ids: readonly number[]): string {
    return ids.length === 0 ? '' : this.tokenizer.decode([...ids], { skip_special_tokens: false });
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

  /** Ids without special tokens, at most `maxTokens` of them (a tokenizer asked with add_special_tokens=False and truncation). */
  encodePlain(text: string, maxTokens: number): EncodedText {
    const ids = this.tokenIds(text, false);
    return ids.length <= maxTokens ? { ids, truncated: false } : { ids: ids.slice(0, maxTokens), truncated: true };
  }

  /**
   * `first` and `second` as one sequence by the pair template, at most `maxTokens` ids: past it the
   * longer of the two loses its last token until the pair fits (transformers' "longest_first",
   * what sentence-transformers' CrossEncoder asks for). `segmentTypes`: whether the model reads the
   * template's token types (without, the second segment is not marked and any types are fine).
   */
  encodePair(first: string, second: string, maxTokens: number, segmentTypes = true): EncodedPair {
    const p = this.pairParts(first, second, maxTokens, segmentTypes);
    let [keepA, keepB] = [p.a.length, p.b.length];
    while (keepA + keepB > p.room) {
      if (keepA > keepB) keepA--;
      else keepB--;
    }
    return { ...p.join(keepA, p.b.slice(0, keepB)), truncated: keepA < p.a.length || keepB < p.b.length };
  }

  /**
   * Like encodePair, but a `second` text too long to fit is not cut: it is read in windows of the
   * room the first text leaves (the first keeping at most half of it), consecutive windows sharing
   * `overlap` tokens (at most a quarter of a window), the last one ending at the text's end (as
   * jina-reranker-v2's rerank() splits a long document). A pair that fits is encodePair's.
   */
  encodePairWindows(first: string, second: string, maxTokens: number, segmentTypes: boolean, overlap: number): EncodedPair[] {
    const p = this.pairParts(first, second, maxTokens, segmentTypes);
    if (p.a.length + p.b.length <= p.room) return [{ ...p.join(p.a.length, p.b), truncated: false }];
    const keepA = Math.min(p.a.length, Math.floor(p.room / 2));
    const width = p.room - keepA;
    const step = width - Math.min(overlap, Math.floor(width / 4));
    const windows: EncodedPair[] = [];
    for (let start = 0; ; start += step) {
      const last = start + width >= p.b.length;
      const from = last ? Math.max(0, p.b.length - width) : start;
      windows.push({ ...p.join(keepA, p.b.slice(from, from + width)), truncated: keepA < p.a.length });
      if (last) return windows;
    }
  }

  /** The pair template around `first` and `second`, checked, and the ids a pair of their parts makes. */
  private pairParts(first: string, second: string, maxTokens: number, segmentTypes: boolean) {
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
    const join = (keepA: number, partB: number[]) => {
      const ids = [...pre, ...a.slice(0, keepA), ...mid, ...partB, ...post];
      return { ids, secondSegment: typeB === 0 ? ids.length : pre.length + keepA + mid.length };
    };
    return { a, b, room, join };
  }
}
