import type { DispatchTarget } from '../profiler.js';
import { bindGroup, bindGroupLayout, computePipeline, type UniformArena } from '../resources.js';
import { wgsl } from '../shader.js';

export interface GpuLayerNorm {
  gamma: GPUBuffer;
  beta: GPUBuffer;
}

/**
 * Launcher for shaders/layernorm.wgsl: x = LayerNorm(x + residual) in place (`encode`), or
 * out = LayerNorm(x) with x kept (`encodeTo`).
 */
export class LayerNormKernel {
  private constructor(
    private readonly device: GPUDevice,
    private readonly layouts: Record<'inPlace' | 'to', GPUBindGroupLayout>,
    private readonly pipelines: Record<'withResidual' | 'plain' | 'to', GPUComputePipeline>,
    private readonly eps: number,
  ) {}

  static async create(device: GPUDevice, eps: number): Promise<LayerNormKernel> {
    const inPlace = bindGroupLayout(device, 'layernorm', ['uniform', 'write', 'read', 'read', 'read']);
    const to = bindGroupLayout(device, 'layernorm-to', ['uniform', 'write', 'read', 'read', 'read', 'write']);
    const module = device.createShaderModule({ label: 'layernorm', code: await wgsl('reduce', 'layernorm') });
    const make = (layout: GPUBindGroupLayout, label: string, entryPoint: string, residual: boolean) =>
      computePipeline(device, {
        label,
        layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint, constants: { HAS_RESIDUAL: residual ? 1 : 0 } },
      });
    const [withResidual, plain, normTo] = await Promise.all([
      make(inPlace, 'layernorm-residual', 'main', true),
      make(inPlace, 'layernorm', 'main', false),
      make(to, 'layernorm-to', 'norm_to', false),
    ]);
    return new LayerNormKernel(device, { inPlace, to }, { withResidual, plain, to: normTo }, eps);
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
    pass.setPipeline(residual ? this.pipelines.withResidual : this.pipelines.plain);
    pass.setBindGroup(
      0,
      bindGroup(this.device, this.layouts.inPlace, [params, x, residual ?? norm.gamma, norm.gamma, norm.beta]),
    );
    pass.dispatchWorkgroups(M);
  }

  /** out[M, H] = LayerNorm(x[M, H]); x (a buffer or a part of one) is only read. */
  encodeTo(
    pass: DispatchTarget,
    uniforms: UniformArena,
    x: GPUBuffer | GPUBufferBinding,
    out: GPUBuffer,
    norm: GpuLayerNorm,
    M: number,
    H: number,
  ): void {
    const params = uniforms.push([H, this.eps], [1]);
    pass.setPipeline(this.pipelines.to);
    pass.setBindGroup(0, bindGroup(this.device, this.layouts.to, [params, x, norm.gamma, norm.gamma, norm.beta, out]));
    pass.dispatchWorkgroups(M);
  }
}
