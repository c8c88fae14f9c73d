import type { QualityRow, QualityTable } from '../pack/manifest.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import { ENGLISH, type FloresDev, type StsDev } from './dev-data.js';
import type { EmbedExits } from './embed-pool.js';
import { sparseDot, sparseRetrievalAccuracy, tfidfVectors } from './lexical.js';
import { pairCosines, retrievalAccuracy, spearman, truncateNormalize } from './metrics.js';

export interface EvalInput {
  /** Full-width pooled vectors of each text at each exit, as [exit][text]. */
  embed: EmbedExits;
  tokenizer: TextTokenizer;
  maxTokens: number;
  exits: readonly number[];
  dims: readonly number[];
  flores: FloresDev;
  sts: ReadonlyMap<string, StsDev>;
  /** Texts per embed call. */
  batch?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface EvalReport {
  table: QualityTable;
  /** Per-language FLORES accuracy (xx->eng, eng->xx) at each (layers, dims), for the full report. */
  perLanguage: Record<string, Record<string, [number, number]>>;
}

export const QUALITY_DATASET =
  'FLORES-200 dev bitext accuracy (xx->eng, eng->xx) and STS-B dev Spearman; score = mean of the three';

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);

interface Scores {
  floresXxEng: number;
  floresEngXx: number;
  sts: Record<string, number>;
  perLanguage: Record<string, [number, number]>;
}

function summarise(s: Scores): { score: number; metrics: Record<string, number> } {
  const stsMean = mean(Object.values(s.sts));
  const metrics: Record<string, number> = { floresXxEng: s.floresXxEng, floresEngXx: s.floresEngXx, stsMean };
  for (const [lang, rho] of Object.entries(s.sts)) metrics[`sts_${lang}`] = rho;
  return { score: mean([s.floresXxEng, s.floresEngXx, stsMean]), metrics };
}

/** The character n-gram TF-IDF baseline on the same data. */
export function lexicalBaseline(flores: FloresDev, sts: ReadonlyMap<string, StsDev>): Scores {
  const english = flores.get(ENGLISH) as string[];
  const perLanguage: Record<string, [number, number]> = {};
  for (const [lang, texts] of flores) {
    if (lang === ENGLISH) continue;
    const v = tfidfVectors([...texts, ...english]);
    const xx = v.slice(0, texts.length);
    const en = v.slice(texts.length);
    perLanguage[lang] = [sparseRetrievalAccuracy(xx, en), sparseRetrievalAccuracy(en, xx)];
  }
  const stsScores: Record<string, number> = {};
  for (const [lang, d] of sts) {
    const v = tfidfVectors([...d.a, ...d.b]);
    stsScores[lang] = spearman(
      d.a.map((_, i) => sparseDot(v[i] as Map<string, number>, v[d.a.length + i] as Map<string, number>)),
      d.score,
    );
  }
  const pl = Object.values(perLanguage);
  return { floresXxEng: mean(pl.map((p) => p[0])), floresEngXx: mean(pl.map((p) => p[1])), sts: stsScores, perLanguage };
}

/**
 * Embeds every dev text once per exit (full width, unnormalised), then scores each (layers, dims)
 * cell by truncating and normalising those vectors: one forward pass serves every width.
 */
export async function evaluate(input: EvalInput): Promise<EvalReport> {
  const { tokenizer, maxTokens, exits, dims, flores, sts } = input;
  const batch = input.batch ?? 128;
  const index = new Map<string, number>();
  const texts: string[] = [];
  const add = (t: string) => {
    if (!index.has(t)) {
      index.set(t, texts.length);
      texts.push(t);
    }
  };
  for (const list of flores.values()) list.forEach(add);
  for (const d of sts.values()) {
    d.a.forEach(add);
    d.b.forEach(add);
  }
  const pooled: Float32Array[][] = exits.map(() => new Array<Float32Array>(texts.length));
  // Sorting by length keeps each forward call's padding small.
  const tokens = texts.map((t) => tokenizer.encode(t, maxTokens).ids);
  const order = texts.map((_, i) => i).sort((a, b) => (tokens[a] as number[]).length - (tokens[b] as number[]).length);
  let done = 0;
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += batch) batches.push(order.slice(start, start + batch));
  // All batches are handed out at once: a worker pool runs as many as it has threads.
  await Promise.all(
    batches.map(async (ids) => {
      const out = await input.embed(ids.map((i) => tokens[i] as number[]));
      out.forEach((perText, e) => {
        perText.forEach((v, j) => {
          (pooled[e] as Float32Array[])[ids[j] as number] = v;
        });
      });
      done += ids.length;
      input.onProgress?.(done, order.length);
    }),
  );

  const rows: QualityRow[] = [];
  const perLanguage: EvalReport['perLanguage'] = {};
  const english = flores.get(ENGLISH) as string[];
  exits.forEach((layers, e) => {
    const vectorsOf = (list: readonly string[]) =>
      list.map((t) => (pooled[e] as Float32Array[])[index.get(t) as number] as Float32Array);
    for (const d of dims) {
      const en = truncateNormalize(vectorsOf(english), d);
      const per: Record<string, [number, number]> = {};
      for (const [lang, list] of flores) {
        if (lang === ENGLISH) continue;
        const xx = truncateNormalize(vectorsOf(list), d);
        per[lang] = [retrievalAccuracy(xx, en, list.length, d), retrievalAccuracy(en, xx, list.length, d)];
      }
      const stsScores: Record<string, number> = {};
      for (const [lang, pairs] of sts) {
        const a = truncateNormalize(vectorsOf(pairs.a), d);
        const b = truncateNormalize(vectorsOf(pairs.b), d);
        stsScores[lang] = spearman(pairCosines(a, b, pairs.a.length, d), pairs.score);
      }
      const pl = Object.values(per);
      rows.push({
        layers,
        dims: d,
        ...summarise({
          floresXxEng: mean(pl.map((p) => p[0])),
          floresEngXx: mean(pl.map((p) => p[1])),
          sts: stsScores,
          perLanguage: per,
        }),
      });
      perLanguage[`L${layers}d${d}`] = per;
    }
  });
  const base = lexicalBaseline(flores, sts);
  perLanguage.lexical = base.perLanguage;
  return {
    table: { dataset: QUALITY_DATASET, rows, baseline: { name: 'char 2-4-gram TF-IDF', ...summarise(base) } },
    perLanguage,
  };
}
