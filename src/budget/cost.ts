import { DEFAULT_BATCH_TOKENS, SUBMISSION_TOKENS } from '../model/batch.js';
import { scaleCount, matrixBytes as storedBytes } from '../pack/layout.js';
import type { EncoderConfig } from '../weights/config.js';
import { embeddingWidth, groupStart, isMoeLayer, projectionShapes } from '../weights/shapes.js';
import type { Quant } from '../weights/weights.js';
import type { DeviceProbe } from './probe.js';

/** How a model's weights are stored: PackManifest['quantization']. */
export interface WeightQuant {
  linear: Quant;
  embeddings: Quant;
}

/** c.constant + c.perToken × tokens + c.perAttention × batch × seqLen², in milliseconds. */
export interface LatencyTerms {
  constant: number;
  perToken: number;
  perAttention: number;
}

export interface CostModel {
  /** Predicted wall-clock ms of one embed call of `batch` texts of `seqLen` tokens through `layers` layers. */
  latencyMs(layers: number, batch: number, seqLen: number): number;
  /** The fitted terms, all >= 0: latency = fixed + layers × perLayer. */
  readonly fixed: LatencyTerms;
  readonly perLayer: LatencyTerms;
}

/**
 * Fits latency(L, B, S) = fixed(B, S) + L × perLayer(B, S), where both parts are
 * constant + perToken × B·S + perAttention × B·S² (the matmuls scale with tokens, attention with
 * each text's length squared; the constant is dispatch, submission and readback overhead).
 *
 * The probe's three shapes at depths 1 and 2 give six points for six coefficients, so a clean probe
 * is reproduced exactly. Timings are noisy, and an unconstrained solve can then return a negative
 * term that predicts negative or depth-decreasing latency for other shapes; the fit is therefore a
 * non-negative least squares in relative error, so the short single text counts as much as the
 * batch that takes many times longer. A probe at depth 1 only cannot separate fixed from per-layer
 * cost: it all goes to the per-layer part, which overestimates deeper plans (the safe side).
 */
export function fitCostModel(probe: DeviceProbe): CostModel {
  const points = probe.measured;
  const depths = new Set(points.map((p) => p.layers));
  const twoDepths = depths.size > 1;
  // A static embedder (no layers, probed at depth 0) has only the fixed part.
  const noLayers = !twoDepths && depths.has(0);
  const basis = (p: { batch: number; seqLen: number }) => [1, p.batch * p.seqLen, p.batch * p.seqLen * p.seqLen];
  const rows = points.map((p) => {
    const b = basis(p);
    if (noLayers) return b;
    return twoDepths ? [...b, ...b.map((v) => v * p.layers)] : b.map((v) => v * p.layers);
  });
  // A timer may report 0 ms for a trivially fast call; the floor keeps its weight finite.
  const weights = points.map((p) => 1 / Math.max(p.ms, 1e-3));
  const c = nnls(
    rows.map((r, i) => r.map((v) => v * (weights[i] as number))),
    points.map((p, i) => p.ms * (weights[i] as number)),
  );
  const terms = (o: number): LatencyTerms => ({
    constant: c[o] as number,
    perToken: c[o + 1] as number,
    perAttention: c[o + 2] as number,
  });
  const none = { constant: 0, perToken: 0, perAttention: 0 };
  const fixed = twoDepths || noLayers ? terms(0) : none;
  const perLayer = noLayers ? none : terms(twoDepths ? 3 : 0);
  const evaluate = (t: LatencyTerms, batch: number, seqLen: number) =>
    t.constant + t.perToken * batch * seqLen + t.perAttention * batch * seqLen * seqLen;
  // A call is never faster than a measured one it contains (no more layers, texts or tokens). A
  // probe cut short by its time budget leaves more coefficients than points, and the fit may
  // then put the cost on terms that vanish for small calls (a 1 × 16 query predicted at 1e-7 ms
  // on SwiftShader, which made 'auto' send queries there).
  const floor = (layers: number, batch: number, seqLen: number) =>
    Math.max(0, ...points.filter((p) => p.layers <= layers && p.batch <= batch && p.seqLen <= seqLen).map((p) => p.ms));
  return {
    fixed,
    perLayer,
    latencyMs: (layers, batch, seqLen) =>
      Math.max(evaluate(fixed, batch, seqLen) + layers * evaluate(perLayer, batch, seqLen), floor(layers, batch, seqLen)),
  };
}

/**
 * Non-negative least squares by trying every subset of free coefficients: with at most six
 * unknowns the 63 small solves are exact and cheaper to trust than an iterative active-set method.
 * Columns are scaled to unit maximum first, because tokens and tokens × length differ by 10^5.
 */
