import type { MoeSpec } from '../weights/config.js';

/**
 * A mixture of experts' routing on the CPU (the reference of shaders/moe_gate.wgsl): each token's
 * softmax over the experts' router logits, its topK most probable experts kept with their
 * probabilities (not renormalised: nomic-embed-text-v2-moe's router), the others at 0. The
 * experts' hidden values h [M, E I] (gelu(x W1^T) of every expert, side by side) are then scaled
 * in place by their expert's weight, so the stacked second projection sums the chosen experts.
 * Ties go to the lower expert, as torch.topk's do in practice.
 */
export function gateExperts(logits: Float32Array, h: Float32Array, M: number, I: number, { experts: E, topK }: MoeSpec): void {
  const p = new Float32Array(E);
  const keep = new Uint8Array(E);
  for (let m = 0; m < M; m++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let e = 0; e < E; e++) max = Math.max(max, logits[m * E + e] as number);
    let sum = 0;
    for (let e = 0; e < E; e++) {
      p[e] = Math.exp((logits[m * E + e] as number) - max);
      sum += p[e] as number;
    }
    keep.fill(0);
    for (let k = 0; k < topK; k++) {
      let best = -1;
      for (let e = 0; e < E; e++) if (!keep[e] && (best < 0 || (p[e] as number) > (p[best] as number))) best = e;
      keep[best] = 1;
    }
    for (let e = 0; e < E; e++) {
      const w = keep[e] ? (p[e] as number) / sum : 0;
      const row = h.subarray(m * E * I + e * I, m * E * I + (e + 1) * I);
      for (let i = 0; i < I; i++) row[i] = (row[i] as number) * w;
    }
  }
}
