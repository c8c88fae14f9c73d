import { UnsupportedError } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import type { DisentangledAttention } from '../gpu/kernels/attention.js';
import { EmbedKernel } from '../gpu/kernels/embed.js';
import type { GpuLayerNorm } from '../gpu/kernels/layernorm.js';
import { type GpuLoraPair, LoraKernel } from '../gpu/kernels/lora.js';
import type { GpuLinear } from '../gpu/kernels/matmul.js';
import type { DispatchTarget } from '../gpu/profiler.js';
import { type Elem, GrowableBuffer, type UniformArena } from '../gpu/resources.js';
import type { EncoderConfig } from '../weights/config.js';
import { embeddingWidth, type Projection } from '../weights/shapes.js';
import type { BertWeights } from '../weights/weights.js';
import { alibiBase } from './alibi.js';
import { disentangledScale, relativeEmbeddings, relativeRows, rowsForLength } from './disentangled.js';
import { GpuExperts } from './gpu-experts.js';
import {
  type BatchInputs,
  createLayerKernels,
  LayerGraph,
  type LayerKernels,
  roleElems,
  type SteppedGraph,
  WeightUploads,
} from './gpu-graph.js';
import { modelRelativeBias } from './relative-bias.js';
import { ropeSpecTable } from './rope.js';

interface GpuLayer {
  qkv: GpuLinear;
  attnOut: GpuLinear;
  attnNorm: GpuLayerNorm;
  /** The feed-forward's projections; null in a mixture of experts' layers, which GpuExperts runs. */
  ffn: { ffnIn: GpuLinear; ffnOut: GpuLinear } | null;
  ffnNorm: GpuLayerNorm;
  /** jina-bert-v2-qk-post-norm's query, key and pre-feed-forward norms (BertLayer); null without. */
  qkPostNorm: { q: GpuLayerNorm; k: GpuLayerNorm; preFfn: GpuLayerNorm } | null;
  /** The projections' task adapters (config.lora); null without. */
  adapters: Record<Projection, GpuLoraPair> | null;
}

/** The task adapters' kernel and its [M, rank] f32 scratch (config.lora). */
interface Adapters {
  kernel: LoraKernel;
  lowRank: GrowableBuffer;
  rank: number;
}

/**
 * BERT's embedding tables (learned positions, and the one token type BERT encoders use), or, for
 * the gated ones, a RoPE table where they rotate (their token-type row is in the word rows);
 * MPNet's relative bias.
 */
interface Tables {
  learned: { embed: EmbedKernel; position: GPUBuffer; tokenType: GPUBuffer } | null;
  /** Factorized embeddings' widening (config.factorized), from `width` columns to H; null without. */
  embedProject: { linear: GpuLinear; width: number } | null;
  rope: GPUBuffer | null;
  relative: { table: GPUBuffer; reach: number } | null;
  disentangled: Disentangled | null;
  embNorm: GpuLayerNorm;
}

/**
 * DeBERTa's relative-position rows (normed, [2 span, H]) and the buffer the attention reads: each
 * layer's q/k/v projections of the rows a batch reaches, then each distance's row (`rows`, as f32)
 * at element `index`.
 */
interface Disentangled extends Omit<DisentangledAttention, 'first'> {
  rel: GPUBuffer;
  rows: Int32Array;
  scale: number;
  /** Binding offsets must be multiples of 256 bytes: a batch's first row is rounded down to a multiple of this. */
  align: number;
}

type Role = 'residual' | 'qkv' | 'attnContext' | 'attnOut' | 'ffnHidden';
const ROLES: Role[] = ['residual', 'qkv', 'attnContext', 'attnOut', 'ffnHidden'];

/**
 * The BERT / XLM-R / DistilBERT / MPNet / DeBERTa forward: learned positions (MPNet: and a relative
 * bias in the attention kernel; DeBERTa: none, its disentangled terms in the attention kernel over
 * each layer's projections of the relative rows), post-norm layers, GELU feed-forward; for the gated
 * ones (GTE, NomicBERT: RoPE; JinaBERT: ALiBi) the positions in the attention kernel and GeGLU or
 * SwiGLU in the feed-forward matmul's epilogue instead. Under f16 activations every buffer is
 * f16, the stream too: post-norm, it holds LayerNorm outputs (or one sub-layer's sum before its
 * norm), never a sum over layers. NomicBERT's expert layers (config.moe) run their feed-forward
 * through GpuExperts, each expert over its own tokens.
 */
