import type { Linear, Quant } from '../../weights/weights.js';
import type { SharedReads } from '../device.js';
import { Bindings, type KernelLayout, type ShaderInterface, UniformBlock } from '../kernel-spec.js';
import { PipelineVariants } from '../pipeline-variants.js';
import type { DispatchTarget } from '../profiler.js';
import { type Elem, elemOf, type UniformArena, uploadBuffer } from '../resources.js';
import { elemPairs, elemWgsl, ioKey } from '../shader.js';

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
 * What matmul.wgsl does with each output, by its EPILOGUE_* code there: store it, apply exact
 * GELU or ReLU, a gated activation (W stacks inputs over gates; y has half of W's rows as columns) with
 * exact GELU (GeGLU), SiLU (SwiGLU) or tanh-approximated GELU, tanh-approximated GELU ungated, or add it into y.
 * A uniform, not a pipeline constant: each matmul pipeline takes ~1.3 s to compile on
 * SwiftShader, and the epilogue is a branch once per output.
 */
export const EPILOGUE = { none: 0, gelu: 1, geglu: 2, residual: 3, swiglu: 4, geglu_tanh: 5, relu: 6, gelu_tanh: 7 } as const;
export type Epilogue = keyof typeof EPILOGUE;

/**
 * The tilings of matmul.wgsl and the block of Y one workgroup computes: `main` (64-row register
 * tiles through workgroup memory) for batches, `few_rows` (weights decoded straight into
 * registers, 16 rows per workgroup) for short inputs, and `subgroup_rows`, the same as
 * `few_rows` with X read through subgroup broadcasts. Measured on lavapipe (3 x 6 q8 matmuls of a
 * 384-wide layer, 2 cores shared with a training job): at 16 rows `few_rows` takes 79 ms where
 * `main` with 16-row tiles took 207 ms and with 64-row tiles 292; at 2 rows 17 ms against 200;
 * they meet at 64 rows (296 vs 293 ms), past which `main`'s reuse of each decoded weight wins.
 */
interface Tiling {
  entryPoint: 'main' | 'few_rows' | 'subgroup_rows';
  rows: number;
  cols: number;
}
const TILINGS = {
  batch: { entryPoint: 'main', rows: 64, cols: 64 },
  few: { entryPoint: 'few_rows', rows: 16, cols: 128 },
  subgroup: { entryPoint: 'subgroup_rows', rows: 16, cols: 128 },
} satisfies Record<string, Tiling>;
type TilingName = keyof typeof TILINGS;

/**
 * The tilings each way of reading X uses (see SharedReads). `direct`: `few_rows` up to 48 rows,
 * `main` past that. `subgroup`: `subgroup_rows` for every M, as on a CPU adapter `main` reads its
 * workgroup tiles lane by lane too. Measured ([M x 384] . [384 x 1536], q8, median of 7 x 10
 * matmuls): lavapipe, M = 16: `few_rows` 1.93 ms, `subgroup_rows` 1.03; M = 128: 12.8 vs 5.8;
 * M = 1024: `main` 101 ms, `few_rows` 101, `subgroup_rows` 37. SwiftShader (4-lane subgroups),
 * M = 16: 14.1 vs 10.8 ms; M = 256: `main` 183 ms (and ~1.6 s to compile), `subgroup_rows` 153
 * (87 ms). GPUs keep `direct`: nothing here could measure one.
 */
const PLANS: Record<SharedReads, { rowsShader: string; tilingFor(M: number): TilingName; order: TilingName[] }> = {
  direct: { rowsShader: 'matmul_rows', tilingFor: (M) => (M <= 48 ? 'few' : 'batch'), order: ['batch', 'few'] },
  subgroup: { rowsShader: 'matmul_rows_subgroup', tilingFor: () => 'subgroup', order: ['subgroup'] },
};

const PARAMS = new UniformBlock('MatmulParams', { M: 'u32', N: 'u32', K: 'u32', epilogue: 'u32' });
// W and (for q8 / q4) Scales are declared by the weights_*.wgsl decoder.
const PLAIN = new Bindings('matmul', { params: 'uniform', x: 'read', bias: 'read', y: 'write', w: 'read' });
const SCALED = new Bindings('matmul-scaled', { ...PLAIN.kinds, scales: 'read' });

const isScaled = (q: Quant) => q === 'q8' || q === 'q4';

export function matmulShader(quant: Quant, reads: SharedReads): ShaderInterface {
  return {
    files: ['common', 'matmul', PLANS[reads].rowsShader, `weights_${quant}`],
    params: PARAMS,
    layouts: [isScaled(quant) ? SCALED : PLAIN],
    constants: {
      ...Object.fromEntries(Object.entries(EPILOGUE).map(([name, code]) => [`EPILOGUE_${name.toUpperCase()}`, code])),
      TILE_M: TILINGS.batch.rows,
      TILE_N: TILINGS.batch.cols,
      FEW_ROWS: TILINGS.few.rows,
      // Four columns per thread.
      FEW_THREADS: TILINGS.few.cols / 4,
    },
  };
}

/**
 * Launcher for shaders/matmul.wgsl with one of the weights_*.wgsl decoders: one pipeline per
 * (weight format, element types of X and Y, tiling). `few_rows` compiles in tens of milliseconds and `main` (unrolled
 * register tiles) in ~1.4 s on SwiftShader, so creation compiles the tiling for one short text
 * only, and `main` starts compiling when a call first has more rows than `few_rows` serves
 * best; until it is ready, batches run on `few_rows`, which is correct for any M, only slower.
 * Not at creation: there it held up the first vector, which needs only `few_rows` when the text
 * is short (Node compiles synchronously: SwiftShader, m3-mini, encoder creation 1.56 -> 0.30 s;
 * in a page the compile shares a software adapter's CPU with the first call).
 */
export class MatmulKernel {
  private constructor(
    private readonly layouts: { plain: KernelLayout<typeof PLAIN.kinds>; scaled: KernelLayout<typeof SCALED.kinds> },
    /** By `${quant} ${ioKey}`. */
    private readonly variants: Map<string, PipelineVariants<TilingName>>,
    private readonly tilingFor: (M: number) => TilingName,
  ) {}

  /** `elems`: the activation element types in use; every (X, Y) pair of them is compiled. */
  static async create(
    device: GPUDevice,
    quants: readonly Quant[],
    reads: SharedReads = 'direct',
    elems: readonly Elem[] = ['f32'],
  ): Promise<MatmulKernel> {
    const layouts = { plain: PLAIN.layout(device), scaled: SCALED.layout(device) };
    const plan = PLANS[reads];
    const variants = new Map<string, PipelineVariants<TilingName>>();
    for (const quant of new Set(quants)) {
      for (const io of elemPairs(elems)) {
        const name = `matmul-${quant}-${ioKey(io)}`;
        const module = device.createShaderModule({
          label: `${name}-${reads}`,
          code: await elemWgsl(io, ...matmulShader(quant, reads).files),
        });
        const layout = layouts[isScaled(quant) ? 'scaled' : 'plain'].pipelineLayout;
        const descriptor = (tiling: TilingName): GPUComputePipelineDescriptor => ({
          label: `${name}-${tiling}`,
          layout,
          compute: { module, entryPoint: TILINGS[tiling].entryPoint },
        });
        variants.set(`${quant} ${ioKey(io)}`, new PipelineVariants(device, descriptor, plan.order));
      }
    }
    const kernel = new MatmulKernel(layouts, variants, plan.tilingFor);
    // Waiting for one pipeline here makes an adapter that cannot compile the kernel fail while
    // the backend is being chosen (where 'auto' falls back to the CPU), not at the first call.
    const first = plan.tilingFor(1);
    await Promise.all([...variants.values()].map((v) => v.start(first)));
    return kernel;
  }

  /**
   * Starts compiling what calls with these row counts want; `wait` waits for it. Calls never need
   * to wait: creation compiled the short-input tiling, which serves any M.
   */
  async prepare(rowCounts: Iterable<number>, o: { wait?: boolean } = {}): Promise<void> {
    const wanted = new Set([...rowCounts].map(this.tilingFor));
    const jobs = [...this.variants.values()].flatMap((v) => [...wanted].map((tiling) => v.start(tiling)));
    if (o.wait) await Promise.all(jobs);
  }

  /**
   * y[M, linear.rows] = epilogue(x[M, linear.cols] . W^T + b); gated epilogues write y[M, linear.rows / 2].
   * x and y may hold f32 or f16 (elemOf), each a type the kernel was created with; x may be a
   * binding of rows inside a larger buffer.
   */
  encode(
    pass: DispatchTarget,
    uniforms: UniformArena,
    x: GPUBuffer | GPUBufferBinding,
    linear: GpuLinear,
    y: GPUBuffer,
    M: number,
    epilogue: Epilogue = 'none',
  ): void {
    const { rows, cols } = this.bind(pass, uniforms, x, linear, y, M, epilogue);
    pass.dispatchWorkgroups(Math.ceil(linear.rows / cols), Math.ceil(M / rows));
  }

  /**
   * The block of Y one workgroup of a call of M rows computes: what an indirect dispatch's
   * argument writer needs to know (see encodeIndirect).
   */
  tiling(linear: GpuLinear, x: GPUBuffer, y: GPUBuffer, M: number): { rows: number; cols: number } {
    return TILINGS[this.pick(linear, x, y, M).variant];
  }

  /**
   * encode() over blocks of x and y (bindings), with the workgroup counts read from `args` on the
   * GPU: rows past the ones the arguments cover are never computed (a mixture of experts' expert
   * blocks). `rows.bound`: the rows the blocks hold; `rows.expect`: the rows the tiling is chosen
   * for, as tiling(linear, x, y, rows.expect) told the arguments' writer in the same encode.
   */
  encodeIndirect(
    pass: DispatchTarget,
    uniforms: UniformArena,
    blocks: { x: GPUBufferBinding; y: GPUBufferBinding },
    linear: GpuLinear,
    rows: { bound: number; expect: number },
    epilogue: Epilogue,
    args: { buffer: GPUBuffer; offset: number },
  ): void {
    this.bind(pass, uniforms, blocks.x, linear, blocks.y, rows.bound, epilogue, rows.expect);
    pass.dispatchWorkgroupsIndirect(args.buffer, args.offset);
  }

  private pick(linear: GpuLinear, x: GPUBuffer, y: GPUBuffer, M: number) {
    const key = `${linear.quant} ${ioKey({ x: elemOf(x), y: elemOf(y) })}`;
    const picked = this.variants.get(key)?.pick(this.tilingFor(M));
    if (!picked) throw new Error(`matmul pipeline for ${key}, ${M} rows: not created, or prepare() was not awaited`);
    return picked;
  }

  private bind(
    pass: DispatchTarget,
    uniforms: UniformArena,
    x: GPUBuffer | GPUBufferBinding,
    linear: GpuLinear,
    y: GPUBuffer | GPUBufferBinding,
    M: number,
    epilogue: Epilogue,
    tilingRows = M,
  ): Tiling {
    const buffer = (b: GPUBuffer | GPUBufferBinding) => ('buffer' in b ? b.buffer : b);
    const picked = this.pick(linear, buffer(x), buffer(y), tilingRows);
    const params = PARAMS.write(uniforms, { M, N: linear.rows, K: linear.cols, epilogue: EPILOGUE[epilogue] });
    const { bias, weights: w, scales } = linear;
    pass.setPipeline(picked.pipeline);
    pass.setBindGroup(
      0,
      scales ? this.layouts.scaled.group({ params, x, bias, y, w, scales }) : this.layouts.plain.group({ params, x, bias, y, w }),
    );
    return TILINGS[picked.variant];
  }
}
