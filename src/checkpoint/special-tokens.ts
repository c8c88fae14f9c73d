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
