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

/**
 * What matmul.wgsl does with each output (its EPILOGUE): store it, apply exact GELU, GeGLU
 * (W stacks inputs over gates; y has half of W's rows as columns), or add it into y.
 */
export type Epilogue = 'none' | 'gelu' | 'geglu' | 'residual';
const EPILOGUE_CODE: Record<Epilogue, number> = { none: 0, gelu: 1, geglu: 2, residual: 3 };
/** BERT's epilogues: plain projections and the GELU feed-forward. */
export const BERT_EPILOGUES: readonly Epilogue[] = ['none', 'gelu'];

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

  /** Compiles every variant (row tiling x epilogue) for the given storage formats up front. */
  static async create(
    device: GPUDevice,
    quants: readonly Quant[],
    epilogues: readonly Epilogue[] = BERT_EPILOGUES,
  ): Promise<MatmulKernel> {
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
          for (const e of epilogues) {
            const pipeline = await computePipeline(device, {
              label: `matmul-${quant}-r${rows}-${e}`,
              layout,
              compute: { module, constants: { ROWS: rows, EPILOGUE: EPILOGUE_CODE[e] } },
            });
            pipelines.set(key(quant, rows, e), pipeline);
          }
        }
      }),
    );
    return new MatmulKernel(device, layouts, pipelines);
  }

  /** y[M, w.rows] = epilogue(x[M, w.cols] . W^T + b); GeGLU writes y[M, w.rows / 2]. */
  encode(
    pass: DispatchTarget,
    uniforms: UniformArena,
    x: GPUBuffer,
    w: GpuLinear,
    y: GPUBuffer,
    M: number,
    epilogue: Epilogue = 'none',
  ): void {
    const rows = rowsFor(M);
    const pipeline = this.pipelines.get(key(w.quant, rows, epilogue));
    if (!pipeline) throw new Error(`matmul pipeline for ${w.quant} weights with ${epilogue} epilogue was not compiled`);
    const params = uniforms.push([M, w.rows, w.cols, 0]);
    const resources = [params, x, w.bias, y, w.weights];
    if (w.scales) resources.push(w.scales);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup(this.device, this.layouts[w.scales ? 'scaled' : 'plain'], resources));
    pass.dispatchWorkgroups(Math.ceil(w.rows / TILE_N), Math.ceil(M / (8 * rows)));
  }
}

const isScaled = (q: Quant) => q === 'q8' || q === 'q4';
const key = (q: Quant, rows: number, e: Epilogue) => `${q}/${rows}/${e}`;
