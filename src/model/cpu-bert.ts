import { embeddingWidth, type Projection } from '../weights/shapes.js';
import type { BertWeights } from '../weights/weights.js';
import { alibiSlopes } from './alibi.js';
import type { AttentionShape } from './attention-shape.js';
import {
  activate,
  applyRope,
  type CpuActivation,
  type CpuStepper,
  cpuLayers,
  cpuLinear,
  gated,
  layerNorm,
  normColumns,
} from './cpu-ops.js';
import { disentangledScale, relativeEmbeddings, relativeRows, rowsForLength } from './disentangled.js';
import { addLowRank } from './lora.js';
import { cpuExperts } from './moe.js';
import { modelRelativeBias } from './relative-bias.js';
import { ropeSpecTable } from './rope.js';
import type { WasmKernels } from './wasm/kernels.js';
import { gatherWords } from './word-rows.js';

/**
 * The BERT / XLM-R / DistilBERT / MPNet / GTE / NomicBERT / JinaBERT / DeBERTa forward, a layer at a time:
 * post-norm layers over word + position + token-type embeddings (MPNet: a relative bias on the
 * scores too; DeBERTa: no position or type rows, disentangled attention), or for the gated ones (config.gatedBert) over the word
 * rows (their token-type row added in) with RoPE on queries and keys or ALiBi on the scores, and
 * a gated feed-forward; NomicBERT's expert layers run each expert over its tokens (model/moe.ts).
 */
export function bertCpuStepper(weights: BertWeights, kernel: WasmKernels | null): CpuStepper {
  const {
    hiddenSize: H,
    intermediateSize: I,
    numHeads,
    headDim,
    layerNormEps: eps,
    gatedBert,
    maxTokens,
    lora,
    moe,
    disentangled,
    tanhGelu,
  } = weights.config;
  const W = embeddingWidth(weights.config);
  const embedProject = weights.embedProject ? cpuLinear(weights.embedProject, kernel) : null;
  const ffnActivation = tanhGelu ? 'gelu_tanh' : 'gelu';
  const rank = lora?.rank ?? 0;
  const relative = modelRelativeBias(weights);
  const { layers, attendGrouped } = cpuLayers(weights.layers, kernel, (l) => l.experts !== undefined);
  const experts = weights.layers.map((l) => (l.experts && moe ? cpuExperts({ ...l, experts: l.experts }, moe, kernel) : null));
  const positions = gatedBert?.positions;
  const rope = positions?.type === 'rope' ? ropeSpecTable(positions, headDim, maxTokens) : null;
  const shape = {
    heads: numHeads,
    kvHeads: numHeads,
    d: headDim,
    windowHalf: Number.POSITIVE_INFINITY,
    causal: false,
    scale: disentangled ? disentangledScale(disentangled, headDim) : 1 / Math.sqrt(headDim),
    ...(positions?.type === 'alibi' ? { alibi: alibiSlopes(numHeads) } : {}),
    ...(relative ? { relative } : {}),
  };
  const dis = disentangled && {
    spec: disentangled,
    table: relativeEmbeddings(weights, weights.config),
    rows: relativeRows(disentangled, maxTokens - 1),
  };
  /** DeBERTa's attention shape for a layer: its q/k/v projections of the relative rows a batch reaches, and each distance's row among them. */
  const disentangledShape = (
    d: NonNullable<typeof dis>,
    project: (x: Float32Array, rows: number) => Float32Array,
    seqLen: number,
  ): AttentionShape => {
    const { first, count } = rowsForLength(d.rows, maxTokens - 1, seqLen);
    const reach = seqLen - 1;
    const index = new Int32Array(2 * reach + 1);
    for (let k = -reach; k <= reach; k++) index[k + reach] = (d.rows[k + maxTokens - 1] as number) - first;
    const rel = project(d.table.subarray(first * H, (first + count) * H), count);
    return { ...shape, disentangled: { rel, index, reach, c2p: d.spec.c2p, p2c: d.spec.p2c } };
  };
  return {
    embed(batch, task) {
      const M = batch.size * batch.seqLen;
      const x = new Float32Array(M * W);
      gatherWords(weights, batch.ids, x, task, batch.types);
      const { position, tokenType } = weights;
      if (position && tokenType) {
        for (let m = 0; m < M; m++) {
          const p = (batch.positions[m] as number) * W;
          for (let c = 0; c < W; c++)
            x[m * W + c] = (x[m * W + c] as number) + (position[p + c] as number) + (tokenType[c] as number);
        }
      }
      layerNorm(x, null, weights.embNorm, W, eps);
      return embedProject ? embedProject(x, M) : x;
    },
    layer(i, x, batch, task) {
      const layer = layers[i] as (typeof layers)[number];
      const M = batch.size * batch.seqLen;
      // With a task adapter its low-rank part joins the projection before the activation.
      const project = (k: Projection, input: Float32Array, activation: CpuActivation = 'none') => {
        const pair = task === undefined ? undefined : layer.adapters?.[k];
        if (!pair || task === undefined) return layer[k](input, M, activation);
        const y = layer[k](input, M);
        addLowRank(input, y, M, pair, task, rank);
        return activate(y, activation);
      };
      const qkv = project('qkv', x);
      if (layer.qNorm && layer.kNorm) normColumns(qkv, M, 3 * H, [layer.qNorm, layer.kNorm], H, eps);
      if (rope) applyRope(qkv, batch, numHeads, headDim, rope);
      const ctx = attendGrouped(qkv, batch, dis ? disentangledShape(dis, layer.qkv, batch.seqLen) : shape);
      const a = project('attnOut', ctx);
      layerNorm(a, x, layer.attnNorm, H, eps);
      if (layer.preFfnNorm) layerNorm(a, x, layer.preFfnNorm, H, eps);
      const gate = gatedBert?.gate ?? null;
      const moeLayer = experts[i];
      const y = moeLayer
        ? moeLayer(a, M)
        : project('ffnOut', gate ? gated(project('ffnIn', a), M, I, gate) : project('ffnIn', a, ffnActivation));
      layerNorm(y, a, layer.ffnNorm, H, eps);
      return y;
    },
  };
}
