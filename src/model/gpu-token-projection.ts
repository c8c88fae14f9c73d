import { type GpuContext, sharedReads } from '../gpu/device.js';
import { destroyLinear, type GpuLinear, MatmulKernel, uploadLinear } from '../gpu/kernels/matmul.js';
import type { DispatchTarget } from '../gpu/profiler.js';
import { type Elem, GrowableBuffer, type UniformArena } from '../gpu/resources.js';
import type { DenseModule } from '../weights/weights.js';

/**
 * A late-interaction model's projection of every token's state (weights.lateProjection) on the
 * GPU, after the forward and before the readback: the token vectors come back at the model's
 * dim instead of its hidden width (96 of 384 for answerai-colbert-small), and the CPU is left
 * with the normalisation and MaxSim. The chain's matmuls write f32 into two buffers in turn.
 */
export class GpuTokenProjection {
  private readonly buffers: [GrowableBuffer, GrowableBuffer];
  private maxM = 0;

  private constructor(
    private readonly matmul: MatmulKernel,
    private readonly linears: GpuLinear[],
    device: GPUDevice,
  ) {
    this.buffers = [new GrowableBuffer(device, 'token-projection-0'), new GrowableBuffer(device, 'token-projection-1')];
  }

  /**
   * The projection of states of element type `input`, or null where a module's activation is one
   * the matmul's epilogues lack (Tanh): the CPU projects those read-back states instead.
   */
  static async create(gpu: GpuContext, modules: readonly DenseModule[], input: Elem): Promise<GpuTokenProjection | null> {
    if (modules.length === 0 || modules.some((m) => m.activation !== 'identity')) return null;
    const matmul = await MatmulKernel.create(
      gpu.device,
      modules.map((m) => m.linear.quant),
      sharedReads(gpu),
      [...new Set<Elem>([input, 'f32'])],
    );
    const linears = modules.map((m, k) => uploadLinear(gpu.device, `late.${k}`, m.linear));
    return new GpuTokenProjection(matmul, linears, gpu.device);
  }

  /** Width of the token vectors. */
  get dim(): number {
    return (this.linears.at(-1) as GpuLinear).rows;
  }

  /** Dispatches one submission's projections take (one per module, each batch). */
  get dispatches(): number {
    return this.linears.length;
  }

  /** Starts compiling the tilings batches of these token counts want (as the graph's prepare). */
  prepare(tokenCounts: readonly number[]): Promise<void> {
    return this.matmul.prepare(tokenCounts);
  }

  /** Sizes the buffers for batches of up to `maxM` token rows: before encoding, so no buffer is replaced under an encoded command. */
  reserve(maxM: number): void {
    this.maxM = maxM;
    const widest = Math.max(...this.linears.map((l) => l.rows));
    for (const b of this.buffers) b.ensure(maxM * widest * 4);
  }

  /** y [M, dim] f32 = the chain over x [M, H]; returns the buffer y is in (valid until the next batch's encode). */
  encode(pass: DispatchTarget, uniforms: UniformArena, x: GPUBuffer, M: number): GPUBuffer {
    if (M > this.maxM) throw new Error('GpuTokenProjection: encode past reserve');
    let input = x;
    this.linears.forEach((linear, k) => {
      const y = (this.buffers[k % 2] as GrowableBuffer).ensure(0);
      this.matmul.encode(pass, uniforms, input, linear, y, M);
      input = y;
    });
    return input;
  }

  destroy(): void {
    for (const l of this.linears) destroyLinear(l);
    for (const b of this.buffers) b.destroy();
  }
}
