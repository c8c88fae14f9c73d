import { InputError } from '../../errors.js';
import { bestCompletions, MAX_COMPLETIONS, mostFrequentFirst } from '../lexical.js';
import { isWordTerm } from '../terms.js';

/**
 * A static index's word list for search as you type (SearchOptions.prefix), in shards fetched
 * by the word being typed: words are grouped by their first two code points ('2' + them), every
 * word of the group with its document frequency, so a typed word of two letters or more finds
 * all it begins in one group; a typed letter alone reads its own short list ('1' + it): the
 * words that letter begins which the in-memory index would pick (MAX_COMPLETIONS and one more,
 * for the letter itself as a word, which is no completion of itself). A shard is JSON
 * { group: [[word, df], ...] }, each list the most frequent first.
 */
export type CompletionGroups = Record<string, [string, number][]>;

/** The group a typed word's completions are in. */
export function completionGroup(typed: string): string {
  const points = [...typed];
  return points.length === 1 ? `1${typed}` : `2${points.slice(0, 2).join('')}`;
}

/** Every group of the index's whole words (`df`: each term and its document frequency; other terms are left out). */
export function completionGroups(df: Iterable<readonly [string, number]>): Map<string, [string, number][]> {
  const groups = new Map<string, [string, number][]>();
  const add = (group: string, entry: [string, number]) => {
    const list = groups.get(group);
    if (list) list.push(entry);
    else groups.set(group, [entry]);
  };
  for (const [term, n] of df) {
    if (!isWordTerm(term) || n === 0) continue;
    // Each group a word is in is the one a typed word would read: its first letter's, and (a
    // word of two letters or more) its first two letters'.
    const points = [...term];
    add(completionGroup(points[0] as string), [term, n]);
    if (points.length > 1) add(completionGroup(points.slice(0, 2).join('')), [term, n]);
  }
  for (const [group, list] of groups) {
    list.sort(mostFrequentFirst);
    if (group.startsWith('1')) list.length = Math.min(list.length, MAX_COMPLETIONS + 1);
  }
  return groups;
}

/** The indexed words `typed` begins, as LexicalIndex.completions picks them, from its group's list. */
export function completionsIn(groups: CompletionGroups, typed: string): string[] {
  return bestCompletions(groups[completionGroup(typed)] ?? [], typed, MAX_COMPLETIONS);
}

export function parseCompletionShard(bytes: Uint8Array, name: string): CompletionGroups {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    parsed = null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new InputError(`${name} is not an m3web word list shard`);
  return parsed as CompletionGroups;
}
