import type { MoeSpec } from '../weights/config.js';
import { rowStart } from '../weights/quantize.js';
import { type Linear, Q4_GROUP } from '../weights/weights.js';
import { type CpuLinear, cpuLinear, dense } from './cpu-ops.js';
import type { WasmKernels } from './wasm/kernels.js';

/**
 * Each token's experts and their weights from the router's logits [M, E]: the softmax over the
 * experts, its topK most probable kept at their probabilities (not renormalised:
 * nomic-embed-text-v2-moe's router), ties to the lower expert, as torch.topk gives them in practice
 * and shaders/moe_gate.wgsl ranks them. Returns [M, topK] experts and weights.
 */
export function routeTokens(logits: Float32Array, M: number, { experts: E, topK }: MoeSpec) {
  const experts = new Int32Array(M * topK);
  const weights = new Float32Array(M * topK);
  const p = new Float32Array(E);
  for (let m = 0; m < M; m++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let e = 0; e < E; e++) max = Math.max(max, logits[m * E + e] as number);
    let sum = 0;
    for (let e = 0; e < E; e++) {
      p[e] = Math.exp((logits[m * E + e] as number) - max);
      sum += p[e] as number;
    }
    for (let k = 0; k < topK; k++) {
      let best = -1;
      for (let e = 0; e < E; e++) {
        if ((p[e] as number) >= 0 && (best < 0 || (p[e] as number) > (p[best] as number))) best = e;
      }
      experts[m * topK + k] = best;
      weights[m * topK + k] = (p[best] as number) / sum;
      p[best] = -1;
    }
  }
  return { experts, weights };
}

/** One expert's two projections, run only over the tokens routed to it. */
interface Expert {
  up: CpuLinear;
  down: CpuLinear;
}

/**
 * A mixture of experts' feed-forward on the CPU, sparse: each expert runs over the tokens routed to
 * it only (the GPU runs all of them, see gpu-bert.ts). The layer's stacked projections (BertLayer.router)
 * are cut into per-expert ones once: rows of ffnIn, and column blocks of ffnOut (kept in their storage
 * format: a q8 row's scale covers every column, and q4's groups of 32 stay whole where I is a
 * multiple of 32; otherwise that block is decoded to f32).
 */
export function cpuExperts(
  layer: { router: Linear; ffnIn: Linear; ffnOut: Linear },
  spec: MoeSpec,
  kernel: WasmKernels | null,
): (x: Float32Array, M: number) => Float32Array {
  const { experts: E } = spec;
  const H = layer.ffnOut.rows;
  const I = layer.ffnIn.rows / E;
  const router = cpuLinear(layer.router, kernel);
  const experts: Expert[] = Array.from({ length: E }, (_, e) => ({
    up: cpuLinear(rowBlock(layer.ffnIn, e * I, I), kernel),
    down: cpuLinear(columnBlock(layer.ffnOut, e * I, I), kernel),
  }));
  const bias = layer.ffnOut.bias;
  return (x, M) => {
    const { experts: chosen, weights } = routeTokens(router(x, M), M, spec);
    const y = new Float32Array(M * H);
    for (let m = 0; m < M; m++) y.set(bias, m * H);
    const { topK } = spec;
    for (let e = 0; e < E; e++) {
      // The (token, rank) slots routed to expert e; token = slot / topK.
      const slots: number[] = [];
      for (let slot = 0; slot < chosen.length; slot++) if (chosen[slot] === e) slots.push(slot);
      if (slots.length === 0) continue;
      const rows = new Float32Array(slots.length * H);
      slots.forEach((slot, j) => {
        const t = Math.floor(slot / topK);
        rows.set(x.subarray(t * H, (t + 1) * H), j * H);
      });
      const expert = experts[e] as Expert;
      const out = expert.down(expert.up(rows, slots.length, 'gelu'), slots.length);
      slots.forEach((slot, j) => {
        const w = weights[slot] as number;
        const at = Math.floor(slot / topK) * H;
        for (let c = 0; c < H; c++) y[at + c] = (y[at + c] as number) + w * (out[j * H + c] as number);
      });
    }
    return y;
  };
}

/** Rows [from, from + n) of a Linear, sharing its storage; no bias (the experts have none before their sum). */
function rowBlock(l: Linear, from: number, n: number): Linear {
  const a = rowStart(l.quant, l.cols, from);
  const b = rowStart(l.quant, l.cols, from + n);
  return {
    quant: l.quant,
    rows: n,
    cols: l.cols,
    data: l.data.subarray(a.byte, b.byte),
    ...(l.scales ? { scales: l.scales.subarray(a.scale, b.scale) } : {}),
    bias: new Float32Array(n),
  };
}

/** Columns [from, from + n) of every row of a Linear, copied in its format where that is exact. */
function columnBlock(l: Linear, from: number, n: number): Linear {
  const bias = new Float32Array(l.rows);
  const bytes = { f32: 4, f16: 2, q8: 1 } as const;
  if (l.quant !== 'q4') {
    const size = bytes[l.quant];
    const data = new Uint8Array(l.rows * n * size);
    for (let r = 0; r < l.rows; r++) {
      const start = (r * l.cols + from) * size;
      data.set(l.data.subarray(start, start + n * size), r * n * size);
    }
    return { quant: l.quant, rows: l.rows, cols: n, data, ...(l.scales ? { scales: l.scales } : {}), bias };
  }
  if (from % Q4_GROUP === 0 && n % Q4_GROUP === 0) {
    const groups = Math.ceil(l.cols / Q4_GROUP);
    const data = new Uint8Array((l.rows * n) / 2);
    const scales = new Float32Array((l.rows * n) / Q4_GROUP);
    for (let r = 0; r < l.rows; r++) {
      const start = rowStart('q4', l.cols, r).byte + from / 2;
      data.set(l.data.subarray(start, start + n / 2), (r * n) / 2);
      scales.set(
        (l.scales as Float32Array).subarray(r * groups + from / Q4_GROUP, r * groups + (from + n) / Q4_GROUP),
        (r * n) / Q4_GROUP,
      );
    }
    return { quant: 'q4', rows: l.rows, cols: n, data, scales, bias };
  }
  const all = dense(l).w;
  const w = new Float32Array(l.rows * n);
  for (let r = 0; r < l.rows; r++) w.set(all.subarray(r * l.cols + from, r * l.cols + from + n), r * n);
  return { quant: 'f32', rows: l.rows, cols: n, data: new Uint8Array(w.buffer), bias };
}
