import { bindGroup, bindGroupLayout, computePipeline, type UniformArena } from '../resources.js';
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

/** Launcher for shaders/score.wgsl: one query against the rows of one vector buffer. */
export class ScoreKernel {
  static readonly PAGE_ROWS = 256;

  private constructor(
    private readonly device: GPUDevice,
    private readonly layout: GPUBindGroupLayout,
    private readonly pipeline: GPUComputePipeline,
  ) {}

  static async create(device: GPUDevice, encoding: ScoreEncoding): Promise<ScoreKernel> {
    const layout = bindGroupLayout(device, 'score', ['uniform', 'read', 'read', 'read', 'read', 'write']);
    const pipeline = await computePipeline(device, {
      label: `score ${encoding}`,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: {
        module: device.createShaderModule({ label: 'score', code: await wgsl('score') }),
        entryPoint: `score_${encoding}`,
      },
    });
    return new ScoreKernel(device, layout, pipeline);
  }

  encode(pass: GPUComputePassEncoder, uniforms: UniformArena, b: ScoreBuffers, o: ScoreDispatch): void {
    const params = uniforms.push([o.rows, o.row0, o.blocks, o.width, o.widthBlocks, o.normalize ? 1 : 0, o.masked ? 1 : 0]);
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup(this.device, this.layout, [params, b.query, b.rows, b.scales, b.mask, b.scores]));
    pass.dispatchWorkgroups(Math.ceil(o.rows / ScoreKernel.PAGE_ROWS));
  }
}
