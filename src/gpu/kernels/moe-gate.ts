import { UnsupportedError } from '../../errors.js';
import { Bindings, type KernelLayout, type ShaderInterface, UniformBlock } from '../kernel-spec.js';
import type { DispatchTarget } from '../profiler.js';
import { computePipeline, type Elem, elemOf, type UniformArena } from '../resources.js';
import { elemWgsl } from '../shader.js';

const PARAMS = new UniformBlock('MoeParams', { E: 'u32', I: 'u32', topK: 'u32' });
const BINDINGS = new Bindings('moe-gate', { params: 'uniform', logits: 'read', hidden: 'write' });

/** shaders/moe_gate.wgsl's workgroup: one invocation per expert while it weighs them. */
const MAX_EXPERTS = 64;

export const MOE_GATE_SHADER: ShaderInterface = {
  files: ['moe_gate'],
  params: PARAMS,
  layouts: [BINDINGS],
  constants: { MAX_EXPERTS },
};

/**
 * Launcher for shaders/moe_gate.wgsl: scales each token's experts' hidden values [M, E I] in
 * place by its route, read from the router's f32 logits [M, E] (model/moe.ts routeTokens ranks them alike).
 */
export class MoeGateKernel {
  private constructor(
    private readonly layout: KernelLayout<typeof BINDINGS.kinds>,
    /** By the hidden buffer's element type. */
    private readonly pipelines: ReadonlyMap<Elem, GPUComputePipeline>,
  ) {}

  /** `elems`: the element types the hidden buffer may have. */
  static async create(device: GPUDevice, experts: number, elems: readonly Elem[] = ['f32']): Promise<MoeGateKernel> {
    if (experts > MAX_EXPERTS) throw new UnsupportedError(`${experts} experts on WebGPU (at most ${MAX_EXPERTS})`);
    const layout = BINDINGS.layout(device);
    const pipelines = await Promise.all(
      [...new Set(elems)].map(async (y): Promise<[Elem, GPUComputePipeline]> => {
        const code = await elemWgsl({ x: 'f32', y }, ...MOE_GATE_SHADER.files);
        const module = device.createShaderModule({ label: `moe-gate-${y}`, code });
        return [y, await computePipeline(device, { label: `moe-gate-${y}`, layout: layout.pipelineLayout, compute: { module } })];
      }),
    );
    return new MoeGateKernel(layout, new Map(pipelines));
  }

  /** One uniform slot. */
  encode(
    pass: DispatchTarget,
    uniforms: UniformArena,
    buffers: { logits: GPUBuffer; hidden: GPUBuffer },
    shape: { M: number; experts: number; width: number; topK: number },
  ): void {
    const pipeline = this.pipelines.get(elemOf(buffers.hidden));
    if (!pipeline) throw new Error(`no moe-gate pipeline for ${elemOf(buffers.hidden)} activations`);
    const params = PARAMS.write(uniforms, { E: shape.experts, I: shape.width, topK: shape.topK });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, this.layout.group({ params, ...buffers }));
    pass.dispatchWorkgroups(shape.M);
  }
}
