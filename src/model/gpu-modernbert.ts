import type { GpuContext } from '../gpu/device.js';
import type { GpuLayerNorm } from '../gpu/kernels/layernorm.js';
import type { DispatchTarget } from '../gpu/profiler.js';
import type { Elem, UniformArena } from '../gpu/resources.js';
import { type EncoderConfig, exitUsesFinalNorm, type ModernBertSpec } from '../weights/config.js';
import type { ModernBertWeights } from '../weights/weights.js';
import {
  type BatchInputs,
  createLayerKernels,
  type GpuLayerCore,
  LayerGraph,
  type LayerKernels,
  roleElems,
  uploadLayerCore,
  WeightUploads,
} from './gpu-graph.js';
import { ropeTables } from './rope.js';

interface GpuLayer extends GpuLayerCore {
  /** Null where the checkpoint has none (layer 0: the embedding norm precedes it). */
  attnNorm: GpuLayerNorm | null;
  rope: GPUBuffer;
  /** Set for local (sliding-window) layers. */
  windowHalf?: number;
}

type Role = 'residual' | 'normed' | 'qkv' | 'attnContext' | 'ffnHidden';
const ROLES: Role[] = ['residual', 'normed', 'qkv', 'attnContext', 'ffnHidden'];

/**
 * The ModernBERT forward (conventions in config.ts's parseModernBertConfig). `residual` is the
 * residual stream: each sub-layer reads a normalised copy, and its output projection adds
 * straight into the stream (matmul's residual epilogue), so no separate add pass exists. RoPE and
 * the sliding window live in the attention kernel, GeGLU in the Wi matmul's epilogue.
 */
export class ModernBertGraph extends LayerGraph<Role, GpuLayer> {
  private constructor(
    device: GPUDevice,
    private readonly config: EncoderConfig,
    kernels: LayerKernels,
    private readonly norms: { emb: GpuLayerNorm; final: GpuLayerNorm },
    layers: GpuLayer[],
    uploads: WeightUploads,
    elems: Record<Role, Elem>,
  ) {
    const { hiddenSize: H, intermediateSize: I } = config;
    super(
      device,
      {
        activations: { residual: H, normed: H, qkv: 3 * H, attnContext: H, ffnHidden: I },
        elems,
        output: 'residual',
        // Embedding norm, 7 per layer (layer 0 one fewer), final norm.
        slots: { fixed: 2, perLayer: 7 },
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
  static async create(gpu: GpuContext, weights: ModernBertWeights, activations: Elem = 'f32'): Promise<ModernBertGraph> {
    const c = weights.config;
    const spec = c.modern as ModernBertSpec;
    const elems = roleElems(ROLES, activations, ['residual']);
    const kernels = await createLayerKernels(gpu, {
      layers: weights.layers,
      headDim: c.headDim,
      eps: c.layerNormEps,
      rotary: true,
      elems,
    });
    const up = new WeightUploads(gpu.device);
    const cpuTables = ropeTables(spec, c.headDim, c.maxTokens);
    const global = up.buffer('rope-global', cpuTables.global);
    const local = cpuTables.local === cpuTables.global ? global : up.buffer('rope-local', cpuTables.local);
    const layers = weights.layers.map((l, i) => {
      const isGlobal = spec.globalLayers[i] as boolean;
      return {
        ...uploadLayerCore(up, i, l),
        attnNorm: l.attnNorm ? up.norm(`layer${i}.attn_norm`, l.attnNorm) : null,
        rope: isGlobal ? global : local,
        ...(isGlobal ? {} : { windowHalf: spec.windowHalf }),
      };
    });
    const norms = { emb: up.norm('embeddings.norm', weights.embNorm), final: up.norm('final_norm', weights.finalNorm) };
    return new ModernBertGraph(gpu.device, c, kernels, norms, layers, up, elems);
  }

  encode(pass: DispatchTarget, uniforms: UniformArena, p: BatchInputs, layers: number): GPUBuffer {
    const { config } = this;
    const { hiddenSize: H, numHeads } = config;
    const { matmul, attention, layerNorm } = this.kernels;
    const { residual, normed, qkv, attnContext, ffnHidden } = this.activations();
    const { batch } = p;
    const M = batch.size * batch.seqLen;
    const gate = (config.modern as ModernBertSpec).gate === 'silu' ? 'swiglu' : 'geglu';
    const shape = { rows: batch.size, seqLen: batch.seqLen, heads: numHeads };
    // No learned positions: the embedding is the normalised word rows.
    layerNorm.encodeTo(pass, uniforms, p.wordRows, residual, this.norms.emb, M, H); // residual [M, H]
    for (const l of this.layers.slice(0, layers)) {
      if (l.attnNorm) layerNorm.encodeTo(pass, uniforms, residual, normed, l.attnNorm, M, H); // normed [M, H]
      matmul.encode(pass, uniforms, l.attnNorm ? normed : residual, l.qkv, qkv, M); // qkv [M, 3H]
      attention.encode(pass, uniforms, qkv, p.lengths, attnContext, shape, {
        rope: l.rope,
        ...(l.windowHalf === undefined ? {} : { windowHalf: l.windowHalf }),
      }); // attnContext [M, H]
      matmul.encode(pass, uniforms, attnContext, l.attnOut, residual, M, 'residual'); // residual [M, H] +=
      layerNorm.encodeTo(pass, uniforms, residual, normed, l.ffnNorm, M, H); // normed [M, H]
      // Wi has 2I rows (inputs over gates); GeGLU or SwiGLU leaves I columns.
      matmul.encode(pass, uniforms, normed, l.ffnIn, ffnHidden, M, gate); // ffnHidden [M, I]
      matmul.encode(pass, uniforms, ffnHidden, l.ffnOut, residual, M, 'residual'); // residual [M, H] +=
    }
    if (exitUsesFinalNorm(config, layers)) layerNorm.encode(pass, uniforms, residual, null, this.norms.final, M, H);
    return residual;
  }
}
