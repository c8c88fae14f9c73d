import type { TextTokenizer } from '../tokenizer/tokenizer.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The id of a special token tokenizer_config.json names under `key` (a string or an AddedToken
 * object), else of the first of `usual` the vocabulary has (the tokenizer class's default), or null.
 */
export function specialToken(tokenizer: TextTokenizer, tokenizerConfig: unknown, key: string, usual: string[]): number | null {
  const named = isObject(tokenizerConfig) ? tokenizerConfig[key] : undefined;
  const content = isObject(named) ? named.content : named;
  for (const token of typeof content === 'string' ? [content, ...usual] : usual) {
    const id = tokenizer.tokenId(token);
    if (id !== null) return id;
  }
  return null;
}

/** tokenizer_config.json's model_max_length, where it states a real limit (tokenizers without one say 1e30). */
export function tokenizerMaxLength(tokenizerConfig: unknown): number | undefined {
  const v = (tokenizerConfig as Record<string, unknown> | undefined)?.model_max_length;
  return typeof v === 'number' && Number.isInteger(v) && v > 1 && v < 1_000_000 ? v : undefined;
}
