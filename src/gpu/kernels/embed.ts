import { Bindings, type KernelLayout, type ShaderInterface, UniformBlock } from '../kernel-spec.js';
import type { DispatchTarget } from '../profiler.js';
import { computePipeline, type Elem, elemOf, type UniformArena } from '../resources.js';
import { elemWgsl } from '../shader.js';

const WORKGROUP = 64;
const MAX_GROUPS_X = 65535;

const PARAMS = new UniformBlock('EmbedParams', { M: 'u32', H: 'u32' });
const BINDINGS = new Bindings('embed', {
  params: 'uniform',
  wordRows: 'read',
  positions: 'read',
  positionTable: 'read',
  tokenType: 'read',
  x: 'write',
});

export const EMBED_SHADER: ShaderInterface = { files: ['embed'], params: PARAMS, layouts: [BINDINGS] };

/**
 * Launcher for shaders/embed.wgsl: word rows + position rows + token-type row 0, into an x of
 * f32 or f16 (elemOf).
 */
export class EmbedKernel {
  private constructor(
    private readonly layout: KernelLayout<typeof BINDINGS.kinds>,
    private readonly pipelines: ReadonlyMap<Elem, GPUComputePipeline>,
  ) {}

  /** `elems`: the element types of the x it will be given. */
  static async create(device: GPUDevice, elems: readonly Elem[] = ['f32']): Promise<EmbedKernel> {
    const layout = BINDINGS.layout(device);
    const compile = async (y: Elem): Promise<[Elem, GPUComputePipeline]> => {
      const code = await elemWgsl({ x: 'f32', y }, ...EMBED_SHADER.files);
      const pipeline = await computePipeline(device, {
        label: `embed-${y}`,
        layout: layout.pipelineLayout,
        compute: { module: device.createShaderModule({ label: `embed-${y}`, code }) },
      });
      return [y, pipeline];
    };
    return new EmbedKernel(layout, new Map(await Promise.all([...new Set(elems)].map(compile))));
  }

  encode(
    pass: DispatchTarget,
    uniforms: UniformArena,
    inputs: { wordRows: GPUBufferBinding; positions: GPUBufferBinding; positionTable: GPUBuffer; tokenType: GPUBuffer },
    x: GPUBuffer,
    M: number,
    H: number,
  ): void {
    const params = PARAMS.write(uniforms, { M, H });
    const groups = Math.ceil((M * H) / WORKGROUP);
    const pipeline = this.pipelines.get(elemOf(x));
    if (!pipeline) throw new Error(`no embed pipeline for ${elemOf(x)} activations`);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, this.layout.group({ params, ...inputs, x }));
    pass.dispatchWorkgroups(Math.min(groups, MAX_GROUPS_X), Math.ceil(groups / MAX_GROUPS_X));
  }
}
