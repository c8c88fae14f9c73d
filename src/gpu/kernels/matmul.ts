import type { Linear, Quant } from '../../model/weights.js';
import type { DispatchTarget } from '../profiler.js';
import { bindGroup, bindGroupLayout, computePipeline, type UniformArena, uploadBuffer } from '../resources.js';
import { wgsl } from '../shader.js';

/** A Linear whose weight bytes, scales and bias live in GPU buffers. */
export interface GpuLinear {
  quant: Quant;
  rows: number;
  cols: number;
  weights: GPUBuffer;
  scales: GPUBuffer | null;
  bias: GPUBuffer;
}

export function uploadLinear(device: GPUDevice, label: string, l: Linear): GpuLinear {
  return {
    quant: l.quant,
    rows: l.rows,
    cols: l.cols,
    weights: uploadBuffer(device, `${label}.weight`, l.data),
    scales: l.scales ? uploadBuffer(device, `${label}.scales`, l.scales) : null,
    bias: uploadBuffer(device, `${label}.bias`, l.bias),
  };
}

export function destroyLinear(l: GpuLinear): void {
  l.weights.destroy();
  l.scales?.destroy();
  l.bias.destroy();
}

export type Activation = 'none' | 'gelu';

const TILE_N = 64;
/**
 * Rows of Y per thread (the tile is 8x that): 8 for batches, 2 for one short text, where a
 * 64-row tile would mostly multiply padding (measured on lavapipe: 16 x 384 x 1536 takes
 * 11 ms with 16-row tiles and 22 ms with 64-row ones; 1024 rows run ~15% faster with 64).
 */
const ROW_VARIANTS = [2, 8] as const;
const rowsFor = (M: number) => (M <= 16 ? 2 : 8);

/** Launcher for shaders/matmul.wgsl with one of the weights_*.wgsl decoders. */
export class MatmulKernel {
  private constructor(
    private readonly device: GPUDevice,
    private readonly layouts: Record<'plain' | 'scaled', GPUBindGroupLayout>,
    private readonly pipelines: Map<string, GPUComputePipeline>,
  ) {}

  /** Compiles every variant (row tiling x activation) for the given storage formats up front. */
  static async create(device: GPUDevice, quants: readonly Quant[]): Promise<MatmulKernel> {
    const base = ['uniform', 'read', 'read', 'write', 'read'] as const;
    const layouts = {
      plain: bindGroupLayout(device, 'matmul', base),
      scaled: bindGroupLayout(device, 'matmul-scaled', [...base, 'read']),
    };
    const pipelines = new Map<string, GPUComputePipeline>();
    await Promise.all(
      [...new Set(quants)].map(async (quant) => {
        const module = device.createShaderModule({
          label: `matmul-${quant}`,
          code: await wgsl('common', 'matmul', `weights_${quant}`),
        });
        const layout = device.createPipelineLayout({ bindGroupLayouts: [layouts[isScaled(quant) ? 'scaled' : 'plain']] });
        for (const rows of ROW_VARIANTS) {
          for (const act of ['none', 'gelu'] as const) {
            const pipeline = await computePipeline(device, {
              label: `matmul-${quant}-r${rows}-${act}`,
              layout,
              compute: { module, constants: { ROWS: rows, ACTIVATION: act === 'gelu' ? 1 : 0 } },
            });
            pipelines.set(key(quant, rows, act), pipeline);
          }
        }
      }),
    );
    return new MatmulKernel(device, layouts, pipelines);
  }

  /** y[M, w.rows] = act(x[M, w.cols] . W^T + b) */
  encode(
    pass: DispatchTarget,
    uniforms: UniformArena,
    x: GPUBuffer,
    w: GpuLinear,
    y: GPUBuffer,
    M: number,
    act: Activation = 'none',
  ): void {
    const rows = rowsFor(M);
    const pipeline = this.pipelines.get(key(w.quant, rows, act));
    if (!pipeline) throw new Error(`matmul pipeline for ${w.quant} weights was not compiled`);
    const params = uniforms.push([M, w.rows, w.cols, 0]);
    const resources = [params, x, w.bias, y, w.weights];
    if (w.scales) resources.push(w.scales);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup(this.device, this.layouts[w.scales ? 'scaled' : 'plain'], resources));
    pass.dispatchWorkgroups(Math.ceil(w.rows / TILE_N), Math.ceil(M / (8 * rows)));
  }
}

const isScaled = (q: Quant) => q === 'q8' || q === 'q4';
const key = (q: Quant, rows: number, act: Activation) => `${q}/${rows}/${act}`;