export class BertGraph extends LayerGraph<Role, GpuLayer> implements SteppedGraph {
  private constructor(
    device: GPUDevice,
    private readonly config: EncoderConfig,
    kernels: LayerKernels,
    private readonly tables: Tables,
    layers: GpuLayer[],
    uploads: WeightUploads,
    elems: Record<Role, Elem>,
    private readonly adapters: Adapters | null,
    private readonly experts: GpuExperts | null,
  ) {
    const { hiddenSize: H, intermediateSize: I } = config;
    super(
      device,
      {
        activations: { residual: H, qkv: 3 * H, attnContext: H, attnOut: H, ffnHidden: I },
        elems,
        output: 'residual',
        // Embed, its norm and a factorized model's widening, then 7 per layer, one per projection's task adapter, and what experts add.
        slots: {
          fixed: config.factorized ? 3 : 2,
          perLayer:
            7 +
            (adapters ? 4 : 0) +
            (experts?.extraSlots ?? 0) +
            (config.disentangled ? 1 : 0) +
            (config.gatedBert?.qkPostNorm ? 3 : 0),
        },
      },
      kernels,
      layers,
      uploads,
    );
    const gate = config.gatedBert?.gate ?? null;
    this.ffnEpilogue = gate === 'silu' ? 'swiglu' : gate === 'gelu' ? 'geglu' : config.tanhGelu ? 'gelu_tanh' : 'gelu';
    this.alibiBase = config.gatedBert?.positions.type === 'alibi' ? alibiBase(config.numHeads) : 0;
  }

  private readonly ffnEpilogue: 'gelu' | 'gelu_tanh' | 'geglu' | 'swiglu';
  /** ALiBi's slopes for the attention kernel (model/alibi.ts); 0 without ALiBi. */
  private readonly alibiBase: number;

  /** `activations`: the activation buffers' element type (f16 needs `shader-f16`). */
  static async create(gpu: GpuContext, weights: BertWeights, activations: Elem = 'f32'): Promise<BertGraph> {
    const c = weights.config;
    const elems = roleElems(ROLES, activations);
    const { position, tokenType } = weights;
    const learned = position && tokenType;
    const positions = c.gatedBert?.positions;
    const rotary = positions?.type === 'rope';
    const relative = modelRelativeBias(weights);
    const moe = c.moe ?? null;
    const [kernels, embed, lora] = await Promise.all([
      createLayerKernels(gpu, {
        layers: weights.layers,
        // A mixture of experts' router is f32 in every format.
        quants: moe ? ['f32'] : [],
        headDim: c.headDim,
        eps: c.layerNormEps,
        rotary,
        // The router writes f32 logits whatever the activations: routing is decided in f32, as the
        // reference does, since an f16 logit could swap two close experts. DeBERTa's relative
        // projections are f32 too: the attention reads them beside its f32 index.
        elems: { ...elems, ...(moe ? { routerLogits: 'f32' } : {}), ...(c.disentangled ? { relQkv: 'f32' } : {}) },
      }),
      learned ? EmbedKernel.create(gpu.device, [elems.residual]) : null,
      c.lora ? LoraKernel.create(gpu.device, [activations]) : null,
    ]);
    const up = new WeightUploads(gpu.device);
    const shape = { H: c.hiddenSize, I: c.intermediateSize, elem: activations };
    const experts = moe ? await GpuExperts.create(gpu.device, moe, shape, weights.layers, up) : null;
    const layers = weights.layers.map((l, i) => ({
      qkv: up.linear(`layer${i}.qkv`, l.qkv),
      attnOut: up.linear(`layer${i}.attn_out`, l.attnOut),
      attnNorm: up.norm(`layer${i}.attn_norm`, l.attnNorm),
      ffn: l.experts ? null : { ffnIn: up.linear(`layer${i}.ffn_in`, l.ffnIn), ffnOut: up.linear(`layer${i}.ffn_out`, l.ffnOut) },
      ffnNorm: up.norm(`layer${i}.ffn_norm`, l.ffnNorm),
      qkPostNorm:
        l.qNorm && l.kNorm && l.preFfnNorm
          ? {
              q: up.norm(`layer${i}.q_norm`, l.qNorm),
              k: up.norm(`layer${i}.k_norm`, l.kNorm),
              preFfn: up.norm(`layer${i}.pre_ffn_norm`, l.preFfnNorm),
            }
          : null,
      adapters: l.adapters
        ? (Object.fromEntries(
            Object.entries(l.adapters).map(([k, pair]) => [
              k,
              { down: up.buffer(`layer${i}.${k}.lora_a`, pair.down), up: up.buffer(`layer${i}.${k}.lora_b`, pair.up) },
            ]),
          ) as Record<Projection, GpuLoraPair>)
        : null,
    }));
    const width = embeddingWidth(c);
    // The narrow embeddings are built in the qkv buffer ([M, 3H]) before the first layer needs it.
    if (width > 3 * c.hiddenSize)
      throw new UnsupportedError(`embedding_size ${width} above three times the hidden size ${c.hiddenSize} is not supported`);
    const tables: Tables = {
      learned: embed && {
        embed,
        position: up.buffer('position_embeddings', position as Float32Array),
        tokenType: up.buffer('token_type_embeddings', (tokenType as Float32Array).subarray(0, width)),
      },
      embedProject: weights.embedProject ? { linear: up.linear('embeddings.project', weights.embedProject), width } : null,
      rope: positions?.type === 'rope' ? up.buffer('rope', ropeSpecTable(positions, c.headDim, c.maxTokens)) : null,
      relative: relative && { table: up.buffer('relative_bias', relative.table), reach: relative.reach },
      disentangled: disentangledTables(c, weights, up),
      embNorm: up.norm('embeddings.norm', weights.embNorm),
    };
    const adapters =
      lora && c.lora ? { kernel: lora, lowRank: new GrowableBuffer(gpu.device, 'lora_t'), rank: c.lora.rank } : null;
    return new BertGraph(gpu.device, c, kernels, tables, layers, up, elems, adapters, experts);
  }

