import { exitUsesFinalNorm } from '../weights/config.js';
import type { DecoderWeights } from '../weights/weights.js';
import { addInto, type CpuForward, type CpuLinear, cpuLayers, gated, rmsNorm, rotateHeads } from './cpu-ops.js';
import { modelRelativeBias } from './relative-bias.js';
import { ropeTable } from './rope.js';
import type { WasmKernels } from './wasm/kernels.js';

/**
 * The Qwen3 / Qwen2 / Gemma 3 / T5 forward (pre-norm, RMSNorm; conventions in weights/decoder-config.ts):
 * x is the residual stream; each sub-layer reads an RMS-normed copy and adds its output back, Gemma's
 * through one more norm (sandwichNorms). T5 places tokens by its relative bias instead of RoPE.
 */
export function decoderCpuForward(weights: DecoderWeights, kernel: WasmKernels | null): CpuForward {
  const { config } = weights;
  const { hiddenSize: H, intermediateSize: I, numHeads, headDim: d, layerNormEps: eps } = config;
  const spec = config.decoder as NonNullable<typeof config.decoder>;
  const { layers, attendGrouped } = cpuLayers(weights.layers, kernel);
  const Q = numHeads * d;
  const stride = Q + 2 * spec.numKvHeads * d;
  // RoPE tables per base, grown to the longest batch seen (max_position_embeddings runs to 32k).
  const tables = new Map<number, Float32Array>();
  const table = (theta: number, positions: number): Float32Array => {
    let t = tables.get(theta);
    if (!t || t.length < positions * d) {
      t = ropeTable(theta, d, positions);
      tables.set(theta, t);
    }
    return t;
  };
  const normed = (x: Float32Array, gamma: Float32Array) => {
    const n = x.slice();
    rmsNorm(n, gamma, eps);
    return n;
  };
  const exit = (x: Float32Array, count: number) => (exitUsesFinalNorm(config, count) ? normed(x, weights.finalNorm) : x);
  const relative = modelRelativeBias(weights);
  const { activation } = spec;
  /** The feed-forward's hidden rows [M, I]: gated (2I input rows) or ReLU / GELU over I. */
  const hidden = (ffnIn: CpuLinear, x: Float32Array, M: number): Float32Array => {
    if (spec.gated && activation !== 'relu') return gated(ffnIn(x, M), M, I, activation);
    if (activation === 'gelu') return ffnIn(x, M, 'gelu');
    const h = ffnIn(x, M);
    for (let k = 0; k < h.length; k++) h[k] = Math.max(0, h[k] as number);
    return h;
  };

  return (batch, count, afterLayer) => {
    const M = batch.size * batch.seqLen;
    const x = new Float32Array(M * H);
    weights.word.gather(batch.ids, x);
    if (spec.embedScale !== 1) for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) * spec.embedScale;
    for (const [i, layer] of layers.slice(0, count).entries()) {
      const qkv = layer.qkv(normed(x, layer.inputNorm), M);
      if (layer.qNorm) rmsNorm(qkv, layer.qNorm, eps, stride, Q);
      if (layer.kNorm) rmsNorm(qkv.subarray(Q), layer.kNorm, eps, stride, spec.numKvHeads * d);
      if (spec.ropeTheta) {
        const rope = table(spec.ropeTheta[i] as number, batch.seqLen);
        rotateHeads(qkv, batch, { stride, heads: numHeads + spec.numKvHeads, d }, rope);
      }
      const ctx = attendGrouped(qkv, batch, {
        heads: numHeads,
        kvHeads: spec.numKvHeads,
        d,
        windowHalf: spec.windowHalf[i] as number,
        causal: spec.causal,
        scale: spec.attnScale,
        ...(relative ? { relative } : {}),
      });
      const a = layer.attnOut(ctx, M);
      if (layer.postAttnNorm) rmsNorm(a, layer.postAttnNorm, eps);
      addInto(x, a);
      const y = layer.ffnOut(hidden(layer.ffnIn, normed(x, layer.ffnNorm), M), M);
      if (layer.postFfnNorm) rmsNorm(y, layer.postFfnNorm, eps);
      addInto(x, y);
      afterLayer?.(i + 1, exit(x, i + 1));
    }
    return exit(x, count);
  };
}
