import type { SparseVector } from '../../src/model/sparse.js';

/** An oracle's sparse vector, as make_splade.py and make_bge_m3.py write them. */
export type OracleWeights = { indices: number[]; values: number[] };

/** Largest |weight - oracle| over the ids either side holds (an id one side lacks weighs 0 there). */
export function worstOff(got: readonly SparseVector[], want: readonly OracleWeights[]): number {
  let worst = 0;
  got.forEach((v, i) => {
    const w = want[i] as OracleWeights;
    const oracle = new Map(w.indices.map((id, k) => [id, w.values[k] as number]));
    const have = new Map([...v.indices].map((id, k) => [id, v.values[k] as number]));
    for (const id of new Set([...oracle.keys(), ...have.keys()]))
      worst = Math.max(worst, Math.abs((have.get(id) ?? 0) - (oracle.get(id) ?? 0)));
  });
  return worst;
}

/** The smallest cosine of a text's weights with the oracle's, both read as vectors over the vocabulary. */
export function worstCosine(got: readonly SparseVector[], want: readonly OracleWeights[]): number {
  return Math.min(
    ...got.map((v, i) => {
      const w = want[i] as OracleWeights;
      const oracle = new Map(w.indices.map((id, k) => [id, w.values[k] as number]));
      let dot = 0;
      v.indices.forEach((id, k) => {
        dot += (v.values[k] as number) * (oracle.get(id) ?? 0);
      });
      const norm = (xs: ArrayLike<number>) => Math.hypot(...Array.from(xs));
      return dot / (norm(v.values) * norm(w.values));
    }),
  );
}
