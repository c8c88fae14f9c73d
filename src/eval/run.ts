import type { PromptProjection } from '../model/projection.js';
import type { QualityRow, QualityTable } from '../pack/manifest.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import type { PromptKind } from '../weights/weights.js';
import { ENGLISH, type FloresDev, type StsDev, type XquadLang } from './dev-data.js';
import type { EmbedExits } from './embed-pool.js';
import { type SparseVector, sparseDot, sparseRetrievalAccuracy, tfidfVectors } from './lexical.js';
import { pairCosines, type RankScores, rankScores, retrievalAccuracy, rowDot, spearman, truncateNormalize } from './metrics.js';

export interface EvalInput {
  /** Full-width pooled vectors of each text at each exit, as [exit][text]. */
  embed: EmbedExits;
  tokenizer: TextTokenizer;
  maxTokens: number;
  exits: readonly number[];
  dims: readonly number[];
  flores: FloresDev;
  sts: ReadonlyMap<string, StsDev>;
  /** xquad-dev question -> paragraph retrieval, where given (English must be among the languages). */
  xquad?: ReadonlyMap<string, XquadLang>;
  /** The model's query and passage prefixes, put before xquad questions and paragraphs. */
  prefixes?: { query?: string; passage?: string };
  /** The model's projection of prompted text, applied to xquad questions and paragraphs as embed({ kind }) does. */
  projection?: PromptProjection;
  /** The task adapter xquad questions and paragraphs run, as embed({ kind }) does (jina-embeddings-v3: LoraSpec.byKind). */
  adapters?: Readonly<Partial<Record<PromptKind, number | null>>>;
  /** Texts per embed call. */
  batch?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface EvalReport {
  table: QualityTable;
  /** Per-language FLORES accuracy (xx->eng, eng->xx) at each (layers, dims), for the full report. */
  perLanguage: Record<string, Record<string, [number, number]>>;
  /** Per-language xquad-dev R@1 (monolingual, against English) at each (layers, dims), where measured. */
  xquadPerLanguage?: Record<string, Record<string, XquadR1>>;
}

export const QUALITY_DATASET =
  'FLORES-200 dev bitext accuracy (xx->eng, eng->xx) and STS-B dev Spearman; score = mean of the three';
export const QUALITY_DATASET_SEARCH =
  'FLORES-200 dev bitext accuracy (xx->eng, eng->xx), STS-B dev Spearman and xquad-dev question -> paragraph MRR@10 (mean of monolingual and against English); score = mean of the four';

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);

/** One language's R@1 against its own paragraphs and (not for English) against English ones. */
export interface XquadR1 {
  mono: number;
  cross?: number;
}

/** Question -> paragraph figures, each the mean over languages. */
interface XquadScores {
  mono: RankScores;
  cross: RankScores;
  perLanguage: Record<string, XquadR1>;
}

interface Scores {
  floresXxEng: number;
  floresEngXx: number;
  sts: Record<string, number>;
  perLanguage: Record<string, [number, number]>;
  xquad?: XquadScores;
}

function summarise(s: Scores): { score: number; metrics: Record<string, number> } {
  const stsMean = mean(Object.values(s.sts));
  const metrics: Record<string, number> = { floresXxEng: s.floresXxEng, floresEngXx: s.floresEngXx, stsMean };
  for (const [lang, rho] of Object.entries(s.sts)) metrics[`sts_${lang}`] = rho;
  const parts = [s.floresXxEng, s.floresEngXx, stsMean];
  if (s.xquad) {
    const { mono, cross } = s.xquad;
    Object.assign(metrics, {
      xquadMonoR1: mono.r1,
      xquadMonoMrr10: mono.mrr10,
      xquadCrossR1: cross.r1,
      xquadCrossMrr10: cross.mrr10,
    });
    parts.push((mono.mrr10 + cross.mrr10) / 2);
  }
  return { score: mean(parts), metrics };
}

const meanRanks = (xs: readonly RankScores[]): RankScores => ({
  r1: mean(xs.map((x) => x.r1)),
  mrr10: mean(xs.map((x) => x.mrr10)),
});

/**
 * Each language's questions against its own paragraphs and (English excepted) against the English
 * ones, scored by `ranks(questionLang, paragraphLang)`.
 */
function xquadScores(
  xquad: ReadonlyMap<string, XquadLang>,
  ranks: (questions: string, paragraphs: string) => RankScores,
): XquadScores {
  const mono: RankScores[] = [];
  const cross: RankScores[] = [];
  const perLanguage: Record<string, XquadR1> = {};
  for (const lang of xquad.keys()) {
    const own = ranks(lang, lang);
    mono.push(own);
    perLanguage[lang] = { mono: own.r1 };
    if (lang === 'en') continue;
    const en = ranks(lang, 'en');
    cross.push(en);
    (perLanguage[lang] as XquadR1).cross = en.r1;
  }
  return { mono: meanRanks(mono), cross: meanRanks(cross), perLanguage };
}

function lexicalXquad(xquad: ReadonlyMap<string, XquadLang>): XquadScores {
  const paragraphs = new Map([...xquad].map(([lang, d]) => [lang, d.paragraphs]));
  return xquadScores(xquad, (ql, pl) => {
    const d = xquad.get(ql) as XquadLang;
    const docs = paragraphs.get(pl) as string[];
    const v = tfidfVectors([...d.questions.map((q) => q.text), ...docs]);
    const qs = v.slice(0, d.questions.length);
    const ps = v.slice(d.questions.length);
    return rankScores(
      qs.length,
      ps.length,
      (i, j) => sparseDot(qs[i] as SparseVector, ps[j] as SparseVector),
      (i) => (d.questions[i] as { paragraph: number }).paragraph,
    );
  });
}

