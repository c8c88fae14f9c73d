import type { Pooling } from '../weights/config.js';
import { dequantizeLinear } from '../weights/quantize.js';
import type { DenseModule, LayerNormParams, Linear, OutputQuantizer } from '../weights/weights.js';
import type { AttentionShape } from './attention-shape.js';
import type { TokenBatch } from './batch.js';
import { gelu, geluTanh, silu } from './math.js';
import type { Activation, PlacedLinear, WasmKernels } from './wasm/kernels.js';

/**
 * The forward's building blocks in f32 on the CPU: the CPU fallback runs them, and each WGSL
 * kernel is tested against its plain-TypeScript counterpart here. Projections run in the SIMD
 * WebAssembly kernel of wasm/matmul.wat where the runtime has one, with `matmul` as fallback.
 */

export interface DenseF32 {
  w: Float32Array;
  b: Float32Array;
  rows: number;
  cols: number;
}

/** A Linear read without its bias (a pack's projections store none) adds zeros. */
export const dense = (l: Linear): DenseF32 => ({
  w: dequantizeLinear(l),
  b: l.bias.length === l.rows ? l.bias : new Float32Array(l.rows),
  rows: l.rows,
  cols: l.cols,
});

/** What may follow a projection: the WebAssembly kernel's activations, or tanh-approximated GELU (ALBERT's gelu_new), applied after it. */
export type CpuActivation = Activation | 'gelu_tanh';

/** A projection ready to run: y = x W^T + b over the M rows of x, then the activation. */
export type CpuLinear = (x: Float32Array, M: number, activation?: CpuActivation) => Float32Array;

/** Applies an activation the projection kernels do not fuse, in place. */
export function activate(y: Float32Array, activation: CpuActivation): Float32Array {
  const f = activation === 'gelu' ? gelu : activation === 'gelu_tanh' ? geluTanh : null;
  if (f) for (let i = 0; i < y.length; i++) y[i] = f(y[i] as number);
  return y;
}

/**
 * A projection run by the SIMD WebAssembly kernels when there are some (its weights then live
 * only in their memory: q8 as int8, everything else dequantised to f32 once, at load), else
 * dequantised to f32 and run by `matmul`.
 */
export function cpuLinear(l: Linear, kernel: WasmKernels | null): CpuLinear {
  const placed = kernel && placeLinear(l, kernel);
  if (kernel && placed)
    return (x, M, activation = 'none') =>
      activation === 'gelu_tanh'
        ? activate(kernel.matmul(x, placed, M, 'none'), activation)
        : kernel.matmul(x, placed, M, activation);
  const d = dense(l);
  return (x, M, activation = 'none') => activate(matmul(x, d, M), activation);
}

function placeLinear(l: Linear, kernel: WasmKernels): PlacedLinear | null {
  if (l.quant === 'q8' && l.scales) {
    const data = new Int8Array(l.data.buffer, l.data.byteOffset, l.rows * l.cols);
    return kernel.placeQ8(data, l.scales, l.bias, l.rows, l.cols);
  }
  const d = dense(l);
  return kernel.place(d.w, d.b, d.rows, d.cols);
}

type Projection = 'qkv' | 'attnOut' | 'ffnIn' | 'ffnOut';

/**
 * Layers (BERT or ModernBERT) with their four projections made runnable, and the attention to
 * run between them; in `kernel` (one instance per forward) where the runtime has one.
 */
export function cpuLayers<L extends Record<Projection, Linear>>(
  layers: readonly L[],
  kernel: WasmKernels | null,
  runsOwnFeedForward: (layer: L) => boolean = () => false,
): {
  layers: (Omit<L, Projection> & Record<Projection, CpuLinear>)[];
  attend: typeof attention;
  attendGrouped: typeof groupedAttention;
} {
  // A layer that runs its feed-forward another way (a mixture of experts' slices) places no copy of it.
  const elsewhere: CpuLinear = () => {
    throw new Error('this layer runs its feed-forward through its experts');
  };
  // Layers that share weights (ALBERT's groups) are one object: placed once.
  const placed = new Map<L, Omit<L, Projection> & Record<Projection, CpuLinear>>();
  const place = (l: L) => {
    const run = (p: Projection) => cpuLinear(l[p], kernel);
    const own = runsOwnFeedForward(l);
    return {
      ...l,
      qkv: run('qkv'),
      attnOut: run('attnOut'),
      ffnIn: own ? elsewhere : run('ffnIn'),
      ffnOut: own ? elsewhere : run('ffnOut'),
    };
  };
  return {
    layers: layers.map((l) => {
      const known = placed.get(l);
      if (known) return known;
      const p = place(l);
      placed.set(l, p);
      return p;
    }),
    attend: kernel ? (...args) => kernel.attention(...args) : attention,
    attendGrouped: kernel ? (...args) => kernel.groupedAttention(...args) : groupedAttention,
  };
}

