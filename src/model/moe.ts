import type { MoeSpec } from '../weights/config.js';
import { expertBlocks } from '../weights/linear-blocks.js';
import type { Linear } from '../weights/weights.js';
import { type CpuLinear, cpuLinear } from './cpu-ops.js';
import type { WasmKernels } from './wasm/kernels.js';

/**
 * Each token's experts and their weights from the router's logits [M, E]: the softmax over the
 * experts, its topK most probable kept at their probabilities (not renormalised:
 * nomic-embed-text-v2-moe's router), ties to the lower expert, as torch.topk gives them in practice
 * and shaders/moe.wgsl's route ranks them. Returns [M, topK] experts and weights.
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
 * it only, through per-expert projections cut once from the layer's stacked ones (expertBlocks).
 */
export function cpuExperts(
  layer: { experts: { router: Linear; bias: Float32Array }; ffnIn: Linear; ffnOut: Linear },
  spec: MoeSpec,
  kernel: WasmKernels | null,
): (x: Float32Array, M: number) => Float32Array {
  const { experts: E } = spec;
  const H = layer.ffnOut.rows / E;
  const router = cpuLinear(layer.experts.router, kernel);
  const experts: Expert[] = expertBlocks(layer.ffnIn, layer.ffnOut, E).map((b) => ({
    up: cpuLinear(b.up, kernel),
    down: cpuLinear(b.down, kernel),
  }));
  const { bias } = layer.experts;
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
