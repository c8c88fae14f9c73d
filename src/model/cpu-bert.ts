import type { BertWeights } from '../weights/weights.js';
import { applyRope, type CpuStepper, cpuLayers, gated, layerNorm } from './cpu-ops.js';
import { rotaryRopeTable } from './rope.js';
import type { WasmKernels } from './wasm/kernels.js';

/**
 * The BERT / XLM-R / GTE / NomicBERT forward, a layer at a time: post-norm layers over word +
 * position + token-type embeddings, or for the rotary ones (config.rotary) over the word rows
 * (their token-type row added in) with RoPE on queries and keys and a gated feed-forward.
 */
export function bertCpuStepper(weights: BertWeights, kernel: WasmKernels | null): CpuStepper {
  const { hiddenSize: H, intermediateSize: I, numHeads, headDim, layerNormEps: eps, rotary, maxTokens } = weights.config;
  const { layers, attend } = cpuLayers(weights.layers, kernel);
  const rope = rotary ? rotaryRopeTable(rotary, headDim, maxTokens) : null;
  return {
    embed(batch) {
      const M = batch.size * batch.seqLen;
      const x = new Float32Array(M * H);
      weights.word.gather(batch.ids, x);
      const { position, tokenType } = weights;
      if (position && tokenType) {
        for (let m = 0; m < M; m++) {
          const p = (batch.positions[m] as number) * H;
          for (let c = 0; c < H; c++)
            x[m * H + c] = (x[m * H + c] as number) + (position[p + c] as number) + (tokenType[c] as number);
        }
      }
      layerNorm(x, null, weights.embNorm, H, eps);
      return x;
    },
    layer(i, x, batch) {
      const layer = layers[i] as (typeof layers)[number];
      const M = batch.size * batch.seqLen;
      const qkv = layer.qkv(x, M);
      if (rope) applyRope(qkv, batch, numHeads, headDim, rope);
      const ctx = attend(qkv, batch, numHeads, headDim);
      const a = layer.attnOut(ctx, M);
      layerNorm(a, x, layer.attnNorm, H, eps);
      const f = rotary ? gated(layer.ffnIn(a, M), M, I, rotary.gate) : layer.ffnIn(a, M, 'gelu');
      const y = layer.ffnOut(f, M);
      layerNorm(y, a, layer.ffnNorm, H, eps);
      return y;
    },
  };
}
