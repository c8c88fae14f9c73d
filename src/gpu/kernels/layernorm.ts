import type { DispatchTarget } from '../profiler.js';
import { bindGroup, bindGroupLayout, computePipeline, type UniformArena } from '../resources.js';
import { wgsl } from '../shader.js';

export interface GpuLayerNorm {
  gamma: GPUBuffer;
  beta: GPUBuffer;
}

/** Launcher for shaders/layernorm.wgsl: x = LayerNorm(x + residual) in place. */
export class LayerNormKernel {
  private constructor(
    private readonly device: GPUDevice,
    private readonly layout: GPUBindGroupLayout,
    private readonly withResidual: GPUComputePipeline,
    private readonly plain: GPUComputePipeline,
    private readonly eps: number,
  ) {}

  static async create(device: GPUDevice, eps: number): Promise<LayerNormKernel> {
    const layout = bindGroupLayout(device, 'layernorm', ['uniform', 'write', 'read', 'read', 'read']);
    const module = device.createShaderModule({ label: 'layernorm', code: await wgsl('reduce', 'layernorm') });
    const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout] });
    const make = (residual: boolean) =>
      computePipeline(device, {
        label: `layernorm${residual ? '-residual' : ''}`,
        layout: pipelineLayout,
        compute: { module, constants: { HAS_RESIDUAL: residual ? 1 : 0 } },
      });
    const [withResidual, plain] = await Promise.all([make(true), make(false)]);
    return new LayerNormKernel(device, layout, withResidual, plain, eps);
  }

  /**
   * Normalises rows of x[M, H] in place, adding `residual` first when given. Without one, x is
   * bound in its place too (the shader never reads it) because every binding must be filled.
   */
  encode(
    pass: DispatchTarget,
    uniforms: UniformArena,
    x: GPUBuffer,
    residual: GPUBuffer | null,
    norm: GpuLayerNorm,
    M: number,
    H: number,
  ): void {
    const params = uniforms.push([H, this.eps], [1]);
    pass.setPipeline(residual ? this.withResidual : this.plain);
    pass.setBindGroup(0, bindGroup(this.device, this.layout, [params, x, residual ?? norm.gamma, norm.gamma, norm.beta]));
    pass.dispatchWorkgroups(M);
  }
}
