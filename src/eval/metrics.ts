/** Retrieval and correlation metrics over unit vectors, for `m3web eval`. */

/** Truncates each vector to `dims` and L2-normalises it, packed row-major into one array. */
export function truncateNormalize(vectors: readonly Float32Array[], dims: number): Float32Array {
  const out = new Float32Array(vectors.length * dims);
  vectors.forEach((v, i) => {
    let ss = 0;
    for (let d = 0; d < dims; d++) ss += (v[d] as number) ** 2;
    const inv = 1 / Math.max(Math.sqrt(ss), 1e-12);
    for (let d = 0; d < dims; d++) out[i * dims + d] = (v[d] as number) * inv;
  });
  return out;
}

/** Recall at 1 and mean reciprocal rank within the top 10 (0 below it). */
export interface RankScores {
  r1: number;
  mrr10: number;
}

/**
 * Ranks each query's answer among `docs` documents by `similarity`; a document that ties the
 * answer ranks ahead of it only when it comes first, as an argmax that keeps the first maximum would.
 */
export function rankScores(
  queries: number,
  docs: number,
  similarity: (query: number, doc: number) => number,
  answer: (query: number) => number,
): RankScores {
  let r1 = 0;
  let mrr = 0;
  for (let i = 0; i < queries; i++) {
    const right = answer(i);
    const target = similarity(i, right);
    let ahead = 0;
    for (let j = 0; j < docs && ahead < 10; j++) {
      if (j === right) continue;
      const s = similarity(i, j);
      if (s > target || (s === target && j < right)) ahead++;
    }
    if (ahead === 0) r1++;
    if (ahead < 10) mrr += 1 / (ahead + 1);
  }
  return { r1: r1 / queries, mrr10: mrr / queries };
}

/** Cosine of row i of `a` with row j of `b`, both row-major [n, dims] matrices of unit vectors. */
export const rowDot =
  (a: Float32Array, b: Float32Array, dims: number) =>
  (i: number, j: number): number => {
    let s = 0;
    for (let d = 0; d < dims; d++) s += (a[i * dims + d] as number) * (b[j * dims + d] as number);
    return s;
  };

/** Bitext retrieval accuracy: the share of rows i of `a` whose most similar row of `b` is row i. */
export const retrievalAccuracy = (a: Float32Array, b: Float32Array, n: number, dims: number): number =>
  rankScores(n, n, rowDot(a, b, dims), (i) => i).r1;

/** Ranks with ties sharing their mean rank, as Spearman's rho needs. */
function ranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((x, y) => x[0] - y[0]);
  const out = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && (order[j + 1] as readonly [number, number])[0] === (order[i] as readonly [number, number])[0])
      j++;
    for (let k = i; k <= j; k++) out[(order[k] as readonly [number, number])[1]] = (i + j) / 2;
    i = j + 1;
  }
  return out;
}

function pearson(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    const dy = (y[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx === 0 || syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy);
}

export const spearman = (x: readonly number[], y: readonly number[]) => pearson(ranks(x), ranks(y));

/** Cosine of row i of `a` with row i of `b` (unit vectors). */
export function pairCosines(a: Float32Array, b: Float32Array, n: number, dims: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dims; d++) s += (a[i * dims + d] as number) * (b[i * dims + d] as number);
    out[i] = s;
  }
  return out;
}
