import { Bindings, type KernelLayout, type ShaderInterface, UniformBlock } from '../kernel-spec.js';
import type { DispatchTarget } from '../profiler.js';
import { computePipeline, type Elem, elemOf, type UniformArena, uploadBuffer } from '../resources.js';
import { type ElemIO, elemPairs, elemWgsl, ioKey } from '../shader.js';

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

/**
 * Launcher for shaders/rmsnorm.wgsl (its four forms are described there). x and out may hold f32
 * or f16 (elemOf).
 */
export class RmsNormKernel {
  private constructor(
    private readonly layouts: { inPlace: KernelLayout<typeof IN_PLACE.kinds>; to: KernelLayout<typeof TO.kinds> },
    /** By `${form} ${ioKey}`; `main` (in place) with y = x. */
    private readonly pipelines: ReadonlyMap<string, GPUComputePipeline>,
    private readonly eps: number,
    /** Fills scale_to's Gamma binding, which it never reads. */
    private readonly unread: GPUBuffer,
  ) {}

  /** `elems`: the activation element types in use. */
  static async create(device: GPUDevice, eps: number, elems: readonly Elem[] = ['f32']): Promise<RmsNormKernel> {
    const layouts = { inPlace: IN_PLACE.layout(device), to: TO.layout(device) };
    const forIO = async (io: ElemIO): Promise<[string, GPUComputePipeline][]> => {
      const module = device.createShaderModule({
        label: `rmsnorm-${ioKey(io)}`,
        code: await elemWgsl(io, ...RMSNORM_SHADER.files),
      });
      const make = async (entryPoint: Form): Promise<[string, GPUComputePipeline]> => {
        const key = `${entryPoint} ${ioKey(io)}`;
        const pipeline = await computePipeline(device, {
          label: `rmsnorm-${key}`,
          layout: (entryPoint === 'main' ? layouts.inPlace : layouts.to).pipelineLayout,
          compute: { module, entryPoint },
        });
        return [key, pipeline];
      };
      const forms: Form[] = ['norm_to', 'norm_add', 'scale_to', ...(io.x === io.y ? ['main' as const] : [])];
      return Promise.all(forms.map(make));
    };
    const pipelines = await Promise.all(elemPairs(elems).map(forIO));
    const unread = uploadBuffer(device, 'rmsnorm-unread', new Float32Array(4));
    return new RmsNormKernel(layouts, new Map(pipelines.flat()), eps, unread);
  }

  /** x = RMSNorm(x) * gamma over the runs, in place. */
  encode(pass: DispatchTarget, uniforms: UniformArena, x: GPUBuffer, gamma: GPUBuffer, runs: RmsRuns): void {
    const params = this.params(uniforms, runs, 1);
    pass.setPipeline(this.pipeline('main', { x: elemOf(x), y: elemOf(x) }));
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

  private pipeline(form: Form, io: ElemIO): GPUComputePipeline {
    const key = `${form} ${ioKey(io)}`;
    const pipeline = this.pipelines.get(key);
    if (!pipeline) throw new Error(`no rmsnorm pipeline for ${key} activations`);
    return pipeline;
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
    pass.setPipeline(this.pipeline(form, { x: elemOf(x), y: elemOf(out) }));
    pass.setBindGroup(0, this.layouts.to.group({ params, x, gamma, out }));
    pass.dispatchWorkgroups(rows);
  }
}
