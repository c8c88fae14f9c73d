import { Bindings, type KernelLayout, type ShaderInterface, UniformBlock } from '../kernel-spec.js';
import type { DispatchTarget } from '../profiler.js';
import { computePipeline, type Elem, elemOf, type UniformArena } from '../resources.js';
import { type ElemIO, elemPairs, elemWgsl, ioKey } from '../shader.js';

export interface GpuLayerNorm {
  gamma: GPUBuffer;
  beta: GPUBuffer;
}

const PARAMS = new UniformBlock('NormParams', { H: 'u32', eps: 'f32', stride: 'u32', offset: 'u32' });
const IN_PLACE = new Bindings('layernorm', { params: 'uniform', x: 'write', residual: 'read', gamma: 'read', beta: 'read' });
const TO = new Bindings('layernorm-to', { ...IN_PLACE.kinds, out: 'write' });

export const LAYERNORM_SHADER: ShaderInterface = { files: ['reduce', 'layernorm'], params: PARAMS, layouts: [IN_PLACE, TO] };

type Form = 'withResidual' | 'plain' | 'to';

/**
 * Launcher for shaders/layernorm.wgsl: x = LayerNorm(x + residual) in place (`encode`), or
 * out = LayerNorm(x) with x kept (`encodeTo`). x, residual and out may hold f32 or f16 (elemOf;
 * residual the type of x).
 */
export class LayerNormKernel {
  private constructor(
    private readonly layouts: { inPlace: KernelLayout<typeof IN_PLACE.kinds>; to: KernelLayout<typeof TO.kinds> },
    /** By `${form} ${ioKey}`; the in-place forms with y = x. */
    private readonly pipelines: ReadonlyMap<string, GPUComputePipeline>,
    private readonly eps: number,
  ) {}

  /** `elems`: the activation element types in use. */
  static async create(device: GPUDevice, eps: number, elems: readonly Elem[] = ['f32']): Promise<LayerNormKernel> {
    const layouts = { inPlace: IN_PLACE.layout(device), to: TO.layout(device) };
    const forIO = async (io: ElemIO): Promise<[string, GPUComputePipeline][]> => {
      const module = device.createShaderModule({
        label: `layernorm-${ioKey(io)}`,
        code: await elemWgsl(io, ...LAYERNORM_SHADER.files),
      });
      const make = async (form: Form): Promise<[string, GPUComputePipeline]> => {
        const key = `${form} ${ioKey(io)}`;
        const pipeline = await computePipeline(device, {
          label: `layernorm-${key}`,
          layout: (form === 'to' ? layouts.to : layouts.inPlace).pipelineLayout,
          compute: {
            module,
            entryPoint: form === 'to' ? 'norm_to' : 'main',
            constants: { HAS_RESIDUAL: form === 'withResidual' ? 1 : 0 },
          },
        });
        return [key, pipeline];
      };
      const forms: Form[] = io.x === io.y ? ['withResidual', 'plain', 'to'] : ['to'];
      return Promise.all(forms.map(make));
    };
    const pipelines = await Promise.all(elemPairs(elems).map(forIO));
    return new LayerNormKernel(layouts, new Map(pipelines.flat()), eps);
  }

  private pipeline(form: Form, io: ElemIO): GPUComputePipeline {
    const key = `${form} ${ioKey(io)}`;
    const pipeline = this.pipelines.get(key);
    if (!pipeline) throw new Error(`no layernorm pipeline for ${key} activations`);
    return pipeline;
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
    this.inPlace(pass, uniforms, x, residual, norm, M, { H, stride: H, offset: 0 });
  }

  /** Normalises columns [offset, offset + H) of each of the M rows of x (`stride` values a row) in place. */
  encodeColumns(
    pass: DispatchTarget,
    uniforms: UniformArena,
    x: GPUBuffer,
    norm: GpuLayerNorm,
    M: number,
    H: number,
    stride: number,
    offset: number,
  ): void {
    this.inPlace(pass, uniforms, x, null, norm, M, { H, stride, offset });
  }

  /** M rows of H values at row * stride + offset, normalised in place (with the residual added first where given). */
  private inPlace(
    pass: DispatchTarget,
    uniforms: UniformArena,
    x: GPUBuffer,
    residual: GPUBuffer | null,
    norm: GpuLayerNorm,
    M: number,
    rows: { H: number; stride: number; offset: number },
  ): void {
    const params = PARAMS.write(uniforms, { ...rows, eps: this.eps });
    const e = elemOf(x);
    if (residual && elemOf(residual) !== e) throw new Error('layernorm: residual and x must hold the same type');
    pass.setPipeline(this.pipeline(residual ? 'withResidual' : 'plain', { x: e, y: e }));
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
    const params = PARAMS.write(uniforms, { H, eps: this.eps, stride: H, offset: 0 });
    pass.setPipeline(this.pipeline('to', { x: elemOf(x), y: elemOf(out) }));
    // norm_to never reads Residual: gamma fills it.
    pass.setBindGroup(0, this.layouts.to.group({ params, x, residual: norm.gamma, ...norm, out }));
    pass.dispatchWorkgroups(M);
  }
}
