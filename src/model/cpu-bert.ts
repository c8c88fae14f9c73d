import type { BertWeights } from '../weights/weights.js';
import { alibiSlopes } from './alibi.js';
import { applyRope, type CpuStepper, cpuLayers, gated, layerNorm } from './cpu-ops.js';
import { modelRelativeBias } from './relative-bias.js';
import { ropeSpecTable } from './rope.js';
import type { WasmKernels } from './wasm/kernels.js';

/**
 * The BERT / XLM-R / DistilBERT / MPNet / GTE / NomicBERT / JinaBERT forward, a layer at a time:
 * post-norm layers over word + position + token-type embeddings (MPNet: a relative bias on the
 * scores too), or for the gated ones (config.gatedBert) over the word
 * rows (their token-type row added in) with RoPE on queries and keys or ALiBi on the scores, and
 * a gated feed-forward.
 */
export function bertCpuStepper(weights: BertWeights, kernel: WasmKernels | null): CpuStepper {
  const { hiddenSize: H, intermediateSize: I, numHeads, headDim, layerNormEps: eps, gatedBert, maxTokens } = weights.config;
  const relative = modelRelativeBias(weights);
  const { layers, attendGrouped } = cpuLayers(weights.layers, kernel);
  const positions = gatedBert?.positions;
  const rope = positions?.type === 'rope' ? ropeSpecTable(positions, headDim, maxTokens) : null;
  const shape = {
    heads: numHeads,
    kvHeads: numHeads,
    d: headDim,
    windowHalf: Number.POSITIVE_INFINITY,
    causal: false,
    scale: 1 / Math.sqrt(headDim),
    ...(positions?.type === 'alibi' ? { alibi: alibiSlopes(numHeads) } : {}),
    ...(relative ? { relative } : {}),
  };
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
      const ctx = attendGrouped(qkv, batch, shape);
      const a = layer.attnOut(ctx, M);
      layerNorm(a, x, layer.attnNorm, H, eps);
      const f = gatedBert ? gated(layer.ffnIn(a, M), M, I, gatedBert.gate) : layer.ffnIn(a, M, 'gelu');
      const y = layer.ffnOut(f, M);
      layerNorm(y, a, layer.ffnNorm, H, eps);
      return y;
    },
  };
}