  override prepare(tokenCounts: readonly number[]): Promise<void> {
    // DeBERTa's relative rows: from 1 to every row, both tilings.
    const rows = this.tables.disentangled ? [1, this.tables.disentangled.rows.length] : [];
    return super.prepare([...tokenCounts, ...rows]);
  }

  override reserve(maxM: number): void {
    super.reserve(maxM);
    this.adapters?.lowRank.ensure(maxM * this.adapters.rank * 4);
    this.experts?.reserve(maxM);
  }

  override maxTokens(bytes: number): number {
    return Math.min(super.maxTokens(bytes), this.experts?.maxTokens(bytes) ?? Number.POSITIVE_INFINITY);
  }

  override destroy(): void {
    super.destroy();
    this.adapters?.lowRank.destroy();
    this.experts?.destroy();
  }

  encode(pass: DispatchTarget, uniforms: UniformArena, p: BatchInputs, layers: number): GPUBuffer {
    this.encodeEmbeddings(pass, uniforms, p);
    return this.encodeLayers(pass, uniforms, p, 0, layers);
  }

  encodeEmbeddings(pass: DispatchTarget, uniforms: UniformArena, p: BatchInputs): void {
    const { residual, qkv } = this.activations();
    const M = p.batch.size * p.batch.seqLen;
    const { learned, embNorm, embedProject } = this.tables;
    const H = this.config.hiddenSize;
    if (!learned) {
      this.kernels.layerNorm.encodeTo(pass, uniforms, p.wordRows, residual, embNorm, M, H); // residual [M, H]
      return;
    }
    const { embed, position, tokenType } = learned;
    const sum = { ...p, positionTable: position, tokenType };
    if (embedProject) {
      const { linear, width } = embedProject;
      embed.encode(pass, uniforms, sum, qkv, M, width); // qkv [M, width]
      this.kernels.layerNorm.encode(pass, uniforms, qkv, null, embNorm, M, width);
      this.kernels.matmul.encode(pass, uniforms, qkv, linear, residual, M); // residual [M, H]
      return;
    }
    embed.encode(pass, uniforms, sum, residual, M, H); // residual [M, H]
    this.kernels.layerNorm.encode(pass, uniforms, residual, null, embNorm, M, H);
  }

