import { Bindings, type KernelLayout, type ShaderInterface, UniformBlock } from '../kernel-spec.js';
import type { DispatchTarget } from '../profiler.js';
import { computePipeline, type UniformArena } from '../resources.js';
import { wgsl } from '../shader.js';

export interface GpuLayerNorm {
  gamma: GPUBuffer;
  beta: GPUBuffer;
}

const PARAMS = new UniformBlock('NormParams', { H: 'u32', eps: 'f32' });
const IN_PLACE = new Bindings('layernorm', { params: 'uniform', x: 'write', residual: 'read', gamma: 'read', beta: 'read' });
const TO = new Bindings('layernorm-to', { ...IN_PLACE.kinds, out: 'write' });

export const LAYERNORM_SHADER: ShaderInterface = { files: ['reduce', 'layernorm'], params: PARAMS, layouts: [IN_PLACE, TO] };

/**
 * Launcher for shaders/layernorm.wgsl: x = LayerNorm(x + residual) in place (`encode`), or
 * out = LayerNorm(x) with x kept (`encodeTo`).
 */
export class LayerNormKernel {
  private constructor(
    private readonly layouts: { inPlace: KernelLayout<typeof IN_PLACE.kinds>; to: KernelLayout<typeof TO.kinds> },
    private readonly pipelines: Record<'withResidual' | 'plain' | 'to', GPUComputePipeline>,
    private readonly eps: number,
  ) {}

  static async create(device: GPUDevice, eps: number): Promise<LayerNormKernel> {
    const layouts = { inPlace: IN_PLACE.layout(device), to: TO.layout(device) };
    const module = device.createShaderModule({ label: 'layernorm', code: await wgsl(...LAYERNORM_SHADER.files) });
    const make = (layout: GPUPipelineLayout, label: string, entryPoint: string, residual: boolean) =>
      computePipeline(device, { label, layout, compute: { module, entryPoint, constants: { HAS_RESIDUAL: residual ? 1 : 0 } } });
    const [withResidual, plain, normTo] = await Promise.all([
      make(layouts.inPlace.pipelineLayout, 'layernorm-residual', 'main', true),
      make(layouts.inPlace.pipelineLayout, 'layernorm', 'main', false),
      make(layouts.to.pipelineLayout, 'layernorm-to', 'norm_to', false),
    ]);
    return new LayerNormKernel(layouts, { withResidual, plain, to: normTo }, eps);
  }

  /**
   * Normalises rows of x[M, H] in place, adding `residual` first when given. Without one, gamma
   * is bound in its place (the shader never reads it) because every binding must be filled.
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
    const params = PARAMS.write(uniforms, { H, eps: this.eps });
    pass.setPipeline(residual ? this.pipelines.withResidual : this.pipelines.plain);
    pass.setBindGroup(0, this.layouts.inPlace.group({ params, x, residual: residual ?? norm.gamma, ...norm }));
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
    const params = PARAMS.write(uniforms, { H, eps: this.eps });
    pass.setPipeline(this.pipelines.to);
    // norm_to never reads Residual: gamma fills it.
    pass.setBindGroup(0, this.layouts.to.group({ params, x, residual: norm.gamma, ...norm, out }));
    pass.dispatchWorkgroups(M);
  }
}