function nnls(a: number[][], y: number[]): number[] {
  const k = (a[0] as number[]).length;
  const scale = Array.from({ length: k }, (_, j) => Math.max(...a.map((r) => Math.abs(r[j] as number))) || 1);
  const scaled = a.map((r) => r.map((v, j) => v / (scale[j] as number)));
  let best = new Array<number>(k).fill(0);
  let bestErr = residual(scaled, y, best);
  for (let mask = 1; mask < 1 << k; mask++) {
    const cols = [...Array(k).keys()].filter((j) => mask & (1 << j));
    const sol = leastSquares(
      scaled.map((r) => cols.map((j) => r[j] as number)),
      y,
    );
    if (!sol || sol.some((v) => v < 0)) continue;
    const coef = new Array<number>(k).fill(0);
    cols.forEach((j, i) => {
      coef[j] = sol[i] as number;
    });
    const err = residual(scaled, y, coef);
    if (err < bestErr) {
      best = coef;
      bestErr = err;
    }
  }
  return best.map((v, j) => v / (scale[j] as number));
}

function residual(a: number[][], y: number[], x: number[]): number {
  return a.reduce((s, r, i) => s + (r.reduce((d, v, j) => d + v * (x[j] as number), 0) - (y[i] as number)) ** 2, 0);
}

/** Solves the normal equations by Gaussian elimination; null when the columns are (nearly) dependent. */
function leastSquares(a: number[][], y: number[]): number[] | null {
  const k = (a[0] as number[]).length;
  const m = Array.from({ length: k }, (_, i) => [
    ...Array.from({ length: k }, (_, j) => a.reduce((s, r) => s + (r[i] as number) * (r[j] as number), 0)),
    a.reduce((s, r, n) => s + (r[i] as number) * (y[n] as number), 0),
  ]);
  for (let col = 0; col < k; col++) {
    let pivot = col;
    for (let r = col + 1; r < k; r++) if (Math.abs(m[r]?.[col] as number) > Math.abs(m[pivot]?.[col] as number)) pivot = r;
    if (Math.abs(m[pivot]?.[col] as number) < 1e-12) return null;
    [m[col], m[pivot]] = [m[pivot] as number[], m[col] as number[]];
    const p = m[col] as number[];
    for (let r = 0; r < k; r++) {
      if (r === col) continue;
      const row = m[r] as number[];
      const f = (row[col] as number) / (p[col] as number);
      for (let c = col; c <= k; c++) row[c] = (row[c] as number) - f * (p[c] as number);
    }
  }
  return m.map((row, i) => (row[k] as number) / (row[i] as number));
}

const MIB = 2 ** 20;

/** Bytes of a stored [rows, cols] matrix in `quant`, its q8 / q4 scales included. */
export function matrixBytes(rows: number, cols: number, quant: Quant): number {
  return storedBytes(quant, rows, cols) + scaleCount(quant, rows, cols) * 4;
}

/**
 * Memory in MiB (2^20 bytes) for running the first `layers` layers on `batch` texts of `seqLen`
 * tokens and keeping `indexVectors` vectors of `dims` f32 numbers. With H = hidden, I = intermediate:
 *
 *   embeddings  vocab × H in quant.embeddings (vocab × width and a [H, width] widening for
 *               factorized ones: ALBERT, ELECTRA-small), plus f32 position [maxPositions, H], token-type
 *               [typeVocab, H] and LayerNorm (2H) tables; for ModernBERT and the decoders instead
 *               the final norm (2H) and a RoPE table [maxTokens, headDim] per distinct base; for
 *               the gated BERTs the LayerNorm and, with RoPE, one RoPE table; for DeBERTa the
 *               relative rows [2 span, H] and a layer's projections of them [2 span, 3H]
 *   per layer   (per group where layers share weights) the projections (projectionShapes: BERT's [3H, H], [H, H], [I, H], [H, I]) in
 *               quant.linear, their f32 biases and two f32 LayerNorms (4H), with task
 *               adapters (config.lora) their f32 A and B: tasks × rank × (rows + cols) each, and
 *               with experts (config.moe) E times the feed-forward and an f32 router [E, H]
 *   adapters    the embeddings' (config.lora): tasks × (vocab × rank + rank × H + H) in f32
 *   activations 4 bytes × (M × (3H + QKV + I) + 2 × T × H): the forward's reused buffers (hidden H,
 *               q/k/v QKV = 3H for BERT, attention context H, attention output H, FFN I, and
 *               with experts E (H + I): every expert's block of rows) for the M tokens of the
 *               largest length bucket (bucketize keeps M <= 4096 unless one text is longer), and
 *               the uploaded word rows, staged on the CPU and copied to the GPU, for the
 *               T = min(batch × seqLen, 32768) tokens of one submission
 *   index       indexVectors × dims × 4
 *   SPLADE      (config.splade) the head's dense layer, norm and decoder bias in f32 ((H + 3) H +
 *               vocab), the decoder's own copy of the word table in quant.embeddings (uploaded to
 *               the GPU, or placed in the CPU kernels' memory), and its buffers: the dense layer's
 *               output for the bucket's tokens, one chunk of logits (at most 32 MiB) and a
 *               vocabulary-wide f32 row per text (at most 64 MiB a submission)
 *
 * Attention streams keys through workgroup memory (online softmax), so there is no
 * batch × heads × seqLen² score matrix to count. Weights are counted once; the planner compares
 * plans, and every plan shares the same embedding tables.
 */
