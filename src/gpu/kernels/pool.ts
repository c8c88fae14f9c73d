import type { Pooling } from '../../weights/config.js';
import { Bindings, type KernelLayout, type ShaderInterface, UniformBlock } from '../kernel-spec.js';
import type { DispatchTarget } from '../profiler.js';
import { computePipeline, type Elem, elemOf, type UniformArena } from '../resources.js';
import { elemWgsl } from '../shader.js';

const PARAMS = new UniformBlock('PoolParams', {
  S: 'u32',
  H: 'u32',
  dims: 'u32',
  out_row0: 'u32',
  mode: 'u32',
  normalize: 'u32',
});
const BINDINGS = new Bindings('pool', { params: 'uniform', hidden: 'read', lengths: 'read', out: 'write' });

/** pool.wgsl's `mode` codes. */
const POOL_MODES: Record<Pooling, number> = { cls: 0, mean: 1, last: 2 };

export const POOL_SHADER: ShaderInterface = { files: ['reduce', 'pool'], params: PARAMS, layouts: [BINDINGS] };

/**
 * Launcher for shaders/pool.wgsl: pool hidden states of f32 or f16 (elemOf), truncate to `dims`,
 * optionally L2-normalise, into f32.
 */
export class PoolKernel {
  private constructor(
    private readonly layout: KernelLayout<typeof BINDINGS.kinds>,
    private readonly pipelines: ReadonlyMap<Elem, GPUComputePipeline>,
  ) {}

  /** `elems`: the element types of the hidden states it will be given. */
  static async create(device: GPUDevice, elems: readonly Elem[] = ['f32']): Promise<PoolKernel> {
    const layout = BINDINGS.layout(device);
    const compile = async (x: Elem): Promise<[Elem, GPUComputePipeline]> => {
      const code = await elemWgsl({ x, y: 'f32' }, ...POOL_SHADER.files);
      const pipeline = await computePipeline(device, {
        label: `pool-${x}`,
        layout: layout.pipelineLayout,
        compute: { module: device.createShaderModule({ label: `pool-${x}`, code }) },
      });
      return [x, pipeline];
    };
    return new PoolKernel(layout, new Map(await Promise.all([...new Set(elems)].map(compile))));
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
    const params = PARAMS.write(uniforms, {
      S: o.seqLen,
      H: o.hidden,
      dims: o.dims,
      out_row0: o.outRow0,
      mode: POOL_MODES[o.pooling],
      normalize: o.normalize ? 1 : 0,
    });
    const pipeline = this.pipelines.get(elemOf(hidden));
    if (!pipeline) throw new Error(`no pool pipeline for ${elemOf(hidden)} hidden states`);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, this.layout.group({ params, hidden, lengths, out }));
    pass.dispatchWorkgroups(o.rows);
  }
}
