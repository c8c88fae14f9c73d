import type { DispatchTarget } from '../profiler.js';
import { bindGroup, bindGroupLayout, computePipeline, type UniformArena } from '../resources.js';
import { wgsl } from '../shader.js';

const QUERIES_PER_WORKGROUP = 64;
/** Floats of K (and of V) one key tile may hold; must match TILE_FLOATS in attention.wgsl. */
const TILE_FLOATS = 2048;
export const MAX_HEAD_DIM = 128;

/** Launcher for shaders/attention.wgsl. */
export class AttentionKernel {
  private constructor(
    private readonly device: GPUDevice,
    private readonly layout: GPUBindGroupLayout,
    private readonly pipeline: GPUComputePipeline,
    private readonly headDim: number,
  ) {}

  /** The key-tile length is specialised per head size, so one kernel serves one model shape. */
  static async create(device: GPUDevice, headDim: number): Promise<AttentionKernel> {
    if (headDim > MAX_HEAD_DIM) throw new RangeError(`head size ${headDim} exceeds ${MAX_HEAD_DIM}`);
    const layout = bindGroupLayout(device, 'attention', ['uniform', 'read', 'read', 'write']);
    const pipeline = await computePipeline(device, {
      label: `attention-d${headDim}`,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: {
        module: device.createShaderModule({ label: 'attention', code: await wgsl('attention') }),
        constants: { KEY_TILE: Math.min(64, Math.floor(TILE_FLOATS / headDim)) },
      },
    });
    return new AttentionKernel(device, layout, pipeline, headDim);
  }

  /** ctx[rows * S, H] from the fused qkv[rows * S, 3H], masking keys at or past each row's length. */
  encode(
    pass: DispatchTarget,
    uniforms: UniformArena,
    qkv: GPUBuffer,
    lengths: GPUBufferBinding,
    ctx: GPUBuffer,
    shape: { rows: number; seqLen: number; heads: number },
  ): void {
    const H = shape.heads * this.headDim;
    const params = uniforms.push([shape.seqLen, H, this.headDim, 1 / Math.sqrt(this.headDim)], [3]);
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup(this.device, this.layout, [params, qkv, lengths, ctx]));
    pass.dispatchWorkgroups(Math.ceil(shape.seqLen / QUERIES_PER_WORKGROUP), shape.heads, shape.rows);
  }
}
