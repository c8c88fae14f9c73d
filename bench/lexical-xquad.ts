/**
 * BM25 alone on xquad-dev (question -> paragraph R@1 and MRR@10, monolingual and against
 * English), through the index's lexical mode with a constant stand-in encoder: lexical options
 * measured in seconds, without a model. Beside it, the in-page search libraries sites ship
 * (MiniSearch, Orama) on the same paragraphs and questions, as a site would set them up.
 * `npm run bench -- lexical [DATA_DIR] [--no-ngrams] [--lexicons] [--titles] [--keywords] [--typos] [--typing] [--write]` (default data
 * ../shared/data; --lexicons adds m3web with every lexicon in public/lexicons, which translate query words; --titles indexes each paragraph with its article's title, each library's title
 * field boosted 2x as m3web weighs it; --keywords asks only each question's three longest words,
 * --typos with a typo (hurried-queries.ts), each library then also with its typo setting; --typing with the
 * last word cut to 5 letters, as it stands while typed, each library searching as you type (m3web and
 * MiniSearch with `prefix`, Orama matching prefixes as it always does); --write
 * stores bench/results/lexical-latest.json and .md, or lexical-titles-latest, -keywords-typos-latest and so on); `m3web eval --search` gives the same m3web figures beside the vectors'.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, insert, type Language, search } from '@orama/orama';
import MiniSearch from 'minisearch';
import { readXquad, type XquadLang } from '../src/eval/dev-data.js';
import { readLexicons } from '../src/eval/lexicon-files.js';
import { openIndex } from '../src/search/index.js';
import { TITLE_WEIGHT } from '../src/search/lexical.js';
import type { LexiconData } from '../src/search/lexicon.js';
import type { IndexEncoder } from '../src/search/types.js';
import type { ModelInfo } from '../src/types.js';
import { rng } from '../test/support/random.js';
import { writeJsonFile } from './common.js';
import { keywords, midWord, misspell } from './hurried-queries.js';

/** The lexicons `npm start` serves (training/build_lexicons.ts). */
export const LEXICON_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'public', 'lexicons');

const model: ModelInfo = {
  id: 'constant',
  source: 'bench',
  layers: 1,
  hiddenSize: 4,
  exits: [1],
  dims: [4],
  pooling: 'mean',
  maxTokens: 512,
  quantization: 'f32',
  prefixes: {},
  quality: null,
};
const encoder: IndexEncoder = {
  info: () => ({ model, backend: 'cpu' }),
  async embedDetailed(texts) {
    return {
      vectors: texts.map(() => Float32Array.of(0.5, 0.5, 0.5, 0.5)),
      tokens: texts.map(() => 4),
      truncated: texts.map(() => false),
      layers: texts.map(() => 1),
    };
  },
};

/** Paragraph numbers, best first. */
export interface Searcher {
  top(query: string, k: number): Promise<number[]>;
  close(): void;
}
/** A paragraph, with its article's title where the run indexes titles. */
interface Paragraph {
  text: string;
  title?: string;
}
export interface Ranker {
  name: string;
  /** `lang`: the paragraphs' language (xquad's code), for libraries that are told it. */
  build(paragraphs: readonly Paragraph[], lang: string): Promise<Searcher>;
}
/** Each library's boost of a title field: m3web's TITLE_WEIGHT. */
const TITLE_BOOST = TITLE_WEIGHT;

/** `lexicons`: the index is opened with them (IndexOptions.lexicons). */
export const m3web = (ngrams: boolean, typos: boolean, prefix: boolean, lexicons?: readonly LexiconData[]): Ranker => ({
  name: `m3web lexical${ngrams ? '' : ' (no ngrams)'}${typos ? '' : ' (typos: false)'}${prefix ? ' (prefix)' : ''}${lexicons ? ` (${lexicons.length} lexicons)` : ''}`,
  async build(paragraphs) {
    const index = await openIndex({
      encoder,
      name: 'lexical-xquad',
      device: 'cpu',
      ngrams,
      ...(lexicons ? { lexicons } : {}),
    });
    await index.add(paragraphs.map((p, i) => ({ id: String(i), ...p })));
    return {
      top: async (q, k) => (await index.search(q, { mode: 'lexical', k, typos, prefix })).map((h) => Number(h.id)),
      close: () => index.close(),
    };
  },
});

