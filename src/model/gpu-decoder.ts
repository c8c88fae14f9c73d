import type { GpuContext } from '../gpu/device.js';
import type { Epilogue } from '../gpu/kernels/matmul.js';
import { RmsNormKernel } from '../gpu/kernels/rmsnorm.js';
import type { DispatchTarget } from '../gpu/profiler.js';
import type { Elem, UniformArena } from '../gpu/resources.js';
import { type EncoderConfig, exitUsesFinalNorm } from '../weights/config.js';
import type { DecoderSpec } from '../weights/decoder-config.js';
import type { DecoderWeights } from '../weights/weights.js';
import {
  type BatchInputs,
  createLayerKernels,
  type GpuProjections,
  LayerGraph,
  type LayerKernels,
  roleElems,
  uploadProjections,
  WeightUploads,
  withInputs,
} from './gpu-graph.js';
import { modelRelativeBias } from './relative-bias.js';
import { ropeTable } from './rope.js';

interface GpuLayer extends GpuProjections {
  inputNorm: GPUBuffer;
  qNorm: GPUBuffer | null;
  kNorm: GPUBuffer | null;
  postAttnNorm: GPUBuffer | null;
  ffnNorm: GPUBuffer;
  postFfnNorm: GPUBuffer | null;
  /** Null where the relative bias places tokens (T5). */
  rope: GPUBuffer | null;
  /** Set for sliding-window layers. */
  windowHalf?: number;
}

/** The matmul epilogue of each feed-forward the configs allow (t5-config.ts, decoder-config.ts). */
const FEED_FORWARD: Readonly<Record<string, Epilogue>> = {
  'gated silu': 'swiglu',
  'gated gelu_tanh': 'geglu_tanh',
  'gated gelu': 'geglu',
  gelu: 'gelu',
  relu: 'relu',
};

type Role = 'residual' | 'normed' | 'qkv' | 'attnContext' | 'ffnHidden' | 'sublayer';
const ROLES: Role[] = ['residual', 'normed', 'qkv', 'attnContext', 'ffnHidden', 'sublayer'];

/**
 * The Qwen3 / Qwen2 / Gemma 3 / T5 forward (conventions in weights/decoder-config.ts). `residual` is the
 * residual stream; each sub-layer reads an RMS-normed copy. Qwen3's output projections add
 * straight into the stream (matmul's residual epilogue); Gemma's write `sublayer`, whose norm then
 * adds it into the stream (rmsnorm.wgsl's norm_add). The q/k norms run in place over the fused QKV
 * rows (Qwen2 has none) before attention, which rotates them (RoPE) as it loads them, or adds T5's
 * relative bias to the scores; the feed-forward activations (SwiGLU, tanh GeGLU, T5's ReLU) are
 * matmul epilogues.
 */
export class DecoderGraph extends LayerGraph<Role, GpuLayer> {
  private constructor(
    device: GPUDevice,
    private readonly config: EncoderConfig,
    private readonly spec: DecoderSpec,
    kernels: LayerKernels,
    private readonly rms: RmsNormKernel,
    private readonly finalNorm: GPUBuffer,
    private readonly relative: { table: GPUBuffer; reach: number } | null,
    layers: GpuLayer[],
    uploads: WeightUploads,
    elems: Record<Role, Elem>,
  ) {
    const { hiddenSize: H, intermediateSize: I, numHeads, headDim: D } = config;
    const Q = numHeads * D;
    super(
      device,
      {
        activations: {
          residual: H,
          normed: H,
          qkv: Q + 2 * spec.numKvHeads * D,
          attnContext: Q,
          ffnHidden: I,
          // Gemma's sub-layer outputs before their norms; Qwen3 never writes it.
          sublayer: spec.sandwichNorms ? H : 1,
        },
        elems,
        output: 'residual',
        // Embedding scale and final norm; per layer 2 norms, 4 matmuls, q and k norms, attention,
        // and Gemma's 2 post norms.
        slots: { fixed: 2, perLayer: 11 },
      },
      kernels,
      layers,
      uploads,
    );
  }

