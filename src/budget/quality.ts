import type { QualityRow } from '../pack/manifest.js';

/**
 * table: the cell's measured score. interpolated: between measured neighbours on its layer row
 * and/or dims column. bound: the best measured cell it contains (fewer or equal layers and dims),
 * a lower bound when quality grows with both. proxy: nothing measured to lean on.
 */
export type QualitySource = 'table' | 'interpolated' | 'bound' | 'proxy';

export interface QualityEstimate {
  /** The score, or null for 'proxy'. */
  score: number | null;
  source: QualitySource;
  /** Grows with layers and dims; ranks 'proxy' cells among themselves. */
  proxy: number;
}

/**
 * Quality of every (layers, dims) cell from a possibly incomplete table. Cells with any score rank
 * above proxy-only cells: a proxy-only cell neither sits between measured cells nor contains one,
 * so it lies below or beside everything measured.
 */
export function qualityEstimator(
  rows: readonly QualityRow[],
  exits: readonly number[],
  dims: readonly number[],
): (layers: number, dims: number) => QualityEstimate {
  const known = new Map(rows.map((r) => [cellKey(r.layers, r.dims), r.score]));
  // A static embedder's only exit is 0 layers deep.
  const maxLayers = Math.max(1, ...exits, ...rows.map((r) => r.layers));
  const maxDims = Math.max(...dims, ...rows.map((r) => r.dims));
  return (l, d) => {
    // Matryoshka quality grows roughly with log(dims) and steadily with depth.
    const proxy = l / maxLayers + Math.log2(1 + d) / Math.log2(1 + maxDims);
    const exact = known.get(cellKey(l, d));
    if (exact !== undefined) return { score: exact, source: 'table', proxy };
    const sameLayer = rows.filter((r) => r.layers === l).map((r) => ({ x: Math.log2(r.dims), y: r.score }));
    const sameDims = rows.filter((r) => r.dims === d).map((r) => ({ x: r.layers, y: r.score }));
    const between = [interpolate(sameLayer, Math.log2(d)), interpolate(sameDims, l)].filter((v): v is number => v !== null);
    if (between.length) return { score: between.reduce((a, b) => a + b) / between.length, source: 'interpolated', proxy };
    const inside = rows.filter((r) => r.layers <= l && r.dims <= d).map((r) => r.score);
    if (inside.length) return { score: Math.max(...inside), source: 'bound', proxy };
    return { score: null, source: 'proxy', proxy };
  };
}

/** Positive when `a` is the better cell. */
export function compareQuality(a: QualityEstimate, b: QualityEstimate): number {
  if (a.score !== null && b.score !== null) return a.score - b.score;
  if (a.score !== null) return 1;
  if (b.score !== null) return -1;
  return a.proxy - b.proxy;
}

const cellKey = (layers: number, dims: number) => `${layers}x${dims}`;

/** Linear interpolation between the nearest points on each side of x; null without both sides. */
function interpolate(points: { x: number; y: number }[], x: number): number | null {
  let lo: { x: number; y: number } | undefined;
  let hi: { x: number; y: number } | undefined;
  for (const p of points) {
    if (p.x < x && (!lo || p.x > lo.x)) lo = p;
    if (p.x > x && (!hi || p.x < hi.x)) hi = p;
  }
  if (!lo || !hi) return null;
  return lo.y + ((hi.y - lo.y) * (x - lo.x)) / (hi.x - lo.x);
}