export function memoryMB(
  layers: number,
  dims: number,
  batch: number,
  seqLen: number,
  config: EncoderConfig,
  quant: WeightQuant,
  indexVectors = 0,
): number {
  const { hiddenSize: H, intermediateSize: I, modern, decoder, gatedBert } = config;
  // RoPE tables (one per distinct base) and the final norm of the pre-norm models; the embedding
  // norm and, with RoPE, the one table of the gated BERTs; BERT's position and token-type tables and norm.
  const thetas = modern ? new Set([modern.globalRopeTheta, modern.localRopeTheta]).size : new Set(decoder?.ropeTheta).size;
  const rope = (count: number) => count * config.maxTokens * config.headDim * 4;
  const span = config.disentangled?.span ?? 0;
  const tables =
    modern || decoder
      ? rope(thetas) + 4 * H * 4
      : gatedBert
        ? (gatedBert.positions.type === 'rope' ? rope(1) : 0) + 2 * H * 4
        : span > 0
          ? // DeBERTa: the relative rows and a layer's q/k/v projections of them, and the embedding norm.
            (2 * span * 4 + 2) * H * 4
          : (config.maxPositions + config.typeVocabSize + 2) * embeddingWidth(config) * 4;
  const lora = config.lora ? { tasks: config.lora.tasks.length, rank: config.lora.rank } : { tasks: 0, rank: 0 };
  // A factorized model's narrow table, and the projection that widens it, as a layer's projections are stored.
  const factorized = config.factorized && matrixBytes(H, config.factorized.width, quant.linear) + H * 4;
  const embeddings =
    matrixBytes(config.vocabSize, embeddingWidth(config), quant.embeddings) +
    (factorized || 0) +
    tables +
    lora.tasks * (config.vocabSize * lora.rank + lora.rank * H + H) * 4;
  // f32 biases of the projections, two norms' worth of f32 factors (4H), the task adapters and a
  // mixture of experts' f32 router; layers differ where some have experts.
  const layerBytes = (l: number) => {
    const shapes = Object.values(projectionShapes(config, l));
    return (
      shapes.reduce((s, [rows, cols]) => s + matrixBytes(rows, cols, quant.linear), 0) +
      (shapes.reduce((s, [rows]) => s + rows, 0) + 4 * H) * 4 +
      shapes.reduce((s, [rows, cols]) => s + lora.tasks * lora.rank * (rows + cols) * 4, 0) +
      (isMoeLayer(config, l) ? (config.moe?.experts ?? 0) * H * 4 : 0)
    );
  };
  let weightBytes = 0;
  // Layers sharing weights (config.layerGroups) hold one copy.
  for (let l = 0; l < layers; l++) if (groupStart(config, l) === l) weightBytes += layerBytes(l);
  // A mixture of experts' scratch: every expert's block of up to all the tokens, in and hidden.
  const withExperts = Array.from({ length: layers }, (_, l) => isMoeLayer(config, l)).some(Boolean);
  const experts = config.moe && withExperts ? config.moe.experts * (H + I) : 0;
  const rowsPerBucket = Math.max(1, Math.floor(DEFAULT_BATCH_TOKENS / seqLen));
  const bucketTokens = Math.min(batch, rowsPerBucket) * seqLen;
  const submissionTokens = Math.min(batch * seqLen, Math.max(SUBMISSION_TOKENS, seqLen));
  const [qkvRows] = projectionShapes(config).qkv;
  const activations = 4 * (bucketTokens * (3 * H + qkvRows + I + experts) + 2 * submissionTokens * H);
  const V = config.vocabSize;
  const splade = config.splade
    ? ((H + 3) * H + V) * 4 +
      matrixBytes(V, H, quant.embeddings) +
      bucketTokens * H * 4 +
      Math.min(bucketTokens * V * 4, 32 * MIB) +
      Math.min(batch * V * 4, 64 * MIB)
    : 0;
  return (embeddings + weightBytes + activations + splade + indexVectors * dims * 4) / MIB;
}
