import type { DispatchTarget } from '../profiler.js';
import { bindGroup, bindGroupLayout, computePipeline, type UniformArena } from '../resources.js';
import { wgsl } from '../shader.js';

const WORKGROUP = 64;
const MAX_GROUPS_X = 65535;

/** Launcher for shaders/embed.wgsl: word rows + position rows + token-type row 0. */
export class EmbedKernel {
  private constructor(
    private readonly device: GPUDevice,
    private readonly layout: GPUBindGroupLayout,
    private readonly pipeline: GPUComputePipeline,
  ) {}

  static async create(device: GPUDevice): Promise<EmbedKernel> {
    const layout = bindGroupLayout(device, 'embed', ['uniform', 'read', 'read', 'read', 'read', 'write']);
    const pipeline = await computePipeline(device, {
      label: 'embed',
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: device.createShaderModule({ label: 'embed', code: await wgsl('embed') }) },
    });
    return new EmbedKernel(device, layout, pipeline);
  }

  encode(
    pass: DispatchTarget,
    uniforms: UniformArena,
    inputs: { wordRows: GPUBufferBinding; positions: GPUBufferBinding; positionTable: GPUBuffer; tokenType: GPUBuffer },
    x: GPUBuffer,
    M: number,
    H: number,
  ): void {
    const params = uniforms.push([M, H]);
    const groups = Math.ceil((M * H) / WORKGROUP);
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(
      0,
      bindGroup(this.device, this.layout, [params, inputs.wordRows, inputs.positions, inputs.positionTable, inputs.tokenType, x]),
    );
    pass.dispatchWorkgroups(Math.min(groups, MAX_GROUPS_X), Math.ceil(groups / MAX_GROUPS_X));
  }
}
