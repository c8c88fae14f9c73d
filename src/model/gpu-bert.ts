import { type GpuContext, sharedReads } from '../gpu/device.js';
import { AttentionKernel } from '../gpu/kernels/attention.js';
import { EmbedKernel } from '../gpu/kernels/embed.js';
import { type GpuLayerNorm, LayerNormKernel } from '../gpu/kernels/layernorm.js';
import { destroyLinear, type GpuLinear, MatmulKernel, uploadLinear } from '../gpu/kernels/matmul.js';
import type { DispatchTarget } from '../gpu/profiler.js';
import { GrowableBuffer, type UniformArena, uploadBuffer } from '../gpu/resources.js';
import type { BertWeights } from '../weights/weights.js';
import { type BatchInputs, destroyNorm, type GpuGraph, uploadNorm } from './gpu-graph.js';

type Activation = 'x' | 'qkv' | 'ctx' | 'a' | 'f';

interface GpuLayer {
  qkv: GpuLinear;
  attnOut: GpuLinear;
  attnNorm: GpuLayerNorm;
  ffnIn: GpuLinear;
  ffnOut: GpuLinear;
  ffnNorm: GpuLayerNorm;
}

/** The BERT / XLM-R forward: learned positions, post-norm layers, GELU feed-forward. */
export class BertGraph implements GpuGraph {
  private readonly act: Record<Activation, GrowableBuffer>;
  /** The activation buffers as sized by the last reserve(). */
  private bufs: Record<Activation, GPUBuffer> | null = null;

  private constructor(
    private readonly weights: BertWeights,
    private readonly kernels: {
      matmul: MatmulKernel;
      attention: AttentionKernel;
      layerNorm: LayerNormKernel;
      embed: EmbedKernel;
    },
    private readonly tables: { position: GPUBuffer; tokenType: GPUBuffer; embNorm: GpuLayerNorm },
    private readonly layers: GpuLayer[],
    device: GPUDevice,
  ) {
    this.act = {
      x: new GrowableBuffer(device, 'hidden'),
      qkv: new GrowableBuffer(device, 'qkv'),
      ctx: new GrowableBuffer(device, 'attention-context'),
      a: new GrowableBuffer(device, 'attention-output'),
      f: new GrowableBuffer(device, 'ffn-intermediate'),
    };
  }

  static async create(gpu: GpuContext, weights: BertWeights): Promise<BertGraph> {
    const { device } = gpu;
    const reads = sharedReads(gpu);
    const c = weights.config;
    const quants = weights.layers.flatMap((l) => [l.qkv.quant, l.attnOut.quant, l.ffnIn.quant, l.ffnOut.quant]);
    const [matmul, attention, layerNorm, embed] = await Promise.all([
      MatmulKernel.create(device, quants.length ? quants : ['f32'], reads),
      AttentionKernel.create(device, c.headDim, false, reads),
      LayerNormKernel.create(device, c.layerNormEps),
      EmbedKernel.create(device),
    ]);
    const layers = weights.layers.map((l, i) => ({
      qkv: uploadLinear(device, `layer${i}.qkv`, l.qkv),
      attnOut: uploadLinear(device, `layer${i}.attn_out`, l.attnOut),
      attnNorm: uploadNorm(device, `layer${i}.attn_norm`, l.attnNorm),
      ffnIn: uploadLinear(device, `layer${i}.ffn_in`, l.ffnIn),
      ffnOut: uploadLinear(device, `layer${i}.ffn_out`, l.ffnOut),
      ffnNorm: uploadNorm(device, `layer${i}.ffn_norm`, l.ffnNorm),
    }));
    const tables = {
      position: uploadBuffer(device, 'position_embeddings', weights.position),
      tokenType: uploadBuffer(device, 'token_type_embeddings', weights.tokenType.subarray(0, c.hiddenSize)),
      embNorm: uploadNorm(device, 'embeddings.norm', weights.embNorm),
    };
    return new BertGraph(weights, { matmul, attention, layerNorm, embed }, tables, layers, device);
  }

  get loadedLayers(): number {
    return this.layers.length;
  }

  /** Embed + its norm + 7 per layer. */
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
      qkv: this.act.qkv.ensure(bytes(3 * H)),
      ctx: this.act.ctx.ensure(bytes(H)),
      a: this.act.a.ensure(bytes(H)),
      f: this.act.f.ensure(bytes(I)),
    };
  }

  encode(pass: DispatchTarget, uniforms: UniformArena, p: BatchInputs, layers: number): GPUBuffer {
    const { hiddenSize: H, numHeads } = this.weights.config;
    const { matmul, attention, layerNorm, embed } = this.kernels;
    if (!this.bufs) throw new Error('BertGraph.encode before reserve');
    const { x, qkv, ctx, a, f } = this.bufs;
    const { batch } = p;
    const M = batch.size * batch.seqLen;
    embed.encode(pass, uniforms, { ...p, positionTable: this.tables.position, tokenType: this.tables.tokenType }, x, M, H);
    layerNorm.encode(pass, uniforms, x, null, this.tables.embNorm, M, H);
    for (const l of this.layers.slice(0, layers)) {
      matmul.encode(pass, uniforms, x, l.qkv, qkv, M);
      attention.encode(pass, uniforms, qkv, p.lengths, ctx, { rows: batch.size, seqLen: batch.seqLen, heads: numHeads });
      matmul.encode(pass, uniforms, ctx, l.attnOut, a, M);
      layerNorm.encode(pass, uniforms, a, x, l.attnNorm, M, H);
      matmul.encode(pass, uniforms, a, l.ffnIn, f, M, 'gelu');
      matmul.encode(pass, uniforms, f, l.ffnOut, x, M);
      layerNorm.encode(pass, uniforms, x, a, l.ffnNorm, M, H);
    }
    return x;
  }

  destroy(): void {
    for (const l of this.layers) {
      for (const lin of [l.qkv, l.attnOut, l.ffnIn, l.ffnOut]) destroyLinear(lin);
      destroyNorm(l.attnNorm);
      destroyNorm(l.ffnNorm);
    }
    this.tables.position.destroy();
    this.tables.tokenType.destroy();
    destroyNorm(this.tables.embNorm);
    for (const b of Object.values(this.act)) b.destroy();
  }
}