/** The character n-gram TF-IDF baseline on the same data. */
export function lexicalBaseline(
  flores: FloresDev,
  sts: ReadonlyMap<string, StsDev>,
  xquad?: ReadonlyMap<string, XquadLang>,
): Scores {
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
  return {
    floresXxEng: mean(pl.map((p) => p[0])),
    floresEngXx: mean(pl.map((p) => p[1])),
    sts: stsScores,
    perLanguage,
    ...(xquad ? { xquad: lexicalXquad(xquad) } : {}),
  };
}

/**
 * Embeds every dev text once per exit (full width, unnormalised), then scores each (layers, dims)
 * cell by truncating and normalising those vectors: one forward pass serves every width.
 */
export async function evaluate(input: EvalInput): Promise<EvalReport> {
  const { tokenizer, maxTokens, exits, dims, flores, sts, xquad } = input;
  const queryPrefix = input.prefixes?.query ?? '';
  const passagePrefix = input.prefixes?.passage ?? '';
  const batch = input.batch ?? 128;
  const index = new Map<string, number>();
  const texts: string[] = [];
  const kinds = new Map<number, PromptKind>();
  const add = (t: string, kind?: PromptKind) => {
    if (!index.has(t)) {
      if (kind) kinds.set(texts.length, kind);
      index.set(t, texts.length);
      texts.push(t);
    }
  };
  for (const list of flores.values()) for (const t of list) add(t);
  for (const d of sts.values()) {
    for (const t of [...d.a, ...d.b]) add(t);
  }
  for (const d of xquad?.values() ?? []) {
    for (const q of d.questions) add(queryPrefix + q.text, 'query');
    for (const p of d.paragraphs) add(passagePrefix + p, 'passage');
  }
  const pooled: Float32Array[][] = exits.map(() => new Array<Float32Array>(texts.length));
  // Sorting by length keeps each forward call's padding small.
  const tokens = texts.map((t) => tokenizer.encode(t, maxTokens).ids);
  const order = texts.map((_, i) => i).sort((a, b) => (tokens[a] as number[]).length - (tokens[b] as number[]).length);
  let done = 0;
  // A call runs one task adapter: texts of different kinds' adapters go in different batches.
  const byTask = new Map<number | undefined, number[]>();
  for (const i of order) {
    const kind = kinds.get(i);
    const task = (kind && input.adapters?.[kind]) ?? undefined;
    const list = byTask.get(task);
    if (list) list.push(i);
    else byTask.set(task, [i]);
  }
  const batches: { task: number | undefined; ids: number[] }[] = [];
  for (const [task, list] of byTask) {
    for (let start = 0; start < list.length; start += batch) batches.push({ task, ids: list.slice(start, start + batch) });
  }
  // All batches are handed out at once: a worker pool runs as many as it has threads.
  await Promise.all(
    batches.map(async ({ task, ids }) => {
      const out = await input.embed(
        ids.map((i) => tokens[i] as number[]),
        task,
      );
      const { projection } = input;
      out.forEach((perText, e) => {
        perText.forEach((v, j) => {
          const text = ids[j] as number;
          (pooled[e] as Float32Array[])[text] = projection?.appliesTo(kinds.get(text))
            ? projection.project(v, exits[e] as number)
            : v;
        });
      });
      done += ids.length;
      input.onProgress?.(done, order.length);
    }),
  );

  const rows: QualityRow[] = [];
  const perLanguage: EvalReport['perLanguage'] = {};
  const xquadPerLanguage: NonNullable<EvalReport['xquadPerLanguage']> = {};
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
      const xq = xquad && xquadCell(xquad, (list) => truncateNormalize(vectorsOf(list), d), d, queryPrefix, passagePrefix);
      const pl = Object.values(per);
      rows.push({
        layers,
        dims: d,
        ...summarise({
          floresXxEng: mean(pl.map((p) => p[0])),
          floresEngXx: mean(pl.map((p) => p[1])),
          sts: stsScores,
          perLanguage: per,
          ...(xq ? { xquad: xq } : {}),
        }),
      });
      perLanguage[`L${layers}d${d}`] = per;
      if (xq) xquadPerLanguage[`L${layers}d${d}`] = xq.perLanguage;
    }
  });
  const base = lexicalBaseline(flores, sts, xquad);
  perLanguage.lexical = base.perLanguage;
  if (base.xquad) xquadPerLanguage.lexical = base.xquad.perLanguage;
  return {
    table: {
      dataset: xquad ? QUALITY_DATASET_SEARCH : QUALITY_DATASET,
      rows,
      baseline: { name: 'char 2-4-gram TF-IDF', ...summarise(base) },
    },
    perLanguage,
    ...(xquad ? { xquadPerLanguage } : {}),
  };
}

/** xquad figures of one (layers, dims) cell from the texts' truncated, normalised vectors. */
function xquadCell(
  xquad: ReadonlyMap<string, XquadLang>,
  unitVectors: (texts: readonly string[]) => Float32Array,
  dims: number,
  queryPrefix: string,
  passagePrefix: string,
): XquadScores {
  const questions = new Map([...xquad].map(([lang, x]) => [lang, unitVectors(x.questions.map((q) => queryPrefix + q.text))]));
  const paragraphs = new Map([...xquad].map(([lang, x]) => [lang, unitVectors(x.paragraphs.map((p) => passagePrefix + p))]));
  return xquadScores(xquad, (ql, pl) => {
    const d = xquad.get(ql) as XquadLang;
    return rankScores(
      d.questions.length,
      (xquad.get(pl) as XquadLang).paragraphs.length,
      rowDot(questions.get(ql) as Float32Array, paragraphs.get(pl) as Float32Array, dims),
      (i) => (d.questions[i] as { paragraph: number }).paragraph,
    );
  });
}
