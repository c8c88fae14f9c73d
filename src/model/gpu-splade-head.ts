import { type GpuContext, sharedReads } from '../gpu/device.js';
import { type GpuLayerNorm, LayerNormKernel } from '../gpu/kernels/layernorm.js';
import { destroyLinear, type Epilogue, type GpuLinear, MatmulKernel, uploadLinear } from '../gpu/kernels/matmul.js';
import { SpladeKernel } from '../gpu/kernels/splade.js';
import type { DispatchTarget } from '../gpu/profiler.js';
import { type Elem, GrowableBuffer, type UniformArena, uploadBuffer } from '../gpu/resources.js';
import type { SpladeSpec } from '../weights/encoder-config.js';
import { decoderOf, type SpladeParts } from './splade.js';

/** Logits of one chunk of token rows: the decoder writes [rows, vocabulary] f32 at a time. */
const LOGIT_BYTES = 32 * 2 ** 20;
/** Token rows a chunk starts at multiples of: a row offset of 64 x H x 4 bytes is a binding's 256-byte alignment. */
const ROW_STEP = 64;

const EPILOGUES: Record<SpladeSpec['headActivation'], Epilogue> = { gelu: 'gelu', gelu_tanh: 'gelu_tanh', relu: 'relu' };

/**
 * A SPLADE model's masked-LM head and SpladePooling on the GPU, after the forward and before the
 * readback: the dense layer and its activation, the LayerNorm, then the decoder (the word table,
 * tied, or its own) over chunks of token rows, each chunk's logits pooled into its texts' rows at
 * once (shaders/splade.wgsl), so a text comes back as one vector over the vocabulary and the
 * [tokens, vocabulary] logits never leave the GPU nor exist whole.
 */
export class GpuSpladeHead {
  private readonly transformed: GrowableBuffer;
  private readonly logits: GrowableBuffer;
  private maxM = 0;

  private constructor(
    private readonly matmul: MatmulKernel,
    private readonly norm: LayerNormKernel,
    private readonly pool: SpladeKernel,
    private readonly transform: GpuLinear,
    private readonly layerNorm: GpuLayerNorm,
    private readonly decoder: GpuLinear,
    private readonly spec: SpladeSpec,
    /** Token rows per decoder chunk. */
    private readonly chunk: number,
    device: GPUDevice,
  ) {
    this.transformed = new GrowableBuffer(device, 'splade-transformed');
    this.logits = new GrowableBuffer(device, 'splade-logits');
  }

  /**
   * The head over states of element type `input`, or null where the decoder is larger than one
   * storage binding may be (a 250k vocabulary x 768 in q8 is 192 MB): the CPU runs it then.
   */
  static async create(
    gpu: GpuContext,
    { head, spec, table, eps }: SpladeParts,
    o: { input: Elem; chunkBytes?: number },
  ): Promise<GpuSpladeHead | null> {
    const { input } = o;
    const decoder = decoderOf(head, table);
    const { limits } = gpu.device;
    const binding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
    if (decoder.data.byteLength > binding) return null;
    const bytes = Math.min(o.chunkBytes ?? LOGIT_BYTES, binding);
    const chunk = Math.max(ROW_STEP, Math.floor(bytes / (decoder.rows * 4) / ROW_STEP) * ROW_STEP);
    const { device } = gpu;
    const [matmul, norm, pool] = await Promise.all([
      MatmulKernel.create(device, [head.transform.quant, decoder.quant], sharedReads(gpu), [...new Set<Elem>([input, 'f32'])]),
      LayerNormKernel.create(device, eps, ['f32']),
      SpladeKernel.create(device),
    ]);
    const layerNorm = {
      gamma: uploadBuffer(device, 'splade.norm.gamma', head.norm.gamma),
      beta: uploadBuffer(device, 'splade.norm.beta', head.norm.beta),
    };
    return new GpuSpladeHead(
      matmul,
      norm,
      pool,
      uploadLinear(device, 'splade.transform', head.transform),
      layerNorm,
      uploadLinear(device, 'splade.decoder', decoder),
      spec,
      chunk,
      device,
    );
  }

  /** Entries of the vocabulary: the width of a text's output row. */
  get vocab(): number {
    return this.decoder.rows;
  }

  /** Dispatches a batch of M token rows takes: the dense layer, the norm, and two per chunk. */
  dispatches(M: number): number {
    return 2 + 2 * Math.ceil(M / this.chunk);
  }

  /** Starts compiling the tilings batches of these token counts want. */
  prepare(tokenCounts: readonly number[]): Promise<void> {
    return this.matmul.prepare([...tokenCounts, ...tokenCounts.map((n) => Math.min(n, this.chunk))]);
  }

  /** Sizes the buffers for batches of up to `maxM` token rows, before encoding. */
  reserve(maxM: number): void {
    this.maxM = maxM;
    this.transformed.ensure(maxM * this.transform.rows * 4);
    this.logits.ensure(Math.min(maxM, this.chunk) * this.decoder.rows * 4);
  }

  /**
   * Pools the batch's M token rows of `hidden` (texts of `seqLen` padded rows, `lengths` real
   * ones each) into `out`, one row of the vocabulary's weights per text, which must start zeroed.
   */
  encode(
    pass: DispatchTarget,
    uniforms: UniformArena,
    hidden: GPUBuffer,
    M: number,
    batch: { seqLen: number; lengths: GPUBufferBinding },
    out: GPUBufferBinding,
  ): void {
    if (M > this.maxM) throw new Error('GpuSpladeHead: encode past reserve');
    const H = this.transform.rows;
    const t = this.transformed.ensure(0);
    const logits = this.logits.ensure(0);
    this.matmul.encode(pass, uniforms, hidden, this.transform, t, M, EPILOGUES[this.spec.headActivation]);
    this.norm.encode(pass, uniforms, t, null, this.layerNorm, M, H);
    for (let row0 = 0; row0 < M; row0 += this.chunk) {
      const rows = Math.min(this.chunk, M - row0);
      this.matmul.encode(pass, uniforms, { buffer: t, offset: row0 * H * 4, size: rows * H * 4 }, this.decoder, logits, rows);
      this.pool.encode(pass, uniforms, logits, batch.lengths, out, {
        seqLen: batch.seqLen,
        vocab: this.decoder.rows,
        row0,
        rows,
        spec: this.spec,
      });
    }
  }

  destroy(): void {
    destroyLinear(this.transform);
    destroyLinear(this.decoder);
    this.layerNorm.gamma.destroy();
    this.layerNorm.beta.destroy();
    this.transformed.destroy();
    this.logits.destroy();
  }
}
