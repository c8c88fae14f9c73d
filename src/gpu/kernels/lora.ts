import { Bindings, type KernelLayout, type ShaderInterface, UniformBlock } from '../kernel-spec.js';
import type { DispatchTarget } from '../profiler.js';
import { computePipeline, type Elem, elemOf, type UniformArena } from '../resources.js';
import { type ElemIO, elemPairs, elemWgsl, ioKey } from '../shader.js';

/** A projection's task adapters on the GPU: A [tasks, rank, cols] and B [tasks, rows, rank], f32. */
export interface GpuLoraPair {
  down: GPUBuffer;
  up: GPUBuffer;
}

const PARAMS = new UniformBlock('LoraParams', {
  M: 'u32',
  cols: 'u32',
  rows: 'u32',
  rank: 'u32',
  downAt: 'u32',
  upAt: 'u32',
  gelu: 'u32',
});
const BINDINGS = new Bindings('lora', { params: 'uniform', x: 'read', down: 'read', t: 'write', up: 'read', y: 'write' });

export const LORA_SHADER: ShaderInterface = { files: ['common', 'reduce', 'lora'], params: PARAMS, layouts: [BINDINGS] };

const WORKGROUP = 64;

/**
 * Launcher for shaders/lora.wgsl: adds a task adapter's B (A x) to a projection's output y,
 * through t ([M, rank] f32 scratch), and then GELU where the projection's own epilogue was left
 * out for it. Both passes share one bind group: x and y are always different buffers.
 */
export class LoraKernel {
  private constructor(
    private readonly layout: KernelLayout<typeof BINDINGS.kinds>,
    /** By `${entry} ${ioKey}`. */
    private readonly pipelines: ReadonlyMap<string, GPUComputePipeline>,
  ) {}

  /** `elems`: the activation element types in use. */
  static async create(device: GPUDevice, elems: readonly Elem[] = ['f32']): Promise<LoraKernel> {
    const layout = BINDINGS.layout(device);
    const forIO = async (io: ElemIO): Promise<[string, GPUComputePipeline][]> => {
      const module = device.createShaderModule({ label: `lora-${ioKey(io)}`, code: await elemWgsl(io, ...LORA_SHADER.files) });
      return Promise.all(
        ['down', 'up'].map(async (entryPoint): Promise<[string, GPUComputePipeline]> => {
          const key = `${entryPoint} ${ioKey(io)}`;
          const pipeline = await computePipeline(device, {
            label: `lora-${key}`,
            layout: layout.pipelineLayout,
            compute: { module, entryPoint },
          });
          return [key, pipeline];
        }),
      );
    };
    const pipelines = await Promise.all(elemPairs(elems).map(forIO));
    return new LoraKernel(layout, new Map(pipelines.flat()));
  }

  private pipeline(entry: 'down' | 'up', io: ElemIO): GPUComputePipeline {
    const key = `${entry} ${ioKey(io)}`;
    const pipeline = this.pipelines.get(key);
    if (!pipeline) throw new Error(`no lora pipeline for ${key} activations`);
    return pipeline;
  }

  /** y[M, rows] += B[task] (A[task] x[M, cols]), then GELU when `gelu`. One uniform slot. */
  encode(
    pass: DispatchTarget,
    uniforms: UniformArena,
    buffers: { x: GPUBuffer; pair: GpuLoraPair; t: GPUBuffer; y: GPUBuffer },
    shape: { M: number; rows: number; cols: number; rank: number; task: number; gelu: boolean },
  ): void {
    const { M, rows, cols, rank, task } = shape;
    const params = PARAMS.write(uniforms, {
      M,
      cols,
      rows,
      rank,
      downAt: task * rank * cols,
      upAt: task * rows * rank,
      gelu: shape.gelu ? 1 : 0,
    });
    const { x, pair, t, y } = buffers;
    const io = { x: elemOf(x), y: elemOf(y) };
    const group = this.layout.group({ params, x, down: pair.down, t, up: pair.up, y });
    pass.setPipeline(this.pipeline('down', io));
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(M);
    pass.setPipeline(this.pipeline('up', io));
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(Math.ceil(rows / WORKGROUP), M);
  }
}
