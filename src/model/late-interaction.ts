import type { LateInteractionSpec } from '../weights/encoder-config.js';
import type { DenseModule } from '../weights/weights.js';
import { type CpuHead, cpuHead } from './cpu-ops.js';

/** F.normalize's floor: a zero vector stays zero. */
const NORM_EPS = 1e-12;

/**
 * A late-interaction (ColBERT) model's token vectors and their MaxSim score, on the CPU: the
 * projection (a few hundred thousand numbers) runs over the states the forward read back.
 */
export class LateInteractionScorer {
  private readonly project: CpuHead;
  private readonly skip: ReadonlySet<number>;

  constructor(
    modules: readonly DenseModule[],
    private readonly spec: LateInteractionSpec,
  ) {
    this.project = cpuHead(modules);
    this.skip = new Set(spec.skiplist);
  }

  /**
   * The vectors [n, dim] of one text's states [ids.length, H]: each kept token's state projected
   * and L2-normalised. A document leaves out its skiplist tokens; a query keeps every token,
   * expansion included.
   */
  vectors(states: Float32Array, ids: readonly number[], document: boolean): Float32Array {
    const H = states.length / ids.length;
    const keep = document ? ids.flatMap((id, j) => (this.skip.has(id) ? [] : [j])) : ids.map((_, j) => j);
    const kept = keep.length === ids.length ? states : new Float32Array(keep.length * H);
    if (kept !== states) {
      for (const [r, j] of keep.entries()) kept.set(states.subarray(j * H, (j + 1) * H), r * H);
    }
    const v = this.project(kept, keep.length);
    const { dim } = this.spec;
    for (let r = 0; r < keep.length; r++) {
      const row = v.subarray(r * dim, (r + 1) * dim);
      let sum = 0;
      for (const x of row) sum += x * x;
      const inv = 1 / Math.max(Math.sqrt(sum), NORM_EPS);
      for (let c = 0; c < dim; c++) row[c] = (row[c] as number) * inv;
    }
    return v;
  }

  /** The sum over the query's vectors of the largest dot product with the document's (ColBERT's MaxSim). */
  score(query: Float32Array, document: Float32Array): number {
    const { dim } = this.spec;
    const docs = document.length / dim;
    let total = 0;
    for (let q = 0; q < query.length; q += dim) {
      let best = Number.NEGATIVE_INFINITY;
      for (let d = 0; d < docs; d++) {
        let s = 0;
        const at = d * dim;
        for (let c = 0; c < dim; c++) s += (query[q + c] as number) * (document[at + c] as number);
        if (s > best) best = s;
      }
      total += best;
    }
    return total;
  }
}
