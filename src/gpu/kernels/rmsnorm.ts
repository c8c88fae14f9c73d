import { Bindings, type KernelLayout, type ShaderInterface, UniformBlock } from '../kernel-spec.js';
import type { DispatchTarget } from '../profiler.js';
import { computePipeline, type UniformArena, uploadBuffer } from '../resources.js';
import { wgsl } from '../shader.js';

const PARAMS = new UniformBlock('RmsParams', { width: 'u32', row_stride: 'u32', offset: 'u32', eps: 'f32', scale: 'f32' });
const IN_PLACE = new Bindings('rmsnorm', { params: 'uniform', x: 'write', gamma: 'read' });
const TO = new Bindings('rmsnorm-to', { ...IN_PLACE.kinds, out: 'write' });

export const RMSNORM_SHADER: ShaderInterface = { files: ['reduce', 'rmsnorm'], params: PARAMS, layouts: [IN_PLACE, TO] };

/**
 * Which runs of a [rows, rowStride] buffer one call covers: `runs` runs of `width` values per row
 * starting at `offset` (default: one run, the whole row). Per-head q/k norms pass the head size
 * as width and the number of query (or key) heads as runs.
 */
export interface RmsRuns {
  rows: number;
  width: number;
  rowStride?: number;
  offset?: number;
  runs?: number;
}

type Form = 'main' | 'norm_to' | 'norm_add' | 'scale_to';

/** Launcher for shaders/rmsnorm.wgsl (its four forms are described there). */
export class RmsNormKernel {
  private constructor(
    private readonly layouts: { inPlace: KernelLayout<typeof IN_PLACE.kinds>; to: KernelLayout<typeof TO.kinds> },
    private readonly pipelines: Record<Form, GPUComputePipeline>,
    private readonly eps: number,
    /** Fills scale_to's Gamma binding, which it never reads. */
    private readonly unread: GPUBuffer,
  ) {}

  static async create(device: GPUDevice, eps: number): Promise<RmsNormKernel> {
    const layouts = { inPlace: IN_PLACE.layout(device), to: TO.layout(device) };
    const module = device.createShaderModule({ label: 'rmsnorm', code: await wgsl(...RMSNORM_SHADER.files) });
    const make = (entryPoint: Form) =>
      computePipeline(device, {
        label: `rmsnorm-${entryPoint}`,
        layout: (entryPoint === 'main' ? layouts.inPlace : layouts.to).pipelineLayout,
        compute: { module, entryPoint },
      });
    const [main, normTo, normAdd, scaleTo] = await Promise.all([
      make('main'),
      make('norm_to'),
      make('norm_add'),
      make('scale_to'),
    ]);
    const unread = uploadBuffer(device, 'rmsnorm-unread', new Float32Array(4));
    return new RmsNormKernel(layouts, { main, norm_to: normTo, norm_add: normAdd, scale_to: scaleTo }, eps, unread);
  }

  /** x = RMSNorm(x) * gamma over the runs, in place. */
  encode(pass: DispatchTarget, uniforms: UniformArena, x: GPUBuffer, gamma: GPUBuffer, runs: RmsRuns): void {
    const params = this.params(uniforms, runs, 1);
    pass.setPipeline(this.pipelines.main);
    pass.setBindGroup(0, this.layouts.inPlace.group({ params, x, gamma }));
    pass.dispatchWorkgroups(runs.rows, runs.runs ?? 1);
  }

  /** out = RMSNorm(x) * gamma (`add`: out += it) over rows of `width`; x is only read. */
  encodeTo(
    pass: DispatchTarget,
    uniforms: UniformArena,
    x: GPUBuffer,
    out: GPUBuffer,
    gamma: GPUBuffer,
    rows: number,
    width: number,
    add = false,
  ): void {
    this.dispatch(pass, add ? 'norm_add' : 'norm_to', this.params(uniforms, { rows, width }, 1), x, gamma, out, rows);
  }

  /** out[rows, width] = x * scale (x, a buffer or a part of one, is only read). */
  encodeScale(
    pass: DispatchTarget,
    uniforms: UniformArena,
    x: GPUBuffer | GPUBufferBinding,
    out: GPUBuffer,
    rows: number,
    width: number,
    scale: number,
  ): void {
    this.dispatch(pass, 'scale_to', this.params(uniforms, { rows, width }, scale), x, this.unread, out, rows);
  }

  destroy(): void {
    this.unread.destroy();
  }

  private params(uniforms: UniformArena, r: RmsRuns, scale: number): GPUBufferBinding {
    return PARAMS.write(uniforms, {
      width: r.width,
      row_stride: r.rowStride ?? r.width,
      offset: r.offset ?? 0,
      eps: this.eps,
      scale,
    });
  }

  private dispatch(
    pass: DispatchTarget,
    form: Form,
    params: GPUBufferBinding,
    x: GPUBuffer | GPUBufferBinding,
    gamma: GPUBuffer,
    out: GPUBuffer,
    rows: number,
  ): void {
    pass.setPipeline(this.pipelines[form]);
    pass.setBindGroup(0, this.layouts.to.group({ params, x, gamma, out }));
    pass.dispatchWorkgroups(rows);
  }
}