/**
 * One architecture's forward over a batch: the exit representation after `layers` layers,
 * [size * seqLen, H]; `afterLayer` sees each layer's exit in turn.
 */
export type CpuForward = (
  batch: TokenBatch,
  layers: number,
  afterLayer?: (layer: number, h: Float32Array) => void,
  task?: number,
) => Float32Array;

/**
 * A forward taken one layer at a time, so the rows may change between layers (adaptive depth
 * drops the texts that have left). Its stream is also its exit representation.
 */
export interface CpuStepper {
  /** The embedding output, [size * seqLen, H]: the stream the first layer reads. `task`: see ForwardOptions.task. */
  embed(batch: TokenBatch, task?: number): Float32Array;
  /** Runs layer `i` (0-based) over the stream `x` of `batch`'s rows; returns the new stream. */
  layer(i: number, x: Float32Array, batch: TokenBatch, task?: number): Float32Array;
}

/** The whole forward of a stepper whose model has `loaded` layers. */
export function steppedForward(s: CpuStepper, loaded: number): CpuForward {
  return (batch, count, afterLayer, task) => {
    let x = s.embed(batch, task);
    for (let i = 0; i < Math.min(count, loaded); i++) {
      x = s.layer(i, x, batch, task);
      afterLayer?.(i + 1, x);
    }
    return x;
  };
}

/**
 * y[m, n] = x[m, :] . W[n, :] + b[n]. Rows of W are contiguous, so both operands stream. Blocks of
 * 4 rows of x by 2 rows of W keep 8 sums in registers and load each value once per 2-4 uses:
 * about 1.8x the plain dot-product loop in V8.
 */
export function matmul(x: Float32Array, d: DenseF32, M: number): Float32Array {
  const { w, b, rows: N, cols: K } = d;
  const y = new Float32Array(M * N);
  const M4 = M - (M % 4);
  const N2 = N - (N % 2);
  for (let m = 0; m < M4; m += 4) {
    const x0 = m * K;
    const x1 = x0 + K;
    const x2 = x1 + K;
    const x3 = x2 + K;
    for (let n = 0; n < N2; n += 2) {
      const w0 = n * K;
      const w1 = w0 + K;
      let a00 = 0;
      let a01 = 0;
      let a10 = 0;
      let a11 = 0;
      let a20 = 0;
      let a21 = 0;
      let a30 = 0;
      let a31 = 0;
      for (let k = 0; k < K; k++) {
        const wa = w[w0 + k] as number;
        const wb = w[w1 + k] as number;
        const xa = x[x0 + k] as number;
        const xb = x[x1 + k] as number;
        const xc = x[x2 + k] as number;
        const xd = x[x3 + k] as number;
        a00 += xa * wa;
        a01 += xa * wb;
        a10 += xb * wa;
        a11 += xb * wb;
        a20 += xc * wa;
        a21 += xc * wb;
        a30 += xd * wa;
        a31 += xd * wb;
      }
      const b0 = b[n] as number;
      const b1 = b[n + 1] as number;
      y[m * N + n] = a00 + b0;
      y[m * N + n + 1] = a01 + b1;
      y[(m + 1) * N + n] = a10 + b0;
      y[(m + 1) * N + n + 1] = a11 + b1;
      y[(m + 2) * N + n] = a20 + b0;
      y[(m + 2) * N + n + 1] = a21 + b1;
      y[(m + 3) * N + n] = a30 + b0;
      y[(m + 3) * N + n + 1] = a31 + b1;
    }
    for (let r = m; r < m + 4; r++) for (let n = N2; n < N; n++) y[r * N + n] = dot(x, r * K, w, n * K, K) + (b[n] as number);
  }
  for (let m = M4; m < M; m++) for (let n = 0; n < N; n++) y[m * N + n] = dot(x, m * K, w, n * K, K) + (b[n] as number);
  return y;
}

