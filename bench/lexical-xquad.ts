/**
 * BM25 alone on xquad-dev (question -> paragraph R@1 and MRR@10, monolingual and against
 * English), through the index's lexical mode with a constant stand-in encoder: lexical options
 * measured in seconds, without a model. Beside it, the in-page search libraries sites ship
 * (MiniSearch, Orama) on the same paragraphs and questions, as a site would set them up.
 * `npm run bench -- lexical [DATA_DIR] [--no-ngrams] [--titles] [--write]` (default data
 * ../shared/data; --titles indexes each paragraph with its article's title, each library's title
 * field boosted 2x as m3web weighs it; --write stores bench/results/lexical-latest.json and .md,
 * or lexical-titles-latest with --titles); `m3web eval --search` gives the same m3web figures beside the vectors'.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, insert, type Language, search } from '@orama/orama';
import MiniSearch from 'minisearch';
import { readXquad, type XquadLang } from '../src/eval/dev-data.js';
import { openIndex } from '../src/search/index.js';
import { TITLE_WEIGHT } from '../src/search/lexical.js';
import type { IndexEncoder } from '../src/search/types.js';
import type { ModelInfo } from '../src/types.js';
import { writeJsonFile } from './common.js';

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
interface Searcher {
  top(query: string, k: number): Promise<number[]>;
  close(): void;
}
/** A paragraph, with its article's title where the run indexes titles. */
interface Paragraph {
  text: string;
  title?: string;
}
interface Ranker {
  name: string;
  /** `lang`: the paragraphs' language (xquad's code), for libraries that are told it. */
  build(paragraphs: readonly Paragraph[], lang: string): Promise<Searcher>;
}
/** Each library's boost of a title field: m3web's TITLE_WEIGHT. */
const TITLE_BOOST = TITLE_WEIGHT;

const m3web = (ngrams: boolean): Ranker => ({
  name: `m3web lexical${ngrams ? '' : ' (no ngrams)'}`,
  async build(paragraphs) {
    const index = await openIndex({ encoder, name: 'lexical-xquad', device: 'cpu', ngrams });
    await index.add(paragraphs.map((p, i) => ({ id: String(i), ...p })));
    return {
      top: async (q, k) => (await index.search(q, { mode: 'lexical', k })).map((h) => Number(h.id)),
      close: () => index.close(),
    };
  },
});

/** MiniSearch's defaults: Unicode space / punctuation split, lower case, BM25+, any term. */
const minisearch: Ranker = {
  name: 'MiniSearch 7.2 (defaults)',
  async build(paragraphs) {
    const titled = paragraphs.some((p) => p.title);
    const ms = new MiniSearch<{ id: number } & Paragraph>({ fields: titled ? ['title', 'text'] : ['text'] });
    ms.addAll(paragraphs.map((p, id) => ({ id, ...p })));
    return {
      top: async (q, k) =>
        ms
          .search(q, titled ? { boost: { title: TITLE_BOOST } } : {})
          .slice(0, k)
          .map((r) => r.id as number),
      close: () => {},
    };
  },
};

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
const orama: Ranker = {
  name: "Orama 3.1 (BM25, the paragraphs' language where it has one)",
  async build(paragraphs, lang) {
    const titled = paragraphs.some((p) => p.title);
    const db = create({ schema: { title: 'string', text: 'string' } as const, language: ORAMA_LANGUAGE[lang] ?? 'english' });
    for (const [i, p] of paragraphs.entries()) insert(db, { id: String(i), title: p.title ?? '', text: p.text });
    return {
      top: async (q, k) => {
        const found = await search(db, {
          term: q,
          limit: k,
          ...(titled ? { boost: { title: TITLE_BOOST } } : { properties: ['text'] }),
        });
        return found.hits.map((h) => Number(h.id));
      },
      close: () => {},
    };
  },
};

interface Scores {
  r1: number;
  mrr10: number;
  msPerQuery: number;
}

async function score(s: Searcher, questions: readonly { text: string; paragraph: number }[]): Promise<Scores> {
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
  const write = args.includes('--write');
  const dir = args.find((a) => !a.startsWith('--')) ?? '../shared/data';
  const data = await readXquad(`${dir}/xquad-dev`, undefined);
  const paragraphsOf = (d: XquadLang): Paragraph[] =>
    d.paragraphs.map((text, i) => (titles ? { text, title: d.titles[i] as string } : { text }));
  const english = paragraphsOf(data.get('en') as XquadLang);
  const rankers = [m3web(ngrams), minisearch, orama];
  const results: Record<string, { mono: Record<string, Scores>; cross: Record<string, Scores> }> = {};

  for (const ranker of rankers) {
    const mono: Record<string, Scores> = {};
    const cross: Record<string, Scores> = {};
    const onEnglish = await ranker.build(english, 'en');
    console.log(`\n${ranker.name}: R@1 / MRR@10 %\nlang   mono         cross`);
    for (const [lang, d] of data) {
      const own = lang === 'en' ? onEnglish : await ranker.build(paragraphsOf(d), lang);
      mono[lang] = await score(own, d.questions);
      if (lang !== 'en') cross[lang] = await score(onEnglish, d.questions);
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
    const out = join(dirname(fileURLToPath(import.meta.url)), 'results', titles ? 'lexical-titles-latest' : 'lexical-latest');
    const meta = { date: new Date().toISOString().slice(0, 10), node: process.version, ngrams, titles };
    writeJsonFile(`${out}.json`, { meta, results });
    writeFileSync(`${out}.md`, `# Lexical rankers on xquad-dev\n\n${JSON.stringify(meta)}\n\n${table}\n`);
  }
  return 0;
}
