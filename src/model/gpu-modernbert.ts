import { type GpuContext, sharedReads } from '../gpu/device.js';
import { AttentionKernel } from '../gpu/kernels/attention.js';
import { type GpuLayerNorm, LayerNormKernel } from '../gpu/kernels/layernorm.js';
import { destroyLinear, type GpuLinear, MatmulKernel, uploadLinear } from '../gpu/kernels/matmul.js';
import type { DispatchTarget } from '../gpu/profiler.js';
import { GrowableBuffer, type UniformArena, uploadBuffer } from '../gpu/resources.js';
import { exitUsesFinalNorm, type ModernBertSpec } from '../weights/config.js';
import type { ModernBertWeights } from '../weights/weights.js';
import { type BatchInputs, destroyNorm, type GpuGraph, uploadNorm } from './gpu-graph.js';
import { ropeTables } from './rope.js';

type Activation = 'x' | 'n' | 'qkv' | 'ctx' | 'g';

interface GpuLayer {
  qkv: GpuLinear;
  attnOut: GpuLinear;
  attnNorm: GpuLayerNorm | null;
  ffnIn: GpuLinear;
  ffnOut: GpuLinear;
  ffnNorm: GpuLayerNorm;
  rope: GPUBuffer;
  /** Set for local (sliding-window) layers. */
  windowHalf?: number;
}

/**
 * The ModernBERT forward (conventions in config.ts's parseModernBertConfig). x is the residual
 * stream: each sub-layer reads a normalised copy n, and its output projection adds straight into
 * x (matmul's residual epilogue), so no separate add pass exists. RoPE and the sliding window
 * live in the attention kernel, GeGLU in the Wi matmul's epilogue.
 */
export class ModernBertGraph implements GpuGraph {
  private readonly act: Record<Activation, GrowableBuffer>;
  private bufs: Record<Activation, GPUBuffer> | null = null;

  private constructor(
    private readonly weights: ModernBertWeights,
    private readonly kernels: { matmul: MatmulKernel; attention: AttentionKernel; layerNorm: LayerNormKernel },
    private readonly norms: { emb: GpuLayerNorm; final: GpuLayerNorm },
    private readonly ropeTables: GPUBuffer[],
    private readonly layers: GpuLayer[],
    device: GPUDevice,
  ) {
    this.act = {
      x: new GrowableBuffer(device, 'residual'),
      n: new GrowableBuffer(device, 'normalised'),
      qkv: new GrowableBuffer(device, 'qkv'),
      ctx: new GrowableBuffer(device, 'attention-context'),
      g: new GrowableBuffer(device, 'geglu'),
    };
  }

  static async create(gpu: GpuContext, weights: ModernBertWeights): Promise<ModernBertGraph> {
    const { device } = gpu;
    const reads = sharedReads(gpu);
    const c = weights.config;
    const spec = c.modern as ModernBertSpec;
    const quants = weights.layers.flatMap((l) => [l.qkv.quant, l.attnOut.quant, l.ffnIn.quant, l.ffnOut.quant]);
    const [matmul, attention, layerNorm] = await Promise.all([
      MatmulKernel.create(device, quants.length ? quants : ['f32'], reads),
      AttentionKernel.create(device, c.headDim, true, reads),
      LayerNormKernel.create(device, c.layerNormEps),
    ]);
    const cpuTables = ropeTables(spec, c.headDim, c.maxTokens);
    const global = uploadBuffer(device, 'rope-global', cpuTables.global);
    const local = cpuTables.local === cpuTables.global ? global : uploadBuffer(device, 'rope-local', cpuTables.local);
    const layers = weights.layers.map((l, i) => {
      const isGlobal = spec.globalLayers[i] as boolean;
      return {
        qkv: uploadLinear(device, `layer${i}.qkv`, l.qkv),
        attnOut: uploadLinear(device, `layer${i}.attn_out`, l.attnOut),
        attnNorm: l.attnNorm ? uploadNorm(device, `layer${i}.attn_norm`, l.attnNorm) : null,
        ffnIn: uploadLinear(device, `layer${i}.ffn_in`, l.ffnIn),
        ffnOut: uploadLinear(device, `layer${i}.ffn_out`, l.ffnOut),
        ffnNorm: uploadNorm(device, `layer${i}.ffn_norm`, l.ffnNorm),
        rope: isGlobal ? global : local,
        ...(isGlobal ? {} : { windowHalf: spec.windowHalf }),
      };
    });
    const norms = {
      emb: uploadNorm(device, 'embeddings.norm', weights.embNorm),
      final: uploadNorm(device, 'final_norm', weights.finalNorm),
    };
    return new ModernBertGraph(weights, { matmul, attention, layerNorm }, norms, [...new Set([global, local])], layers, device);
  }

