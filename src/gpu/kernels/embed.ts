import { Bindings, type KernelLayout, type ShaderInterface, UniformBlock } from '../kernel-spec.js';
import type { DispatchTarget } from '../profiler.js';
import { computePipeline, type UniformArena } from '../resources.js';
import { wgsl } from '../shader.js';

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

/** Launcher for shaders/embed.wgsl: word rows + position rows + token-type row 0. */
export class EmbedKernel {
  private constructor(
    private readonly layout: KernelLayout<typeof BINDINGS.kinds>,
    private readonly pipeline: GPUComputePipeline,
  ) {}

  static async create(device: GPUDevice): Promise<EmbedKernel> {
    const layout = BINDINGS.layout(device);
    const pipeline = await computePipeline(device, {
      label: 'embed',
      layout: layout.pipelineLayout,
      compute: { module: device.createShaderModule({ label: 'embed', code: await wgsl(...EMBED_SHADER.files) }) },
    });
    return new EmbedKernel(layout, pipeline);
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
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.layout.group({ params, ...inputs, x }));
    pass.dispatchWorkgroups(Math.min(groups, MAX_GROUPS_X), Math.ceil(groups / MAX_GROUPS_X));
  }
}
