import { dequantizeLinear } from '../pack/quantize.js';
import { bucketize, type TokenBatch } from './batch.js';
import type { EncoderConfig } from './config.js';
import { checkForwardOptions, checkTokens, type EncoderBackend, type ForwardOptions, finishVector } from './encoder.js';
import { gelu } from './math.js';
import type { BertWeights, LayerNormParams, Linear } from './weights.js';

interface DenseF32 {
  w: Float32Array;
  b: Float32Array;
  rows: number;
  cols: number;
}

interface CpuLayer {
  qkv: DenseF32;
  attnOut: DenseF32;
  attnNorm: LayerNormParams;
  ffnIn: DenseF32;
  ffnOut: DenseF32;
  ffnNorm: LayerNormParams;
}

const dense = (l: Linear): DenseF32 => ({ w: dequantizeLinear(l), b: l.bias, rows: l.rows, cols: l.cols });

/**
 * The plain-TypeScript f32 forward: the fallback where WebGPU is missing or fails, and the
 * reference the GPU kernels are tested against. Quantized weights are dequantized once here.
 */
export class CpuEncoder implements EncoderBackend {
  readonly kind = 'cpu' as const;
  readonly config: EncoderConfig;
  private readonly layers: CpuLayer[];

  constructor(private readonly weights: BertWeights) {
    this.config = weights.config;
    this.layers = weights.layers.map((l) => ({
      qkv: dense(l.qkv),
      attnOut: dense(l.attnOut),
      attnNorm: l.attnNorm,
      ffnIn: dense(l.ffnIn),
      ffnOut: dense(l.ffnOut),
      ffnNorm: l.ffnNorm,
    }));
  }

  get loadedLayers(): number {
    return this.layers.length;
  }

  async embed(tokens: readonly ArrayLike<number>[], o: ForwardOptions): Promise<Float32Array[]> {
    checkForwardOptions(this, tokens, o);
    const H = this.config.hiddenSize;
    const out: Float32Array[] = new Array(tokens.length);
    for (const batch of bucketize(tokens, this.config)) {
      const h = this.forward(batch, o.layers);
      batch.indices.forEach((textIndex, row) => {
        const len = batch.lengths[row] as number;
        const base = row * batch.seqLen * H;
        const pooled = new Float32Array(H);
        if (o.pooling === 'cls') pooled.set(h.subarray(base, base + H));
        else {
          for (let t = 0; t < len; t++)
            for (let c = 0; c < H; c++) pooled[c] = (pooled[c] as number) + (h[base + t * H + c] as number);
          for (let c = 0; c < H; c++) pooled[c] = (pooled[c] as number) / len;
        }
        out[textIndex] = finishVector(pooled, o.dims, o.normalize);
      });
    }
    return out;
  }

  async hiddenStates(tokens: readonly ArrayLike<number>[], layers: number): Promise<Float32Array[]> {
    checkTokens(tokens, this.config.maxTokens, this.config.vocabSize);
    const H = this.config.hiddenSize;
    const out: Float32Array[] = new Array(tokens.length);
    for (const batch of bucketize(tokens, this.config)) {
      const h = this.forward(batch, layers);
      batch.indices.forEach((textIndex, row) => {
        const base = row * batch.seqLen * H;
        out[textIndex] = h.slice(base, base + (batch.lengths[row] as number) * H);
      });
    }
    return out;
  }

  dispose(): void {}

  /** Hidden states [size * seqLen, H] after `layers` layers. */
  forward(batch: TokenBatch, layers: number): Float32Array {
    const { hiddenSize: H, numHeads, headDim, layerNormEps: eps } = this.config;
    const M = batch.size * batch.seqLen;
    let x: Float32Array = new Float32Array(M * H);
    this.weights.word.gather(batch.ids, x);
    const { position, tokenType } = this.weights;
    for (let m = 0; m < M; m++) {
      const p = (batch.positions[m] as number) * H;
      for (let c = 0; c < H; c++)
        x[m * H + c] = (x[m * H + c] as number) + (position[p + c] as number) + (tokenType[c] as number);
    }
    layerNorm(x, null, this.weights.embNorm, H, eps);
    for (const layer of this.layers.slice(0, layers)) {
      const qkv = matmul(x, layer.qkv, M);
      const ctx = attention(qkv, batch, numHeads, headDim);
      const a = matmul(ctx, layer.attnOut, M);
      layerNorm(a, x, layer.attnNorm, H, eps);
      const f = matmul(a, layer.ffnIn, M);
      for (let i = 0; i < f.length; i++) f[i] = gelu(f[i] as number);
      const y = matmul(f, layer.ffnOut, M);
      layerNorm(y, a, layer.ffnNorm, H, eps);
      x = y;
    }
    return x;
  }
}

/** y[m, n] = x[m, :] . W[n, :] + b[n]; rows of W are contiguous, so both operands stream. */
function matmul(x: Float32Array, d: DenseF32, M: number): Float32Array {
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
function layerNorm(x: Float32Array, residual: Float32Array | null, p: LayerNormParams, H: number, eps: number): void {
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
function attention(qkv: Float32Array, batch: TokenBatch, heads: number, d: number): Float32Array {
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
