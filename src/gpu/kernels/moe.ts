import { UnsupportedError } from '../../errors.js';
import { Bindings, type KernelLayout, type ShaderInterface, UniformBlock } from '../kernel-spec.js';
import type { DispatchTarget } from '../profiler.js';
import { computePipeline, type Elem, elemOf, type UniformArena } from '../resources.js';
import { elemWgsl } from '../shader.js';

const PARAMS = new UniformBlock('MoeParams', {
  M: 'u32',
  H: 'u32',
  E: 'u32',
  topK: 'u32',
  cap: 'u32',
  upTiles: 'u32',
  upRows: 'u32',
  downTiles: 'u32',
  downRows: 'u32',
});
const BINDINGS = new Bindings('moe', {
  params: 'uniform',
  logits: 'read',
  route: 'write',
  weights: 'write',
  args: 'write',
  x: 'read',
  gathered: 'write',
  out: 'write',
  bias: 'read',
});

/** shaders/moe.wgsl counts each expert's tokens in workgroup memory of this many experts. */
const MAX_EXPERTS = 64;
const ROUTE_THREADS = 256;

export const MOE_SHADER: ShaderInterface = {
  files: ['moe'],
  params: PARAMS,
  layouts: [BINDINGS],
  constants: { MAX_EXPERTS, ROUTE_THREADS },
};

/** Rows of an expert's block: a multiple of 64, so every block of an f16 or f32 buffer starts on a 256-byte binding offset. */
export const expertCapacity = (M: number): number => Math.ceil(M / 64) * 64;

/** The 6 u32 of indirect dispatch arguments route writes per expert: its first projection's, then its second's. */
export const ARGS_PER_EXPERT = 6;

/** The buffers of one mixture-of-experts layer's run (see shaders/moe.wgsl). */
export interface MoeBuffers {
  logits: GPUBuffer;
  route: GPUBuffer;
  weights: GPUBuffer;
  args: GPUBuffer;
  x: GPUBuffer;
  gathered: GPUBuffer;
  out: GPUBuffer;
  bias: GPUBuffer;
}

/** Each projection's tiling: workgroups across its output columns, and rows per workgroup. */
export interface ExpertTilings {
  up: { tiles: number; rows: number };
  down: { tiles: number; rows: number };
}

/**
 * Launcher for shaders/moe.wgsl: a mixture of experts' routing, the gather of each expert's tokens
 * and the weighted sum of what the experts return; the experts' matmuls between them are
 * MatmulKernel's, dispatched indirectly from the arguments route writes.
 */
export class MoeKernel {
  private constructor(
    private readonly layout: KernelLayout<typeof BINDINGS.kinds>,
    /** By `${entry} ${elem}`. */
    private readonly pipelines: ReadonlyMap<string, GPUComputePipeline>,
  ) {}

  /** `elems`: the element types the activation buffers may have. */
  static async create(device: GPUDevice, experts: number, elems: readonly Elem[] = ['f32']): Promise<MoeKernel> {
    if (experts > MAX_EXPERTS) throw new UnsupportedError(`${experts} experts on WebGPU (at most ${MAX_EXPERTS})`);
    const layout = BINDINGS.layout(device);
    const pipelines = await Promise.all(
      [...new Set(elems)].flatMap(async (elem): Promise<[string, GPUComputePipeline][]> => {
        const code = await elemWgsl({ x: elem, y: elem }, ...MOE_SHADER.files);
        const module = device.createShaderModule({ label: `moe-${elem}`, code });
        return Promise.all(
          ['route', 'gather', 'combine'].map(async (entryPoint): Promise<[string, GPUComputePipeline]> => {
            const label = `moe-${entryPoint}-${elem}`;
            return [
              `${entryPoint} ${elem}`,
              await computePipeline(device, { label, layout: layout.pipelineLayout, compute: { module, entryPoint } }),
            ];
          }),
        );
      }),
    );
    return new MoeKernel(layout, new Map(pipelines.flat()));
  }

  /**
   * Binds one layer's run: its three dispatches share the bind group and the uniform block (one
   * slot). `shape.cap` is expertCapacity(M).
   */
  bind(
    uniforms: UniformArena,
    buffers: MoeBuffers,
    shape: { M: number; H: number; experts: number; topK: number; cap: number },
    tilings: ExpertTilings,
  ): MoeRun {
    const params = PARAMS.write(uniforms, {
      M: shape.M,
      H: shape.H,
      E: shape.experts,
      topK: shape.topK,
      cap: shape.cap,
      upTiles: tilings.up.tiles,
      upRows: tilings.up.rows,
      downTiles: tilings.down.tiles,
      downRows: tilings.down.rows,
    });
    const elem = elemOf(buffers.x);
    const pipeline = (entry: string) => {
      const p = this.pipelines.get(`${entry} ${elem}`);
      if (!p) throw new Error(`no moe ${entry} pipeline for ${elem} activations`);
      return p;
    };
    return new MoeRun(this.layout.group({ params, ...buffers }), pipeline, shape);
  }
}

/** One layer's bound run: route, then gather, then (after the experts' matmuls) combine. */
export class MoeRun {
  constructor(
    private readonly group: GPUBindGroup,
    private readonly pipeline: (entry: string) => GPUComputePipeline,
    private readonly shape: { M: number; experts: number; cap: number },
  ) {}

  private dispatch(pass: DispatchTarget, entry: string, x: number, y = 1): void {
    pass.setPipeline(this.pipeline(entry));
    pass.setBindGroup(0, this.group);
    pass.dispatchWorkgroups(x, y);
  }

  route(pass: DispatchTarget): void {
    this.dispatch(pass, 'route', 1);
  }

  gather(pass: DispatchTarget): void {
    this.dispatch(pass, 'gather', this.shape.experts, this.shape.cap);
  }

  combine(pass: DispatchTarget): void {
    this.dispatch(pass, 'combine', this.shape.M);
  }
}
