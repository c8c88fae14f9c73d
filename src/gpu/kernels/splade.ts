import type { SpladeSpec } from '../../weights/encoder-config.js';
import { Bindings, type KernelLayout, type ShaderInterface, UniformBlock } from '../kernel-spec.js';
import type { DispatchTarget } from '../profiler.js';
import { computePipeline, type UniformArena } from '../resources.js';
import { wgsl } from '../shader.js';

const PARAMS = new UniformBlock('SpladeParams', {
  S: 'u32',
  V: 'u32',
  row0: 'u32',
  rows: 'u32',
  sum: 'u32',
  twice: 'u32',
});
const BINDINGS = new Bindings('splade', { params: 'uniform', logits: 'read', lengths: 'read', out: 'write' });

export const SPLADE_SHADER: ShaderInterface = { files: ['splade'], params: PARAMS, layouts: [BINDINGS] };

/** Launcher for shaders/splade.wgsl: SpladePooling of a chunk of token rows' logits into their texts' rows. */
export class SpladeKernel {
  private constructor(
    private readonly layout: KernelLayout<typeof BINDINGS.kinds>,
    private readonly pipeline: GPUComputePipeline,
  ) {}

  static async create(device: GPUDevice): Promise<SpladeKernel> {
    const layout = BINDINGS.layout(device);
    const pipeline = await computePipeline(device, {
      label: 'splade',
      layout: layout.pipelineLayout,
      compute: { module: device.createShaderModule({ label: 'splade', code: await wgsl(...SPLADE_SHADER.files) }) },
    });
    return new SpladeKernel(layout, pipeline);
  }

  /**
   * Pools `rows` token rows starting at batch row `row0` (their logits: logits[0 .. rows) x V)
   * into out's row of their text (a binding of the batch's rows); `lengths` holds each of the
   * batch's texts' real tokens.
   */
  encode(
    pass: DispatchTarget,
    uniforms: UniformArena,
    logits: GPUBuffer,
    lengths: GPUBufferBinding,
    out: GPUBufferBinding,
    o: { seqLen: number; vocab: number; row0: number; rows: number; spec: SpladeSpec },
  ): void {
    const params = PARAMS.write(uniforms, {
      S: o.seqLen,
      V: o.vocab,
      row0: o.row0,
      rows: o.rows,
      sum: o.spec.pooling === 'sum' ? 1 : 0,
      twice: o.spec.activation === 'log1p_relu' ? 1 : 0,
    });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.layout.group({ params, logits, lengths, out }));
    pass.dispatchWorkgroups(Math.ceil(o.vocab / 64));
  }
}
