/** Clusters per split, and Lloyd iterations per split: enough to group neighbours, cheap at 100k points. */
const BRANCH = 16;
const ITERATIONS = 5;

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/** Spherical k-means of `ids` (unit vectors) into k groups, seeded with evenly spaced members. */
function kmeans(points: readonly Float32Array[], ids: number[], k: number): number[][] {
  const width = (points[0] as Float32Array).length;
  const centres = Array.from({ length: k }, (_, c) =>
    (points[ids[Math.floor((c * ids.length) / k)] as number] as Float32Array).slice(),
  );
  const assign = new Uint32Array(ids.length);
  for (let it = 0; it < ITERATIONS; it++) {
    ids.forEach((id, i) => {
      const p = points[id] as Float32Array;
      let best = 0;
      let bestScore = -Infinity;
      centres.forEach((c, j) => {
        const s = dot(p, c);
        if (s > bestScore) {
          bestScore = s;
          best = j;
        }
      });
      assign[i] = best;
    });
    for (const c of centres) c.fill(0);
    ids.forEach((id, i) => {
      const c = centres[assign[i] as number] as Float32Array;
      const p = points[id] as Float32Array;
      for (let d = 0; d < width; d++) c[d] = (c[d] as number) + (p[d] as number);
    });
    for (const c of centres) {
      const n = Math.hypot(...c) || 1;
      for (let d = 0; d < width; d++) c[d] = (c[d] as number) / n;
    }
  }
  const groups: number[][] = centres.map(() => []);
  ids.forEach((id, i) => {
    (groups[assign[i] as number] as number[]).push(id);
  });
  return groups;
}

/**
 * An order of `points` in which near ones are adjacent: hierarchical k-means, split until a
 * group fits in `leaf`. Row shards cut from this order hold neighbours, so the funnel's
 * candidates for a query (the rows nearest it in the coarse tier) fall into few shards.
 */
export function clusterOrder(points: readonly Float32Array[], leaf: number): number[] {
  const out: number[] = [];
  const split = (ids: number[]) => {
    const groups = ids.length <= leaf ? [] : kmeans(points, ids, Math.min(BRANCH, Math.ceil(ids.length / leaf)));
    // Points that do not separate (all equal, say) stay as they are.
    if (groups.filter((g) => g.length > 0).length < 2) out.push(...ids);
    else for (const g of groups) split(g);
  };
  split(Array.from(points, (_, i) => i));
  return out;
}
