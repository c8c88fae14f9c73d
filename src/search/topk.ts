/** Rows with their scores, best first; equal scores keep the lower row (earlier added) first. */
export interface Ranked {
  rows: Uint32Array;
  scores: Float32Array;
}

/** What the kernels write for a row outside the mask: below any real score, and finite (WGSL may assume no infinities). */
export const MASKED_SCORE = Math.fround(-3e38);

/** True when (sa, ra) ranks before (sb, rb). */
export function ranksBefore(sa: number, ra: number, sb: number, rb: number): boolean {
  return sa > sb || (sa === sb && ra < rb);
}

/**
 * The k best of (scores[i], rows[i]) with a bounded heap whose root is the worst kept entry:
 * O(n log k), the CPU path's selection and the reference for the GPU top-k.
 */
export function selectTop(scores: ArrayLike<number>, rows: ArrayLike<number>, k: number): Ranked {
  const cap = Math.min(k, scores.length);
  const hs = new Float64Array(cap);
  const hr = new Float64Array(cap);
  let size = 0;
  const worse = (i: number, j: number) => ranksBefore(hs[j] as number, hr[j] as number, hs[i] as number, hr[i] as number);
  const swap = (i: number, j: number) => {
    [hs[i], hs[j]] = [hs[j] as number, hs[i] as number];
    [hr[i], hr[j]] = [hr[j] as number, hr[i] as number];
  };
  const siftDown = (from: number) => {
    for (let i = from; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let w = i;
      if (l < size && worse(l, w)) w = l;
      if (r < size && worse(r, w)) w = r;
      if (w === i) return;
      swap(i, w);
      i = w;
    }
  };
  for (let i = 0; i < scores.length && cap > 0; i++) {
    const s = scores[i] as number;
    const row = rows[i] as number;
    if (size < cap) {
      hs[size] = s;
      hr[size] = row;
      for (let c = size++; c > 0; ) {
        const p = (c - 1) >> 1;
        if (!worse(c, p)) break;
        swap(c, p);
        c = p;
      }
    } else if (ranksBefore(s, row, hs[0] as number, hr[0] as number)) {
      hs[0] = s;
      hr[0] = row;
      siftDown(0);
    }
  }
  const order = Array.from({ length: size }, (_, i) => i).sort((a, b) =>
    ranksBefore(hs[a] as number, hr[a] as number, hs[b] as number, hr[b] as number) ? -1 : 1,
  );
  return { rows: Uint32Array.from(order, (i) => hr[i] as number), scores: Float32Array.from(order, (i) => hs[i] as number) };
}

/** The k best of rankings over disjoint rows, ordered as selectTop orders (one ranking is returned as it is). */
export function mergeRanked(lists: readonly Ranked[], k: number): Ranked {
  if (lists.length === 1) return lists[0] as Ranked;
  const rows = new Uint32Array(lists.reduce((n, l) => n + l.rows.length, 0));
  const scores = new Float32Array(rows.length);
  let at = 0;
  for (const l of lists) {
    rows.set(l.rows, at);
    scores.set(l.scores, at);
    at += l.rows.length;
  }
  return selectTop(scores, rows, k);
}
