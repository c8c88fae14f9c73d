/**
 * Builds the playground's search corpus: the FLORES-200 dev sentences (SIB-200 topic labels) in
 * CORPUS_LANGUAGES, embedded by the bundled model into an index export the page imports on first
 * visit. Rerun whenever public/models/m3-mini changes (`npm run demo:corpus`); a unit test fails
 * when the export no longer matches the model.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../cli/m3web.js';
import { CORPUS_LANGUAGES } from './languages.js';

const ROOT = join(import.meta.dirname, '../../..');
const FLORES_DEV = join(ROOT, 'training/dev-data/flores-dev');
export const CORPUS_MODEL = join(ROOT, 'public/models/m3-mini');
export const CORPUS_INDEX = join(import.meta.dirname, 'flores-dev.m3index');
/** The same documents as JSON lines, for models other than the bundled one (the page embeds them). */
export const CORPUS_DOCS = join(import.meta.dirname, 'flores-dev.jsonl');

/** One document per sentence: id `<lang>:<index_id>`, meta { lang, topic }. */
export async function corpusDocs(): Promise<{ id: string; text: string; meta: { lang: string; topic: string } }[]> {
  const docs = [];
  for (const lang of Object.keys(CORPUS_LANGUAGES)) {
    const rows = (await readFile(join(FLORES_DEV, `${lang}.tsv`), 'utf8')).trim().split('\n').slice(1);
    for (const row of rows) {
      const [indexId, topic, text] = row.split('\t') as [string, string, string];
      docs.push({ id: `${lang}:${indexId}`, text, meta: { lang, topic } });
    }
  }
  return docs;
}

async function build(): Promise<void> {
  await writeFile(CORPUS_DOCS, `${(await corpusDocs()).map((d) => JSON.stringify(d)).join('\n')}\n`);
  const code = await main([
    'index',
    '--model',
    CORPUS_MODEL,
    '--docs',
    CORPUS_DOCS,
    '--out',
    CORPUS_INDEX,
    '--vector',
    'int8',
    // Sentences found by sentences (their translations): no query / passage prefixes.
    '--symmetric',
  ]);
  process.exitCode = code;
}

if (process.argv[1] === import.meta.filename) await build();