function dot(x: Float32Array, xo: number, w: Float32Array, wo: number, K: number): number {
  let s = 0;
  for (let k = 0; k < K; k++) s += (x[xo + k] as number) * (w[wo + k] as number);
  return s;
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

/**
 * LayerNorms over column blocks of width H in each of M rows of `stride` values, in place: block b
 * (columns [b H, (b + 1) H)) by norms[b] (jina-bert-v2-qk-post-norm's query and key within the
 * stacked q/k/v rows).
 */
export function normColumns(
  x: Float32Array,
  M: number,
  stride: number,
  norms: readonly LayerNormParams[],
  H: number,
  eps: number,
): void {
  for (let m = 0; m < M; m++) {
    for (const [b, norm] of norms.entries())
      layerNorm(x.subarray(m * stride + b * H, m * stride + (b + 1) * H), null, norm, H, eps);
  }
}

/**
 * Softmax attention per (row, head) over the row's real tokens; padded keys get no weight. With
 * `windowHalf`, query i sees only keys j with |i - j| <= windowHalf (ModernBERT's local layers);
 * a padded query that sees no key at all gets zeros.
 */
export function attention(
  qkv: Float32Array,
  batch: Pick<TokenBatch, 'size' | 'seqLen' | 'lengths'>,
  heads: number,
  d: number,
  windowHalf = Number.POSITIVE_INFINITY,
): Float32Array {
  return groupedAttention(qkv, batch, { heads, kvHeads: heads, d, windowHalf, causal: false, scale: 1 / Math.sqrt(d) });
}

/**
 * Grouped-query attention over qkv rows laid out [queries (heads * d), keys (kvHeads * d), values
 * (kvHeads * d)]; output [size * seqLen, heads * d]. Masks as `attention`, plus `causal`.
 */
export function groupedAttention(
  qkv: Float32Array,
  batch: Pick<TokenBatch, 'size' | 'seqLen' | 'lengths'>,
  { heads, kvHeads, d, windowHalf, causal, scale, alibi, relative, disentangled: dis }: AttentionShape,
): Float32Array {
  const Q = heads * d;
  const KV = kvHeads * d;
  const stride = Q + 2 * KV;
  const group = heads / kvHeads;
  const S = batch.seqLen;
  const ctx = new Float32Array(batch.size * S * Q);
  const scores = new Float32Array(S);
  for (let r = 0; r < batch.size; r++) {
    const len = batch.lengths[r] as number;
    for (let h = 0; h < heads; h++) {
      const kvHead = Math.floor(h / group) * d;
      const slope = alibi ? (alibi[h] as number) : 0;
      const reach = relative?.reach ?? 0;
      const bias = relative?.table.subarray(h * (2 * reach + 1), (h + 1) * (2 * reach + 1));
      for (let i = 0; i < S; i++) {
        const lo = Math.max(0, i - windowHalf);
        const hi = Math.min(len, causal ? i + 1 : len, i + windowHalf + 1);
        if (hi <= lo) continue;
        const q = (r * S + i) * stride + h * d;
        let max = Number.NEGATIVE_INFINITY;
        for (let j = lo; j < hi; j++) {
          const k = (r * S + j) * stride + Q + kvHead;
          let s = 0;
          for (let c = 0; c < d; c++) s += (qkv[q + c] as number) * (qkv[k + c] as number);
          if (dis) {
            // Row delta(i - j) of the relative projections: its keys meet the query, its queries the key.
            const row = (dis.index[i - j + dis.reach] as number) * stride;
            if (dis.c2p) for (let c = 0; c < d; c++) s += (qkv[q + c] as number) * (dis.rel[row + Q + kvHead + c] as number);
            if (dis.p2c) for (let c = 0; c < d; c++) s += (qkv[k + c] as number) * (dis.rel[row + h * d + c] as number);
          }
          const rel = bias ? (bias[reach + Math.max(-reach, Math.min(reach, j - i))] as number) : 0;
          scores[j] = s * scale - slope * Math.abs(i - j) + rel;
          max = Math.max(max, scores[j] as number);
        }
        let sum = 0;
        for (let j = lo; j < hi; j++) {
          scores[j] = Math.exp((scores[j] as number) - max);
          sum += scores[j] as number;
        }
        const o = (r * S + i) * Q + h * d;
        for (let j = lo; j < hi; j++) {
          const v = (r * S + j) * stride + Q + KV + kvHead;
          const p = (scores[j] as number) / sum;
          for (let c = 0; c < d; c++) ctx[o + c] = (ctx[o + c] as number) + p * (qkv[v + c] as number);
        }
      }
    }
  }
  return ctx;
}

/**
 * In place: rotates each head's query and key of qkv [size * seqLen, 3H] by its position within
 * the row (rotate_half form: pairs (c, c + d/2)), using a ropeTable().
 */
export function applyRope(
  qkv: Float32Array,
  batch: Pick<TokenBatch, 'size' | 'seqLen'>,
  heads: number,
  d: number,
  table: Float32Array,
): void {
  rotateHeads(qkv, batch, { stride: 3 * heads * d, heads: 2 * heads, d }, table);
}

/**
 * In place: rotates the first `heads` heads of d values of each token row (row length `stride`)
 * by the token's position within its text, using a ropeTable().
 */
export function rotateHeads(
  x: Float32Array,
  batch: Pick<TokenBatch, 'size' | 'seqLen'>,
  { stride, heads, d }: { stride: number; heads: number; d: number },
  table: Float32Array,
): void {
  const half = d / 2;
  for (let t = 0; t < batch.size * batch.seqLen; t++) {
    const pos = t % batch.seqLen;
    for (let h = 0; h < heads; h++) {
      const o = t * stride + h * d;
      for (let i = 0; i < half; i++) {
        const cos = table[(pos * half + i) * 2] as number;
        const sin = table[(pos * half + i) * 2 + 1] as number;
        const a = x[o + i] as number;
        const b = x[o + i + half] as number;
        x[o + i] = a * cos - b * sin;
        x[o + i + half] = b * cos + a * sin;
      }
    }
  }
}

/**
 * In place: RMSNorm of every run of gamma.length values of x whose start is a multiple of `stride`
 * plus a multiple of gamma.length below `span` (default: x = whole rows of gamma.length).
 */
export function rmsNorm(x: Float32Array, gamma: Float32Array, eps: number, stride = gamma.length, span = gamma.length): void {
  const n = gamma.length;
  for (let row = 0; row < x.length; row += stride) {
    for (let o = row; o < row + span; o += n) {
      let ss = 0;
      for (let c = 0; c < n; c++) ss += (x[o + c] as number) ** 2;
      const inv = 1 / Math.sqrt(ss / n + eps);
      for (let c = 0; c < n; c++) x[o + c] = (x[o + c] as number) * inv * (gamma[c] as number);
    }
  }
}

/** A gated MLP's activation: the activation of rows' first I values times their second I values. */
export type Gate = 'gelu' | 'gelu_tanh' | 'silu';
const GATES: Record<Gate, (x: number) => number> = { gelu, gelu_tanh: geluTanh, silu };

/** In place: x += y. */
export function addInto(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) + (y[i] as number);
}