  /**
   * `activations`: the activation buffers' element type (f16 needs `shader-f16`); the residual
   * stream stays f32 (see roleElems).
   */
  static async create(gpu: GpuContext, weights: DecoderWeights, activations: Elem = 'f32'): Promise<DecoderGraph> {
    const c = weights.config;
    const spec = c.decoder as DecoderSpec;
    const elems = roleElems(ROLES, activations, ['residual']);
    const [kernels, rms] = await Promise.all([
      createLayerKernels(gpu, {
        layers: weights.layers,
        headDim: c.headDim,
        eps: c.layerNormEps,
        rotary: spec.ropeTheta !== null,
        elems,
      }),
      RmsNormKernel.create(gpu.device, c.layerNormEps, withInputs(elems)),
    ]);
    const up = new WeightUploads(gpu.device);
    const tables = new Map<number, GPUBuffer>();
    const rope = (theta: number) => {
      let t = tables.get(theta);
      if (!t) {
        t = up.buffer(`rope-${theta}`, ropeTable(theta, c.headDim, c.maxTokens));
        tables.set(theta, t);
      }
      return t;
    };
    const layers = weights.layers.map((l, i): GpuLayer => {
      const norm = (name: string, w: Float32Array | null) => w && up.buffer(`layer${i}.${name}`, w);
      const windowHalf = spec.windowHalf[i] as number;
      return {
        ...uploadProjections(up, i, l),
        inputNorm: up.buffer(`layer${i}.input_norm`, l.inputNorm),
        qNorm: norm('q_norm', l.qNorm),
        kNorm: norm('k_norm', l.kNorm),
        postAttnNorm: norm('post_attn_norm', l.postAttnNorm),
        ffnNorm: up.buffer(`layer${i}.ffn_norm`, l.ffnNorm),
        postFfnNorm: norm('post_ffn_norm', l.postFfnNorm),
        rope: spec.ropeTheta && rope(spec.ropeTheta[i] as number),
        ...(Number.isFinite(windowHalf) ? { windowHalf } : {}),
      };
    });
    const finalNorm = up.buffer('final_norm', weights.finalNorm);
    const bias = modelRelativeBias(weights);
    const relative = bias && { table: up.buffer('relative_bias', bias.table), reach: bias.reach };
    return new DecoderGraph(gpu.device, c, spec, kernels, rms, finalNorm, relative, layers, up, elems);
  }

  encode(pass: DispatchTarget, uniforms: UniformArena, p: BatchInputs, layers: number): GPUBuffer {
    const { config, spec, rms } = this;
    const { hiddenSize: H, numHeads, headDim: D } = config;
    const { matmul, attention } = this.kernels;
    const { residual, normed, qkv, attnContext, ffnHidden } = this.activations();
    const { batch } = p;
    const M = batch.size * batch.seqLen;
    const Q = numHeads * D;
    const stride = Q + 2 * spec.numKvHeads * D;
    const shape = { rows: batch.size, seqLen: batch.seqLen, heads: numHeads, relative: this.relative };
    const grouped = { kvHeads: spec.numKvHeads, causal: spec.causal, scale: spec.attnScale };
    const ffnEpilogue = FEED_FORWARD[`${spec.gated ? 'gated ' : ''}${spec.activation}`];
    if (!ffnEpilogue) throw new Error(`no feed-forward epilogue for ${spec.gated ? 'gated ' : ''}${spec.activation}`);
    rms.encodeScale(pass, uniforms, p.wordRows, residual, M, H, spec.embedScale); // residual [M, H]
    for (const l of this.layers.slice(0, layers)) {
      rms.encodeTo(pass, uniforms, residual, normed, l.inputNorm, M, H); // normed [M, H]
      matmul.encode(pass, uniforms, normed, l.qkv, qkv, M); // qkv [M, Q + 2KV]
      if (l.qNorm) rms.encode(pass, uniforms, qkv, l.qNorm, { rows: M, width: D, rowStride: stride, runs: numHeads });
      if (l.kNorm) {
        rms.encode(pass, uniforms, qkv, l.kNorm, { rows: M, width: D, rowStride: stride, offset: Q, runs: spec.numKvHeads });
      }
      attention.encode(
        pass,
        uniforms,
        qkv,
        p.lengths,
        attnContext,
        shape,
        l.rope ? { rope: l.rope, ...(l.windowHalf === undefined ? {} : { windowHalf: l.windowHalf }) } : undefined,
        grouped,
      ); // attnContext [M, Q]
      this.addSublayer(pass, uniforms, attnContext, l.attnOut, l.postAttnNorm, M);
      rms.encodeTo(pass, uniforms, residual, normed, l.ffnNorm, M, H); // normed [M, H]
      // A gated ffnIn has 2I rows (gate inputs over up projections); its epilogue leaves I columns.
      matmul.encode(pass, uniforms, normed, l.ffnIn, ffnHidden, M, ffnEpilogue); // ffnHidden [M, I]
      this.addSublayer(pass, uniforms, ffnHidden, l.ffnOut, l.postFfnNorm, M);
    }
    if (exitUsesFinalNorm(config, layers)) rms.encode(pass, uniforms, residual, this.finalNorm, { rows: M, width: H });
    return residual;
  }

  /** residual += x W^T, through Gemma's post norm where the layer has one. */
  private addSublayer(
    pass: DispatchTarget,
    uniforms: UniformArena,
    x: GPUBuffer,
    w: GpuProjections['attnOut'],
    postNorm: GPUBuffer | null,
    M: number,
  ): void {
    const { matmul } = this.kernels;
    const { residual, sublayer } = this.activations();
    if (!postNorm) {
      matmul.encode(pass, uniforms, x, w, residual, M, 'residual'); // residual [M, H] +=
      return;
    }
    matmul.encode(pass, uniforms, x, w, sublayer, M); // sublayer [M, H]
    this.rms.encodeTo(pass, uniforms, sublayer, residual, postNorm, M, this.config.hiddenSize, true); // residual +=
  }

  override destroy(): void {
    super.destroy();
    this.rms.destroy();
  }
}