/**
 * MiniSearch's defaults: Unicode space / punctuation split, lower case, BM25+, any term; with
 * `fuzzy`, its documented setting for typos (edits up to a fifth of a term's length).
 */
export const minisearch = (fuzzy: boolean, prefix: boolean): Ranker => ({
  name: `MiniSearch 7.2 (defaults${fuzzy ? ', fuzzy 0.2' : ''}${prefix ? ', prefix' : ''})`,
  async build(paragraphs) {
    const titled = paragraphs.some((p) => p.title);
    const ms = new MiniSearch<{ id: number } & Paragraph>({ fields: titled ? ['title', 'text'] : ['text'] });
    ms.addAll(paragraphs.map((p, id) => ({ id, ...p })));
    return {
      top: async (q, k) =>
        ms
          .search(q, {
            ...(titled ? { boost: { title: TITLE_BOOST } } : {}),
            ...(fuzzy ? { fuzzy: 0.2 } : {}),
            ...(prefix ? { prefix: true } : {}),
          })
          .slice(0, k)
          .map((r) => r.id as number),
      close: () => {},
    };
  },
});

/** Orama's tokenizer for each xquad language it has one for; others get its default (English). */
const ORAMA_LANGUAGE: Record<string, Language> = {
  ar: 'arabic',
  de: 'german',
  el: 'greek',
  en: 'english',
  es: 'spanish',
  hi: 'indian',
  ro: 'romanian',
  ru: 'russian',
  tr: 'turkish',
};
/** With `tolerance`, Orama's typo setting: terms within that many edits match. */
export const orama = (tolerance: number): Ranker => ({
  name: `Orama 3.1 (BM25, the paragraphs' language where it has one${tolerance ? `, tolerance ${tolerance}` : ''})`,
  async build(paragraphs, lang) {
    const titled = paragraphs.some((p) => p.title);
    const db = create({ schema: { title: 'string', text: 'string' } as const, language: ORAMA_LANGUAGE[lang] ?? 'english' });
    for (const [i, p] of paragraphs.entries()) insert(db, { id: String(i), title: p.title ?? '', text: p.text });
    return {
      top: async (q, k) => {
        const found = await search(db, {
          term: q,
          limit: k,
          ...(tolerance ? { tolerance } : {}),
          ...(titled ? { boost: { title: TITLE_BOOST } } : { properties: ['text'] }),
        });
        return found.hits.map((h) => Number(h.id));
      },
      close: () => {},
    };
  },
});

export interface Scores {
  r1: number;
  mrr10: number;
  msPerQuery: number;
}

export async function score(s: Searcher, questions: readonly { text: string; paragraph: number }[]): Promise<Scores> {
  let r1 = 0;
  let rr = 0;
  const t0 = performance.now();
  for (const q of questions) {
    const rank = (await s.top(q.text, 10)).indexOf(q.paragraph);
    if (rank === 0) r1++;
    if (rank >= 0) rr += 1 / (rank + 1);
  }
  const ms = performance.now() - t0;
  return { r1: (100 * r1) / questions.length, mrr10: (100 * rr) / questions.length, msPerQuery: ms / questions.length };
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x: number) => x.toFixed(1);

