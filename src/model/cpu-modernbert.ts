import { exitUsesFinalNorm } from '../weights/config.js';
import type { ModernBertWeights } from '../weights/weights.js';
import { addInto, applyRope, type CpuForward, cpuLayers, gated, layerNorm } from './cpu-ops.js';
import { ropeTables } from './rope.js';
import type { WasmKernels } from './wasm/kernels.js';

/**
 * The ModernBERT forward (pre-norm; conventions in config.ts's parseModernBertConfig): x is the
 * residual stream, each sub-layer reads a normalised copy and adds its output back.
 */
export function modernBertCpuForward(weights: ModernBertWeights, kernel: WasmKernels | null): CpuForward {
  const { config } = weights;
  const { hiddenSize: H, intermediateSize: I, numHeads, headDim, layerNormEps: eps } = config;
  const spec = config.modern as NonNullable<typeof config.modern>;
  const { layers, attend } = cpuLayers(weights.layers, kernel);
  const tables = ropeTables(spec, headDim, config.maxTokens);
  const normed = (x: Float32Array, p: Parameters<typeof layerNorm>[2]) => {
    const n = x.slice();
    layerNorm(n, null, p, H, eps);
    return n;
  };
  const exit = (x: Float32Array, count: number) => (exitUsesFinalNorm(config, count) ? normed(x, weights.finalNorm) : x);

  return (batch, count, afterLayer) => {
    const M = batch.size * batch.seqLen;
    const x = new Float32Array(M * H);
    weights.word.gather(batch.ids, x);
    layerNorm(x, null, weights.embNorm, H, eps);
    for (const [i, layer] of layers.slice(0, count).entries()) {
      const global = spec.globalLayers[i] as boolean;
      const qkv = layer.qkv(layer.attnNorm ? normed(x, layer.attnNorm) : x, M);
      applyRope(qkv, batch, numHeads, headDim, global ? tables.global : tables.local);
      const ctx = attend(qkv, batch, numHeads, headDim, global ? Number.POSITIVE_INFINITY : spec.windowHalf);
      addInto(x, layer.attnOut(ctx, M));
      const f = layer.ffnIn(normed(x, layer.ffnNorm), M);
      addInto(x, layer.ffnOut(gated(f, M, I, spec.gate), M));
      afterLayer?.(i + 1, exit(x, i + 1));
    }
    return exit(x, count);
  };
}