  encodeLayers(pass: DispatchTarget, uniforms: UniformArena, p: BatchInputs, from: number, to: number): GPUBuffer {
    const { hiddenSize: H, numHeads } = this.config;
    const { matmul, attention, layerNorm } = this.kernels;
    const { residual, qkv, attnContext, attnOut, ffnHidden } = this.activations();
    const { batch } = p;
    const M = batch.size * batch.seqLen;
    const { rope, relative, disentangled: dis } = this.tables;
    const shape = { rows: batch.size, seqLen: batch.seqLen, heads: numHeads, alibiBase: this.alibiBase, relative };
    const relRows = dis && this.relativeBlock(dis, batch.seqLen);
    for (let i = from; i < to; i++) {
      const l = this.layers[i] as GpuLayer;
      // A projection, and the task adapter's update to it before its activation where the call runs one.
      const project = (x: GPUBuffer, k: Projection, y: GPUBuffer, epilogue: 'none' | BertGraph['ffnEpilogue'] = 'none') => {
        const linear = k === 'ffnIn' || k === 'ffnOut' ? l.ffn?.[k] : l[k];
        if (!linear) throw new Error(`layer ${i} runs its feed-forward through its experts`);
        const pair = p.task === undefined ? undefined : l.adapters?.[k];
        if (!pair || !this.adapters || p.task === undefined) return matmul.encode(pass, uniforms, x, linear, y, M, epilogue);
        // Adapters come with the ungated feed-forward only (parseJinaV3Config), whose epilogue is GELU.
        matmul.encode(pass, uniforms, x, linear, y, M);
        const { rows, cols } = linear;
        const { kernel, lowRank, rank } = this.adapters;
        const shape = { M, rows, cols, rank, task: p.task, gelu: epilogue === 'gelu' };
        kernel.encode(pass, uniforms, { x, pair, t: lowRank.ensure(M * rank * 4), y }, shape);
      };
      project(residual, 'qkv', qkv); // qkv [M, 3H]
      if (l.qkPostNorm) {
        layerNorm.encodeColumns(pass, uniforms, qkv, l.qkPostNorm.q, M, H, 3 * H, 0);
        layerNorm.encodeColumns(pass, uniforms, qkv, l.qkPostNorm.k, M, H, 3 * H, H);
      }
      if (dis && relRows) {
        // The layer's q/k/v of the relative rows this batch reaches: [count, 3H] at the table's start.
        matmul.encode(pass, uniforms, relRows.x, l.qkv, dis.table, relRows.count);
        const grouped = { kvHeads: numHeads, causal: false, scale: dis.scale };
        const disentangled = { ...dis, first: relRows.first };
        attention.encode(pass, uniforms, qkv, p.lengths, attnContext, { ...shape, disentangled }, undefined, grouped);
      } else {
        attention.encode(pass, uniforms, qkv, p.lengths, attnContext, shape, rope ? { rope } : undefined); // attnContext [M, H]
      }
      project(attnContext, 'attnOut', attnOut); // attnOut [M, H]
      // Post-norm: attnOut = LN(attnOut + residual), the feed-forward's input and its residual.
      layerNorm.encode(pass, uniforms, attnOut, residual, l.attnNorm, M, H);
      // qk-post-norm adds the layer's input once more: attnOut = LN(attnOut + residual).
      if (l.qkPostNorm) layerNorm.encode(pass, uniforms, attnOut, residual, l.qkPostNorm.preFfn, M, H);
      // The layer's input is spent, so the feed-forward output takes its buffer.
      if (!l.ffn && this.experts) {
        this.experts.encode(pass, uniforms, matmul, i, attnOut, residual, M); // residual [M, H]
      } else {
        // The rotary ones' ffnIn has 2I rows (gates over factors); the gated epilogue leaves I columns.
        project(attnOut, 'ffnIn', ffnHidden, this.ffnEpilogue); // ffnHidden [M, I]
        project(ffnHidden, 'ffnOut', residual); // residual [M, H]
      }
      layerNorm.encode(pass, uniforms, residual, attnOut, l.ffnNorm, M, H);
    }
    return residual;
  }

  /** The block of relative rows a batch of `seqLen` tokens reads, from a row the binding alignment allows. */
  private relativeBlock(dis: Disentangled, seqLen: number): { x: GPUBufferBinding; first: number; count: number } {
    const H = this.config.hiddenSize;
    const { first, count } = rowsForLength(dis.rows, dis.reach, seqLen);
    const start = first - (first % dis.align);
    const rows = first + count - start;
    return { x: { buffer: dis.rel, offset: start * H * 4, size: rows * H * 4 }, first: start, count: rows };
  }

  streamBuffers(): { stream: GPUBuffer; scratch: GPUBuffer } {
    // attnContext is [M, H] like the stream and is rewritten by every layer before it is read.
    const { residual, attnContext } = this.activations();
    return { stream: residual, scratch: attnContext };
  }
}

/** DeBERTa's tables (Disentangled) for a model with disentangled attention; null for every other. */
function disentangledTables(c: EncoderConfig, weights: BertWeights, up: WeightUploads): Disentangled | null {
  const spec = c.disentangled;
  if (!spec) return null;
  const H = c.hiddenSize;
  const reach = c.maxTokens - 1;
  const rows = relativeRows(spec, reach);
  const index = 2 * spec.span * 3 * H;
  const table = new Float32Array(index + rows.length);
  table.set(rows, index);
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  return {
    rel: up.buffer('rel_embeddings', relativeEmbeddings(weights, c)),
    table: up.buffer('rel_qkv', table),
    rows,
    index,
    reach,
    c2p: spec.c2p,
    p2c: spec.p2c,
    scale: disentangledScale(spec, c.headDim),
    align: 256 / gcd(256, H * 4),
  };
}