export async function main(args: string[]): Promise<number> {
  const ngrams = !args.includes('--no-ngrams');
  const titles = args.includes('--titles');
  const typos = args.includes('--typos');
  const short = args.includes('--keywords');
  const typing = args.includes('--typing');
  const write = args.includes('--write');
  const dir = args.find((a) => !a.startsWith('--')) ?? '../shared/data';
  const data = await readXquad(`${dir}/xquad-dev`, undefined);
  const paragraphsOf = (d: XquadLang): Paragraph[] =>
    d.paragraphs.map((text, i) => (titles ? { text, title: d.titles[i] as string } : { text }));
  const english = paragraphsOf(data.get('en') as XquadLang);
  // m3web with and without typo tolerance; with typos, each library also as its documentation sets it up for them.
  const lexicons = args.includes('--lexicons') ? await readLexicons(LEXICON_DIR) : null;
  const rankers = [
    ...(lexicons ? [m3web(ngrams, true, typing, lexicons)] : []),
    m3web(ngrams, true, typing),
    m3web(ngrams, false, typing),
    minisearch(false, typing),
    ...(typos ? [minisearch(true, typing)] : []),
    orama(0),
    ...(typos ? [orama(1)] : []),
  ];
  const questions = new Map(
    [...data].map(([lang, d]) => {
      const rand = rng([...lang].reduce((h, c) => h * 31 + (c.codePointAt(0) as number), 7));
      const asked = d.questions.map((q) => {
        const text = short ? keywords(q.text) : q.text;
        const asked = typos ? misspell(text, rand) : text;
        return { ...q, text: typing ? midWord(asked) : asked };
      });
      return [lang, asked];
    }),
  );
  const results: Record<string, { mono: Record<string, Scores>; cross: Record<string, Scores> }> = {};

  for (const ranker of rankers) {
    const mono: Record<string, Scores> = {};
    const cross: Record<string, Scores> = {};
    const onEnglish = await ranker.build(english, 'en');
    console.log(`\n${ranker.name}: R@1 / MRR@10 %\nlang   mono         cross`);
    for (const [lang, d] of data) {
      const own = lang === 'en' ? onEnglish : await ranker.build(paragraphsOf(d), lang);
      const asked = questions.get(lang) as XquadLang['questions'];
      mono[lang] = await score(own, asked);
      if (lang !== 'en') cross[lang] = await score(onEnglish, asked);
      if (own !== onEnglish) own.close();
      const c = cross[lang];
      console.log(
        `${lang.padEnd(5)}  ${pct(mono[lang].r1).padStart(4)} / ${pct(mono[lang].mrr10).padStart(4)}  ${c ? `${pct(c.r1).padStart(4)} / ${pct(c.mrr10).padStart(4)}` : '   -'}`,
      );
    }
    onEnglish.close();
    results[ranker.name] = { mono, cross };
  }

  const rows = Object.entries(results).map(([name, { mono, cross }]) => {
    const m = Object.values(mono);
    const c = Object.values(cross);
    const all = [...m, ...c];
    return `| ${name} | ${pct(mean(m.map((s) => s.r1)))} / ${pct(mean(m.map((s) => s.mrr10)))} | ${pct(mean(c.map((s) => s.r1)))} / ${pct(mean(c.map((s) => s.mrr10)))} | ${mean(all.map((s) => s.msPerQuery)).toFixed(3)} |`;
  });
  const table = [
    '| ranker | monolingual R@1 / MRR@10 | against English R@1 / MRR@10 | ms per query (Node, 120 paragraphs) |',
    '|---|---:|---:|---:|',
    ...rows,
  ].join('\n');
  console.log(`\nmeans over ${data.size} languages (monolingual) and ${data.size - 1} (against English):\n${table}`);
  if (write) {
    const name = `lexical${lexicons ? '-lexicons' : ''}${titles ? '-titles' : ''}${short ? '-keywords' : ''}${typos ? '-typos' : ''}${typing ? '-typing' : ''}-latest`;
    const out = join(dirname(fileURLToPath(import.meta.url)), 'results', name);
    const meta = {
      date: new Date().toISOString().slice(0, 10),
      node: process.version,
      ngrams,
      titles,
      keywords: short,
      typos,
      typing,
      lexicons: lexicons?.map((l) => l.language) ?? [],
    };
    writeJsonFile(`${out}.json`, { meta, results });
    writeFileSync(`${out}.md`, `# Lexical rankers on xquad-dev\n\n${JSON.stringify(meta)}\n\n${table}\n`);
  }
  return 0;
}
