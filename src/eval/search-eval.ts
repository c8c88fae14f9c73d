import type { LexiconData } from '../search/lexicon.js';
import { openIndex } from '../search/search-index.js';
import type { IndexEncoder, SearchMode, SearchOptions, VectorIndex } from '../search/types.js';
import type { EmbedOptions, EmbedResult } from '../types.js';
import type { XquadLang } from './dev-data.js';

/** Question -> paragraph retrieval figures for one language, setting and search configuration. */
export interface SearchScore {
  lang: string;
  /** 'mono': questions against paragraphs of their own language; 'cross': against English paragraphs. */
  setting: 'mono' | 'cross';
  /** Which configuration (see SearchEvalInput.configs). */
  config: string;
  /** Share of questions whose paragraph ranks first. */
  r1: number;
  /** Mean reciprocal rank of the paragraph, 0 when it is below rank 10. */
  mrr10: number;
}

export interface SearchEvalInput {
  encoder: IndexEncoder;
  data: ReadonlyMap<string, XquadLang>;
  /** Named search options to compare, e.g. { vector: { mode: 'vector' }, hybrid: {} }. */
  configs: Record<string, SearchOptions>;
  layers?: number;
  dims?: number;
  /** IndexOptions.ngrams. */
  ngrams?: boolean;
  /** IndexOptions.chunkTokens. */
  chunkTokens?: number;
  /** Index each paragraph with its article's title (IndexDoc.title). */
  titles?: boolean;
  /** IndexOptions.lexicons. */
  lexicons?: readonly LexiconData[];
  onProgress?: (message: string) => void;
}

export const MODES: readonly SearchMode[] = ['vector', 'lexical', 'hybrid'];

/**
 * Every configuration re-embeds nothing: a search asks for the query's vector once per (text,
 * layers, dims), and the configurations differ only after it.
 */
function withQueryCache(encoder: IndexEncoder): IndexEncoder {
  const cache = new Map<string, Promise<EmbedResult>>();
  return {
    info: () => encoder.info(),
    embedDetailed(texts: string[], options?: EmbedOptions) {
      if (texts.length !== 1 || options?.kind !== 'query') return encoder.embedDetailed(texts, options);
      const key = JSON.stringify([texts[0], options.layers, options.dims]);
      let hit = cache.get(key);
      if (!hit) {
        hit = encoder.embedDetailed(texts, options);
        cache.set(key, hit);
      }
      return hit;
    },
  };
}

async function paragraphIndex(encoder: IndexEncoder, lang: XquadLang, input: SearchEvalInput): Promise<VectorIndex> {
  const index = await openIndex({
    encoder,
    name: 'xquad',
    device: 'cpu',
    ...(input.ngrams === undefined ? {} : { ngrams: input.ngrams }),
    ...(input.chunkTokens === undefined ? {} : { chunkTokens: input.chunkTokens }),
    ...(input.lexicons === undefined ? {} : { lexicons: input.lexicons }),
    ...(input.layers === undefined ? {} : { layers: input.layers }),
    ...(input.dims === undefined ? {} : { dims: input.dims }),
  });
  await index.add(
    lang.paragraphs.map((text, i) => {
      const title = input.titles ? lang.titles[i] : undefined;
      return { id: String(i), text, ...(title ? { title } : {}) };
    }),
  );
  return index;
}

async function score(
  index: VectorIndex,
  lang: string,
  setting: SearchScore['setting'],
  questions: XquadLang['questions'],
  configs: SearchEvalInput['configs'],
): Promise<SearchScore[]> {
  const out: SearchScore[] = [];
  for (const [config, options] of Object.entries(configs)) {
    let r1 = 0;
    let mrr = 0;
    for (const q of questions) {
      const hits = await index.search(q.text, { ...options, k: 10 });
      const rank = hits.findIndex((h) => h.id === String(q.paragraph));
      if (rank === 0) r1++;
      if (rank >= 0) mrr += 1 / (rank + 1);
    }
    out.push({ lang, setting, config, r1: r1 / questions.length, mrr10: mrr / questions.length });
  }
  return out;
}

/**
 * xquad-dev retrieval with the product's own search index (memory store, CPU scoring): each
 * language's questions against its own paragraphs and against the English ones.
 */
export async function evaluateSearch(input: SearchEvalInput): Promise<SearchScore[]> {
  const encoder = withQueryCache(input.encoder);
  const english = input.data.get('en') as XquadLang;
  const out: SearchScore[] = [];
  const englishIndex = await paragraphIndex(encoder, english, input);
  try {
    for (const [lang, d] of input.data) {
      input.onProgress?.(`xquad ${lang}`);
      const own = lang === 'en' ? englishIndex : await paragraphIndex(encoder, d, input);
      try {
        out.push(...(await score(own, lang, 'mono', d.questions, input.configs)));
        if (lang !== 'en') out.push(...(await score(englishIndex, lang, 'cross', d.questions, input.configs)));
      } finally {
        if (own !== englishIndex) own.close();
      }
    }
  } finally {
    englishIndex.close();
  }
  return out;
}

/** Mean of r1 and mrr10 over languages, per setting and configuration. */
export function meanScores(scores: readonly SearchScore[]): SearchScore[] {
  const groups = new Map<string, SearchScore[]>();
  for (const s of scores) {
    const key = `${s.setting}\u0000${s.config}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups.values()].map((g) => ({
    lang: 'mean',
    setting: (g[0] as SearchScore).setting,
    config: (g[0] as SearchScore).config,
    r1: g.reduce((n, s) => n + s.r1, 0) / g.length,
    mrr10: g.reduce((n, s) => n + s.mrr10, 0) / g.length,
  }));
}