  get loadedLayers(): number {
    return this.layers.length;
  }

  /** Embedding norm, 7 per layer (layer 0 one fewer), final norm. */
  slots(layers: number): number {
    return 2 + 7 * layers;
  }

  prepare(tokenCounts: readonly number[]): Promise<void> {
    return this.kernels.matmul.prepare(tokenCounts);
  }

  reserve(maxM: number): void {
    const { hiddenSize: H, intermediateSize: I } = this.weights.config;
    const bytes = (floatsPerToken: number) => maxM * floatsPerToken * 4;
    this.bufs = {
      x: this.act.x.ensure(bytes(H)),
      n: this.act.n.ensure(bytes(H)),
      qkv: this.act.qkv.ensure(bytes(3 * H)),
      ctx: this.act.ctx.ensure(bytes(H)),
      g: this.act.g.ensure(bytes(I)),
    };
  }

  encode(pass: DispatchTarget, uniforms: UniformArena, p: BatchInputs, layers: number): GPUBuffer {
    if (!this.bufs) throw new Error('ModernBertGraph.encode before reserve');
    const { x, n, qkv, ctx, g } = this.bufs;
    const { config } = this.weights;
    const { hiddenSize: H, numHeads } = config;
    const { matmul, attention, layerNorm } = this.kernels;
    const { batch } = p;
    const M = batch.size * batch.seqLen;
    const shape = { rows: batch.size, seqLen: batch.seqLen, heads: numHeads };
    layerNorm.encodeTo(pass, uniforms, p.wordRows, x, this.norms.emb, M, H);
    for (const l of this.layers.slice(0, layers)) {
      if (l.attnNorm) layerNorm.encodeTo(pass, uniforms, x, n, l.attnNorm, M, H);
      matmul.encode(pass, uniforms, l.attnNorm ? n : x, l.qkv, qkv, M);
      attention.encode(pass, uniforms, qkv, p.lengths, ctx, shape, {
        rope: l.rope,
        ...(l.windowHalf === undefined ? {} : { windowHalf: l.windowHalf }),
      });
      matmul.encode(pass, uniforms, ctx, l.attnOut, x, M, 'residual');
      layerNorm.encodeTo(pass, uniforms, x, n, l.ffnNorm, M, H);
      matmul.encode(pass, uniforms, n, l.ffnIn, g, M, 'geglu');
      matmul.encode(pass, uniforms, g, l.ffnOut, x, M, 'residual');
    }
    if (exitUsesFinalNorm(config, layers)) layerNorm.encode(pass, uniforms, x, null, this.norms.final, M, H);
    return x;
  }

  destroy(): void {
    for (const l of this.layers) {
      for (const lin of [l.qkv, l.attnOut, l.ffnIn, l.ffnOut]) destroyLinear(lin);
      if (l.attnNorm) destroyNorm(l.attnNorm);
      destroyNorm(l.ffnNorm);
    }
    destroyNorm(this.norms.emb);
    destroyNorm(this.norms.final);
    for (const t of this.ropeTables) t.destroy();
    for (const b of Object.values(this.act)) b.destroy();
  }
}
