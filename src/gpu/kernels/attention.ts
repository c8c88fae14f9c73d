import type { SharedReads } from '../device.js';
import type { DispatchTarget } from '../profiler.js';
import { bindGroup, bindGroupLayout, computePipeline, type UniformArena } from '../resources.js';
import { wgsl } from '../shader.js';

const QUERIES_PER_WORKGROUP = 64;
export const MAX_HEAD_DIM = 128;
/** attention.wgsl's GLOBAL: no window. */
const GLOBAL = 0xffffffff;

/** ModernBERT's per-layer attention: a RoPE table (see src/model/rope.ts) and an optional window. */
export interface RotaryAttention {
  rope: GPUBuffer;
  /** Keys within this many positions each side (local layers); undefined for global layers. */
  windowHalf?: number;
}

/** Launcher for shaders/attention.wgsl. */
export class AttentionKernel {
  private constructor(
    private readonly device: GPUDevice,
    private readonly layout: GPUBindGroupLayout,
    private readonly pipeline: GPUComputePipeline,
    private readonly headDim: number,
    private readonly rotary: boolean,
  ) {}

  /**
   * The head size is a pipeline constant, so one kernel serves one model shape; `rotary`
   * compiles the RoPE variant (ModernBERT), whose every call must pass a table. `reads`: see
   * SharedReads; on lavapipe (12 x 384, 8 x 128 tokens, q8) `subgroup` takes attention from
   * 412 to 136 ms per forward.
   */
  static async create(
    device: GPUDevice,
    headDim: number,
    rotary = false,
    reads: SharedReads = 'direct',
  ): Promise<AttentionKernel> {
    if (headDim > MAX_HEAD_DIM) throw new RangeError(`head size ${headDim} exceeds ${MAX_HEAD_DIM}`);
    const layout = bindGroupLayout(device, 'attention', ['uniform', 'read', 'read', 'read', 'write']);
    const pipeline = await computePipeline(device, {
      label: `attention-d${headDim}${rotary ? '-rope' : ''}`,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: {
        module: device.createShaderModule({
          label: 'attention',
          code: await wgsl('attention', reads === 'subgroup' ? 'attention_rows_subgroup' : 'attention_rows'),
        }),
        constants: { ROPE: rotary ? 1 : 0, HEAD_DIM: headDim },
      },
    });
    return new AttentionKernel(device, layout, pipeline, headDim, rotary);
  }

  /** ctx[rows * S, H] from the fused qkv[rows * S, 3H], masking keys at or past each row's length. */
  encode(
    pass: DispatchTarget,
    uniforms: UniformArena,
    qkv: GPUBuffer,
    lengths: GPUBufferBinding,
    ctx: GPUBuffer,
    shape: { rows: number; seqLen: number; heads: number },
    rotary?: RotaryAttention,
  ): void {
    if (this.rotary !== (rotary !== undefined)) {
      throw new Error(`this attention kernel was compiled ${this.rotary ? 'with' : 'without'} RoPE`);
    }
    const H = shape.heads * this.headDim;
    const window = rotary?.windowHalf ?? GLOBAL;
    const params = uniforms.push([shape.seqLen, H, this.headDim, 1 / Math.sqrt(this.headDim), window], [3]);
    pass.setPipeline(this.pipeline);
    // Without RoPE the shader never reads binding 3, but every binding must be filled.
    const rope = rotary?.rope ?? lengths;
    pass.setBindGroup(0, bindGroup(this.device, this.layout, [params, qkv, lengths, rope, ctx]));
    pass.dispatchWorkgroups(Math.ceil(shape.seqLen / QUERIES_PER_WORKGROUP), shape.heads, shape.rows);
  }
}
