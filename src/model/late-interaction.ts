import { InputError } from '../errors.js';
import type { LateInteractionSpec } from '../weights/encoder-config.js';
import { matmul } from './cpu-ops.js';

/** F.normalize's floor: a zero vector stays zero. */
const NORM_EPS = 1e-12;

/**
 * A late-interaction (ColBERT) model's token vectors as they are compared (by `maxSim` below), on
 * the CPU: the backends return every token's projected vector (EncoderBackend.tokenVectors).
 */
export class LateInteractionScorer {
  private readonly skip: ReadonlySet<number>;

  constructor(private readonly spec: LateInteractionSpec) {
    this.skip = new Set(spec.skiplist);
  }

  /**
   * The vectors [n, dim] of one text's projected tokens [ids.length, dim], each L2-normalised: a
   * document leaves out its skiplist tokens; a query keeps every token, expansion included; where
   * the spec says so, neither keeps the first token's.
   */
  vectors(projected: Float32Array, ids: readonly number[], document: boolean): Float32Array {
    const { dim } = this.spec;
    const from = this.spec.firstToken === false ? 1 : 0;
    const keep = ids.flatMap((id, j) => (j < from || (document && this.skip.has(id)) ? [] : [j]));
    const out = new Float32Array(keep.length * dim);
    for (const [r, j] of keep.entries()) {
      const row = projected.subarray(j * dim, (j + 1) * dim);
      let sum = 0;
      for (const x of row) sum += x * x;
      const inv = 1 / Math.max(Math.sqrt(sum), NORM_EPS);
      for (let c = 0; c < dim; c++) out[r * dim + c] = (row[c] as number) * inv;
    }
    return out;
  }

  /** How a query and a document compare: MaxSim, averaged over the query's vectors where the spec says so. */
  score(query: Float32Array, document: Float32Array): number {
    const { dim } = this.spec;
    const sum = maxSim(query, document, dim);
    return this.spec.score === 'mean' ? sum / Math.max(1, query.length / dim) : sum;
  }
}

/**
 * ColBERT's MaxSim: the sum over the query's vectors of the largest dot product with the
 * document's; both are rows of `dim` numbers side by side (as `embedTokens` gives them).
 */
export function maxSim(query: Float32Array, document: Float32Array, dim: number): number {
  if (!Number.isInteger(dim) || dim < 1 || query.length % dim !== 0 || document.length % dim !== 0 || document.length === 0)
    throw new InputError(
      `maxSim: the query (${query.length}) and the document (${document.length}) must be non-empty rows of dim ${dim}`,
    );
  const rows = document.length / dim;
  const queries = query.length / dim;
  // [queries, rows] dot products, blocked as the CPU forward's projections are.
  const dots = matmul(query, { w: document, b: new Float32Array(rows), rows, cols: dim }, queries);
  let total = 0;
  for (let q = 0; q < queries; q++) {
    let best = Number.NEGATIVE_INFINITY;
    for (let d = q * rows; d < (q + 1) * rows; d++) best = Math.max(best, dots[d] as number);
    total += best;
  }
  return total;
}
