import type { Pooling } from '../../weights/config.js';
import type { DispatchTarget } from '../profiler.js';
import { bindGroup, bindGroupLayout, computePipeline, type UniformArena } from '../resources.js';
import { wgsl } from '../shader.js';

/** Launcher for shaders/pool.wgsl: pool, truncate to `dims`, optionally L2-normalise. */
export class PoolKernel {
  private constructor(
    private readonly device: GPUDevice,
    private readonly layout: GPUBindGroupLayout,
    private readonly pipeline: GPUComputePipeline,
  ) {}

  static async create(device: GPUDevice): Promise<PoolKernel> {
    const layout = bindGroupLayout(device, 'pool', ['uniform', 'read', 'read', 'write']);
    const pipeline = await computePipeline(device, {
      label: 'pool',
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: device.createShaderModule({ label: 'pool', code: await wgsl('reduce', 'pool') }) },
    });
    return new PoolKernel(device, layout, pipeline);
  }

  /** Writes rows out[outRow0 .. outRow0 + rows) of the [texts, dims] output. */
  encode(
    pass: DispatchTarget,
    uniforms: UniformArena,
    hidden: GPUBuffer,
    lengths: GPUBufferBinding,
    out: GPUBuffer,
    o: { rows: number; seqLen: number; hidden: number; dims: number; outRow0: number; pooling: Pooling; normalize: boolean },
  ): void {
    const params = uniforms.push([o.seqLen, o.hidden, o.dims, o.outRow0, o.pooling === 'mean' ? 1 : 0, o.normalize ? 1 : 0]);
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup(this.device, this.layout, [params, hidden, lengths, out]));
    pass.dispatchWorkgroups(o.rows);
  }
}
