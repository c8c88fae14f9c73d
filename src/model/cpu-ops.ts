import type { TokenBatch } from './batch.js';
import type { Pooling } from './encoder.js';
import type { LayerNormParams } from './weights.js';

/**
 * The forward's building blocks in plain f32 TypeScript: the CPU fallback runs them, and each
 * WGSL kernel is tested against its counterpart here.
 */

export interface DenseF32 {
  w: Float32Array;
  b: Float32Array;
  rows: number;
  cols: number;
}

/** y[m, n] = x[m, :] . W[n, :] + b[n]; rows of W are contiguous, so both operands stream. */
export function matmul(x: Float32Array, d: DenseF32, M: number): Float32Array {
  const { w, b, rows: N, cols: K } = d;
  const y = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    const xo = m * K;
    for (let n = 0; n < N; n++) {
      const wo = n * K;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let k = 0;
      for (; k + 3 < K; k += 4) {
        s0 += (x[xo + k] as number) * (w[wo + k] as number);
        s1 += (x[xo + k + 1] as number) * (w[wo + k + 1] as number);
        s2 += (x[xo + k + 2] as number) * (w[wo + k + 2] as number);
        s3 += (x[xo + k + 3] as number) * (w[wo + k + 3] as number);
      }
      for (; k < K; k++) s0 += (x[xo + k] as number) * (w[wo + k] as number);
      y[m * N + n] = s0 + s1 + s2 + s3 + (b[n] as number);
    }
  }
  return y;
}

/** In place: x = LayerNorm(x + residual). */
export function layerNorm(x: Float32Array, residual: Float32Array | null, p: LayerNormParams, H: number, eps: number): void {
  for (let o = 0; o < x.length; o += H) {
    let mean = 0;
    for (let c = 0; c < H; c++) {
      const v = (x[o + c] as number) + (residual ? (residual[o + c] as number) : 0);
      x[o + c] = v;
      mean += v;
    }
    mean /= H;
    let variance = 0;
    for (let c = 0; c < H; c++) variance += ((x[o + c] as number) - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / H + eps);
    for (let c = 0; c < H; c++) x[o + c] = ((x[o + c] as number) - mean) * inv * (p.gamma[c] as number) + (p.beta[c] as number);
  }
}

/** Softmax attention per (row, head) over the row's real tokens; padded keys get no weight. */
export function attention(
  qkv: Float32Array,
  batch: Pick<TokenBatch, 'size' | 'seqLen' | 'lengths'>,
  heads: number,
  d: number,
): Float32Array {
  const H = heads * d;
  const S = batch.seqLen;
  const ctx = new Float32Array(batch.size * S * H);
  const scores = new Float32Array(S);
  const scale = 1 / Math.sqrt(d);
  for (let r = 0; r < batch.size; r++) {
    const len = batch.lengths[r] as number;
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < S; i++) {
        const q = (r * S + i) * 3 * H + h * d;
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < len; j++) {
          const k = (r * S + j) * 3 * H + H + h * d;
          let s = 0;
          for (let c = 0; c < d; c++) s += (qkv[q + c] as number) * (qkv[k + c] as number);
          scores[j] = s * scale;
          max = Math.max(max, s * scale);
        }
        let sum = 0;
        for (let j = 0; j < len; j++) {
          scores[j] = Math.exp((scores[j] as number) - max);
          sum += scores[j] as number;
        }
        const o = (r * S + i) * H + h * d;
        for (let j = 0; j < len; j++) {
          const v = (r * S + j) * 3 * H + 2 * H + h * d;
          const p = (scores[j] as number) / sum;
          for (let c = 0; c < d; c++) ctx[o + c] = (ctx[o + c] as number) + p * (qkv[v + c] as number);
        }
      }
    }
  }
  return ctx;
}

/** Mean over the first `length` token rows of hidden [seqLen, H], or the first row for 'cls'. */
export function pool(hidden: Float32Array, length: number, H: number, pooling: Pooling): Float32Array {
  const pooled = new Float32Array(H);
  if (pooling === 'cls') {
    pooled.set(hidden.subarray(0, H));
    return pooled;
  }
  for (let t = 0; t < length; t++) for (let c = 0; c < H; c++) pooled[c] = (pooled[c] as number) + (hidden[t * H + c] as number);
  for (let c = 0; c < H; c++) pooled[c] = (pooled[c] as number) / length;
  return pooled;
}
