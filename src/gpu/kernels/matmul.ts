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
 * What matmul.wgsl does with each output: store it, apply exact GELU, GeGLU (W stacks inputs
 * over gates; y has half of W's rows as columns), or add it into y. A uniform, not a pipeline
 * constant: each matmul pipeline takes ~1.3 s to compile on SwiftShader, and the epilogue is a
 * branch once per output.
 */
export type Epilogue = 'none' | 'gelu' | 'geglu' | 'residual';
const EPILOGUE_CODE: Record<Epilogue, number> = { none: 0, gelu: 1, geglu: 2, residual: 3 };

const TILE_N = 64;
/**
 * Rows of Y per thread (the tile is 8x that): 8 for batches, 2 for one short text, where a
 * 64-row tile would mostly multiply padding (measured on lavapipe: 16 x 384 x 1536 takes
 * 11 ms with 16-row tiles and 22 ms with 64-row ones; 1024 rows run ~15% faster with 64).
 */
const rowsFor = (M: number) => (M <= 16 ? 2 : 8);
const TILINGS = [8, 2];
const BATCH_ROWS = 64;

/**
 * Launcher for shaders/matmul.wgsl with one of the weights_*.wgsl decoders. Pipelines are
 * compiled per (weight format, row tiling) on first need (`prepare`); the batch tiling at
 * creation. A call whose own tiling is still compiling runs on the other one, which is correct
 * for any M (only slower), rather than waiting: a compile takes ~1.3 s on SwiftShader.
 */
export class MatmulKernel {
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private readonly ready = new Map<string, GPUComputePipeline>();

  private constructor(
    private readonly device: GPUDevice,
    private readonly layouts: Record<'plain' | 'scaled', GPUBindGroupLayout>,
    private readonly modules: Map<Quant, GPUShaderModule>,
  ) {}

  static async create(device: GPUDevice, quants: readonly Quant[]): Promise<MatmulKernel> {
    const base = ['uniform', 'read', 'read', 'write', 'read'] as const;
    const layouts = {
      plain: bindGroupLayout(device, 'matmul', base),
      scaled: bindGroupLayout(device, 'matmul-scaled', [...base, 'read']),
    };
    const modules = new Map<Quant, GPUShaderModule>();
    for (const quant of new Set(quants)) {
      modules.set(
        quant,
        device.createShaderModule({ label: `matmul-${quant}`, code: await wgsl('common', 'matmul', `weights_${quant}`) }),
      );
    }
    const kernel = new MatmulKernel(device, layouts, modules);
    // The batch tiling now, so an adapter that cannot compile the kernel fails while the backend
    // is being chosen (where 'auto' falls back to the CPU), not at the first call.
    await kernel.prepare([BATCH_ROWS], { wait: true });
    return kernel;
  }

  /**
   * Starts compiling what calls with these row counts want, and waits for the pipelines of
   * formats that have none ready yet; `wait` waits for all of them.
   */
  async prepare(rowCounts: Iterable<number>, o: { wait?: boolean } = {}): Promise<void> {
    const wanted = new Set([...rowCounts].map(rowsFor));
    const jobs: Promise<GPUComputePipeline>[] = [];
    for (const [quant, module] of this.modules) {
      const runnable = TILINGS.some((rows) => this.ready.has(key(quant, rows)));
      for (const rows of wanted) {
        const k = key(quant, rows);
        let job = this.pipelines.get(k);
        if (!job) {
          job = computePipeline(this.device, {
            label: `matmul-${quant}-r${rows}`,
            layout: this.device.createPipelineLayout({ bindGroupLayouts: [this.layouts[isScaled(quant) ? 'scaled' : 'plain']] }),
            compute: { module, constants: { ROWS: rows } },
          });
          this.pipelines.set(k, job);
          job.then(
            (p) => this.ready.set(k, p),
            () => this.pipelines.delete(k),
          );
        }
        if (o.wait || !runnable) jobs.push(job);
      }
    }
    await Promise.all(jobs);
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
    const rows = [rowsFor(M), ...TILINGS].find((r) => this.ready.has(key(w.quant, r)));
    if (rows === undefined) throw new Error(`matmul pipeline for ${w.quant} weights, ${M} rows: prepare() was not awaited`);
    const pipeline = this.ready.get(key(w.quant, rows)) as GPUComputePipeline;
    const params = uniforms.push([M, w.rows, w.cols, EPILOGUE_CODE[epilogue]]);
    const resources = [params, x, w.bias, y, w.weights];
    if (w.scales) resources.push(w.scales);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup(this.device, this.layouts[w.scales ? 'scaled' : 'plain'], resources));
    pass.dispatchWorkgroups(Math.ceil(w.rows / TILE_N), Math.ceil(M / (8 * rows)));
  }
}

const isScaled = (q: Quant) => q === 'q8' || q === 'q4';
const key = (q: Quant, rows: number) => `${q}/${rows}`;
