import { InputError } from '../errors.js';

/**
 * The one rule for texts everywhere (embed, index documents, queries, the CLI): a string with at
 * least one non-whitespace character. A blank text has no meaning to embed; its vector would be
 * the model's bias alone, and in an index it would match everything equally.
 */
export function checkText(text: unknown, where: string): asserts text is string {
  if (typeof text !== 'string') {
    throw new InputError(
      `${where} must be a string, got ${text === null ? 'null' : Array.isArray(text) ? 'array' : typeof text}`,
    );
  }
  if (text.trim() === '') throw new InputError(`${where} is empty or only whitespace`);
}
