/**
 * The measuring loop both comparisons share, in Node and inside the benchmark pages (so it must
 * not import node modules): one case = warm-up calls, then timed calls; figures are medians and
 * nearest-rank 95th percentiles. A runtime is anything that embeds a list of texts.
 */

export interface Stats {
  runs: number;
  p50: number;
  p95: number;
}

export interface ThroughputStats extends Stats {
  texts: number;
  tokens: number;
  tokensPerSec: number;
}

/** One runtime at one setting: texts in, pooled normalised vectors out. */
export type EmbedFn = (texts: string[]) => Promise<ArrayLike<number>[]>;

export interface CasePlan {
  short: string;
  long: string;
  batch: string[];
  /** Tokens in `batch` (specials included). */
  batchTokens: number;
  /** Timed runs per case: at least `minRuns`, more for fast cases while `budgetMs` allows. */
  minRuns: number;
  maxRuns: number;
  budgetMs: number;
}

export interface CaseResults {
  latency16: Stats;
  latency128: Stats;
  throughput: ThroughputStats;
}

export function stats(times: number[]): Stats {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
  return { runs: sorted.length, p50: at(0.5), p95: at(0.95) };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Two warm-up calls (the first of a shape may compile or allocate), then the timed runs. */
export async function timeCalls(
  fn: () => Promise<unknown>,
  plan: Pick<CasePlan, 'minRuns' | 'maxRuns' | 'budgetMs'>,
): Promise<Stats> {
  await fn();
  const warm = await timed(fn);
  const runs = Math.max(plan.minRuns, Math.min(plan.maxRuns, Math.floor(plan.budgetMs / Math.max(warm, 1e-3))));
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await timed(fn));
  return stats(times);
}

export async function runCases(embed: EmbedFn, plan: CasePlan): Promise<CaseResults> {
  const latency16 = await timeCalls(() => embed([plan.short]), plan);
  const latency128 = await timeCalls(() => embed([plan.long]), plan);
  const t = await timeCalls(() => embed(plan.batch), { ...plan, maxRuns: plan.minRuns });
  return {
    latency16,
    latency128,
    throughput: { ...t, texts: plan.batch.length, tokens: plan.batchTokens, tokensPerSec: (plan.batchTokens / t.p50) * 1000 },
  };
}
