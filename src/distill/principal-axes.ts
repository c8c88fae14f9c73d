/**
 * Principal component analysis of a table's rows, in float64: what model2vec's distillation
 * does with sklearn's PCA, written out here (the mean, the covariance, its eigenvectors).
 */
export interface PrincipalAxes {
  /** [cols]: subtracted from every row before projecting. */
  mean: Float64Array;
  /** [cols, cols] column-major by axis: axes[j * cols + i] is axis j's i-th entry, axes by falling variance. */
  axes: Float64Array;
  /** Each axis's variance (eigenvalue of the covariance / rows), falling. */
  variance: Float64Array;
}

export function principalAxes(rows: Float32Array, count: number, cols: number): PrincipalAxes {
  const mean = new Float64Array(cols);
  for (let r = 0; r < count; r++) for (let i = 0; i < cols; i++) mean[i] = (mean[i] as number) + (rows[r * cols + i] as number);
  for (let i = 0; i < cols; i++) mean[i] = (mean[i] as number) / count;
  const cov = new Float64Array(cols * cols);
  const x = new Float64Array(cols);
  for (let r = 0; r < count; r++) {
    for (let i = 0; i < cols; i++) x[i] = (rows[r * cols + i] as number) - (mean[i] as number);
    for (let i = 0; i < cols; i++) {
      const xi = x[i] as number;
      const at = i * cols;
      for (let j = i; j < cols; j++) cov[at + j] = (cov[at + j] as number) + xi * (x[j] as number);
    }
  }
  for (let i = 0; i < cols; i++)
    for (let j = i; j < cols; j++) {
      const v = (cov[i * cols + j] as number) / count;
      cov[i * cols + j] = v;
      cov[j * cols + i] = v;
    }
  const { values, vectors } = symmetricEigen(cov, cols);
  const order = Array.from({ length: cols }, (_, j) => j).sort((a, b) => (values[b] as number) - (values[a] as number));
  const axes = new Float64Array(cols * cols);
  order.forEach((from, to) => {
    // A fixed sign (the largest entry positive) so the same table always gives the same axes.
    let big = 0;
    for (let i = 0; i < cols; i++) {
      const v = vectors[i * cols + from] as number;
      if (Math.abs(v) > Math.abs(big)) big = v;
    }
    const sign = big < 0 ? -1 : 1;
    for (let i = 0; i < cols; i++) axes[to * cols + i] = sign * (vectors[i * cols + from] as number);
  });
  return { mean, axes, variance: Float64Array.from(order, (j) => Math.max(0, values[j] as number)) };
}

/** Rows [count, cols] centred and projected onto the first `dims` axes: [count, dims]. */
export function projectRows(rows: Float32Array, count: number, cols: number, pca: PrincipalAxes, dims: number): Float32Array {
  const out = new Float32Array(count * dims);
  const x = new Float64Array(cols);
  for (let r = 0; r < count; r++) {
    for (let i = 0; i < cols; i++) x[i] = (rows[r * cols + i] as number) - (pca.mean[i] as number);
    for (let j = 0; j < dims; j++) {
      let s = 0;
      const at = j * cols;
      for (let i = 0; i < cols; i++) s += (x[i] as number) * (pca.axes[at + i] as number);
      out[r * dims + j] = s;
    }
  }
  return out;
}

/**
 * Eigenvalues and eigenvectors of the symmetric [n, n] matrix `a` (overwritten) by cyclic Jacobi
 * rotations: slower than Householder + QL for large n but short, and exact to rounding for the
 * few hundred columns a vocabulary table has. vectors[i * n + j] is eigenvector j's i-th entry.
 */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += (a[i] as number) ** 2;
  for (let sweep = 0; sweep < 64; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += (a[p * n + q] as number) ** 2;
    if (off <= 1e-30 * scale) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q] as number;
        if (apq === 0) continue;
        const theta = ((a[q * n + q] as number) - (a[p * n + p] as number)) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p] as number;
          const akq = a[k * n + q] as number;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k] as number;
          const aqk = a[q * n + k] as number;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p] as number;
          const vkq = v[k * n + q] as number;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: n }, (_, i) => a[i * n + i] as number), vectors: v };
}
