import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import type { LexiconData } from '../search/lexicon.js';

/**
 * fetchLexicons for Node: the lexicons of `languages` (default: every one) in the folder `dir`
 * (public/lexicons, or a copy), for IndexOptions.lexicons.
 */
export async function readLexicons(dir: string, languages?: readonly string[]): Promise<LexiconData[]> {
  const names = languages?.map((l) => `${l}.json`) ?? (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(
    names.map(async (name) => {
      let text: string;
      try {
        text = await readFile(join(dir, name), 'utf8');
      } catch {
        throw new InputError(`no lexicon ${name} in ${dir}`);
      }
      return JSON.parse(text) as LexiconData;
    }),
  );
}
