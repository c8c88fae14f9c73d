/**
 * BM25 alone on FLORES dev bitext: each sentence of 22 languages as a query against the 99 English
 * ones, R@1 and MRR@10, for m3web's lexical ranker beside MiniSearch and Orama (set up as in
 * `bench -- lexical`). What a sentence shares with its translation in another script is mostly its
 * names and numbers, so this measures how far names reach across scripts on another corpus than
 * xquad-dev, which the name keys were chosen on (docs/search.md, "Names across scripts").
 * `npm run bench -- lexical-flores [FLORES_DEV_DIR] [--lexicons] [--write]` (default
 * training/dev-data/flores-dev; --lexicons adds m3web with public/lexicons, learned from FLORES
 * train among others, never its dev; --write stores bench/results/lexical-flores-latest.json and .md).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENGLISH, readFloresDev } from '../src/eval/dev-data.js';
import { readLexicons } from '../src/eval/lexicon-files.js';
import { writeJsonFile } from './common.js';
import { LEXICON_DIR, m3web, minisearch, orama, type Scores, score } from './lexical-xquad.js';

/**
 * xquad-dev's languages other than English, and languages in scripts xquad-dev lacks: Japanese,
 * Korean, the Brahmic scripts of India besides Devanagari, and Hebrew.
 */
const LANGUAGES: Record<string, string> = {
  arb_Arab: 'ar',
  deu_Latn: 'de',
  ell_Grek: 'el',
  spa_Latn: 'es',
  hin_Deva: 'hi',
  ron_Latn: 'ro',
  rus_Cyrl: 'ru',
  tha_Thai: 'th',
  tur_Latn: 'tr',
  vie_Latn: 'vi',
  zho_Hans: 'zh',
  jpn_Jpan: 'ja',
  kor_Hang: 'ko',
  ben_Beng: 'bn',
  tam_Taml: 'ta',
  tel_Telu: 'te',
  guj_Gujr: 'gu',
  pan_Guru: 'pa',
  kan_Knda: 'kn',
  mal_Mlym: 'ml',
  ory_Orya: 'or',
  heb_Hebr: 'he',
};

const pct = (x: number) => x.toFixed(1);
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function main(args: string[]): Promise<number> {
  const dir = args.find((a) => !a.startsWith('--')) ?? 'training/dev-data/flores-dev';
  const flores = await readFloresDev(dir, Object.keys(LANGUAGES));
  const english = (flores.get(ENGLISH) as string[]).map((text) => ({ text }));
  const results: Record<string, Record<string, Scores>> = {};
  const lexicons = args.includes('--lexicons') ? [m3web(true, true, false, await readLexicons(LEXICON_DIR))] : [];
  for (const ranker of [...lexicons, m3web(true, true, false), minisearch(false, false), orama(0)]) {
    const searcher = await ranker.build(english, 'en');
    const by: Record<string, Scores> = {};
    results[ranker.name] = by;
    console.log(`\n${ranker.name}: R@1 / MRR@10 %, xx -> English`);
    for (const [code, lang] of Object.entries(LANGUAGES)) {
      const sentences = flores.get(code) as string[];
      const s = await score(
        searcher,
        sentences.map((text, paragraph) => ({ text, paragraph })),
      );
      by[lang] = s;
      console.log(`${lang.padEnd(4)} ${pct(s.r1).padStart(5)} / ${pct(s.mrr10).padStart(5)}`);
    }
    searcher.close();
  }
  const langs = Object.values(LANGUAGES);
  const table = [
    `| ranker | ${langs.join(' | ')} | mean |`,
    `|---|${langs.map(() => '---:').join('|')}|---:|`,
    ...Object.entries(results).map(
      ([name, by]) =>
        `| ${name} | ${langs.map((l) => pct((by[l] as Scores).r1)).join(' | ')} | ${pct(mean(Object.values(by).map((s) => s.r1)))} |`,
    ),
  ].join('\n');
  console.log(`\nR@1 %, FLORES dev (99 sentences) xx -> English:\n${table}`);
  if (args.includes('--write')) {
    const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'lexical-flores-latest');
    const meta = { date: new Date().toISOString().slice(0, 10), node: process.version, sentences: english.length };
    writeJsonFile(`${out}.json`, { meta, results });
    writeFileSync(`${out}.md`, `# Lexical rankers on FLORES dev bitext (xx -> English)\n\n${JSON.stringify(meta)}\n\n${table}\n`);
  }
  return 0;
}