/** g[m, c] = act(f[m, c]) * f[m, I + c] over f [M, 2I]. */
export function gated(f: Float32Array, M: number, I: number, gate: Gate): Float32Array {
  const act = GATES[gate];
  const g = new Float32Array(M * I);
  for (let m = 0; m < M; m++) {
    for (let c = 0; c < I; c++) g[m * I + c] = act(f[m * 2 * I + c] as number) * (f[m * 2 * I + I + c] as number);
  }
  return g;
}

/**
 * Mean over the first `length` token rows of hidden [seqLen, H], or the first row for 'cls', or
 * the last real row for 'last'.
 */
export function pool(hidden: Float32Array, length: number, H: number, pooling: Pooling): Float32Array {
  const pooled = new Float32Array(H);
  if (pooling !== 'mean') {
    const row = pooling === 'cls' ? 0 : length - 1;
    pooled.set(hidden.subarray(row * H, (row + 1) * H));
    return pooled;
  }
  for (let t = 0; t < length; t++) for (let c = 0; c < H; c++) pooled[c] = (pooled[c] as number) + (hidden[t * H + c] as number);
  // A static embedder's text may keep no token (all unknown): its mean is zeros, as model2vec's.
  for (let c = 0; c < H; c++) pooled[c] = (pooled[c] as number) / Math.max(length, 1);
  return pooled;
}

/** sentence-transformers Dense modules made runnable on one pooled vector (dequantised once). */
/** Dense modules over `rows` vectors side by side (default one: a pooled vector). */
export type CpuHead = (x: Float32Array, rows?: number) => Float32Array;

/** torch.round: halves to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * `kernel`: the SIMD kernels that run the modules where there are some (cpuLinear); `quantizer`
 * after them (OutputQuantizer), on a copy: the pooled vector may be a view the caller keeps.
 */
export function cpuHead(
  modules: readonly DenseModule[] = [],
  kernel: WasmKernels | null = null,
  quantizer?: OutputQuantizer,
): CpuHead {
  const layers = modules.map((m) => ({ linear: cpuLinear(m.linear, kernel), activation: m.activation }));
  return (pooled, rows = 1) => {
    const x = layers.reduce((v, { linear, activation }) => {
      const y = linear(v, rows);
      if (activation === 'tanh') for (let i = 0; i < y.length; i++) y[i] = Math.tanh(y[i] as number);
      else if (activation === 'relu') for (let i = 0; i < y.length; i++) y[i] = Math.max(y[i] as number, 0);
      return y;
    }, pooled);
    if (!quantizer) return x;
    return x.map((v) => Math.min(127, Math.max(-128, roundHalfEven(127 * Math.tanh(v)))));
  };
}
