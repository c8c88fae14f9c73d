/**
 * ALiBi (Press et al., 2022) as JinaBERT v2 applies it: head h's attention scores get
 * -slope_h |i - j|, symmetric for an encoder. The slopes are the paper's: for m heads, m a power
 * of two, 2^(-8 (h + 1) / m); otherwise the largest power of two m below the head count gives the
 * first m, and every other slope of 2m heads the rest, 2^(-4 (2 (h - m) + 1) / m).
 * attention.wgsl computes the same from alibiBase.
 */
export function alibiSlopes(heads: number): Float32Array {
  const m = alibiBase(heads);
  return Float32Array.from({ length: heads }, (_, h) =>
    h < m ? 2 ** ((-8 * (h + 1)) / m) : 2 ** ((-4 * (2 * (h - m) + 1)) / m),
  );
}

/** The largest power of two at most `heads`. */
export function alibiBase(heads: number): number {
  return 2 ** Math.floor(Math.log2(heads));
}
