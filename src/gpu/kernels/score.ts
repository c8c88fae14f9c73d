import { Bindings, type KernelLayout, type ShaderInterface, UniformBlock } from '../kernel-spec.js';
import { computePipeline, type UniformArena } from '../resources.js';
import { wgsl } from '../shader.js';

export type ScoreEncoding = 'f32' | 'int8' | 'binary';

export interface ScoreBuffers {
  /** Encoded query: f32 values, or sign bits for binary. */
  query: GPUBuffer;
  /** One vector buffer: whole pages of 256 rows, block-major inside a page. */
  rows: GPUBuffer;
  /** Per-row int8 steps, indexed by global row (any buffer for f32 / binary: unread). */
  scales: GPUBuffer;
  /** Row mask, one bit per global row (any buffer when not `masked`: unread). */
  mask: GPUBuffer;
  /** Scores by global row, room for whole pages. */
  scores: GPUBuffer;
}

export interface ScoreDispatch {
  /** Rows in this vector buffer. */
  rows: number;
  /** Global row of its first row. */
  row0: number;
  /** 16-byte blocks per stored row. */
  blocks: number;
  width: number;
  widthBlocks: number;
  /** Divide by the prefix norm (f32 / int8 at a width below the stored one). */
  normalize: boolean;
  /** Score only rows whose mask bit is set; false scores every row. */
  masked: boolean;
}

const PAGE_ROWS = 256;

const PARAMS = new UniformBlock('ScoreParams', {
  rows: 'u32',
  row0: 'u32',
  blocks: 'u32',
  width: 'u32',
  width_blocks: 'u32',
  normalize: 'u32',
  masked: 'u32',
});
const BINDINGS = new Bindings('score', {
  params: 'uniform',
  query: 'read',
  rows: 'read',
  scales: 'read',
  mask: 'read',
  scores: 'write',
});

export const SCORE_SHADER: ShaderInterface = {
  files: ['score'],
  params: PARAMS,
  layouts: [BINDINGS],
  constants: { PAGE_ROWS },
};

/** Launcher for shaders/score.wgsl: one query against the rows of one vector buffer. */
export class ScoreKernel {
  static readonly PAGE_ROWS = PAGE_ROWS;

  private constructor(
    private readonly layout: KernelLayout<typeof BINDINGS.kinds>,
    private readonly pipeline: GPUComputePipeline,
  ) {}

  static async create(device: GPUDevice, encoding: ScoreEncoding): Promise<ScoreKernel> {
    const layout = BINDINGS.layout(device);
    const pipeline = await computePipeline(device, {
      label: `score ${encoding}`,
      layout: layout.pipelineLayout,
      compute: {
        module: device.createShaderModule({ label: 'score', code: await wgsl(...SCORE_SHADER.files) }),
        entryPoint: `score_${encoding}`,
      },
    });
    return new ScoreKernel(layout, pipeline);
  }

  encode(pass: GPUComputePassEncoder, uniforms: UniformArena, b: ScoreBuffers, o: ScoreDispatch): void {
    const params = PARAMS.write(uniforms, {
      rows: o.rows,
      row0: o.row0,
      blocks: o.blocks,
      width: o.width,
      width_blocks: o.widthBlocks,
      normalize: o.normalize ? 1 : 0,
      masked: o.masked ? 1 : 0,
    });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.layout.group({ params, ...b }));
    pass.dispatchWorkgroups(Math.ceil(o.rows / PAGE_ROWS));
  }
}
