import { Bindings, type KernelLayout, type ShaderInterface, UniformBlock } from '../kernel-spec.js';
import { computePipeline, type UniformArena } from '../resources.js';
import { wgsl } from '../shader.js';

/** Scratch and output buffers of one top-k; sizes from TopkKernel's static helpers. */
export interface TopkBuffers {
  histogram: GPUBuffer;
  state: GPUBuffer;
  candidateScores: GPUBuffer;
  candidateRows: GPUBuffer;
  /** [survivors, k score bits, k rows]. */
  out: GPUBuffer;
}

const ENTRY_POINTS = ['histogram', 'threshold', 'compact', 'sort'] as const;
/** Workgroups of the grid-stride passes: enough to fill a GPU, far under the dispatch limit. */
const MAX_WORKGROUPS = 1024;
const THREADS = 256;
const BINS = 65536;
const CAP = 2048;

const PARAMS = new UniformBlock('TopkParams', { n: 'u32', k: 'u32' });
const BINDINGS = new Bindings('topk', {
  params: 'uniform',
  scores: 'read',
  histogram: 'write',
  state: 'write',
  candidateScores: 'write',
  candidateRows: 'write',
  out: 'write',
});

export const TOPK_SHADER: ShaderInterface = {
  files: ['topk'],
  params: PARAMS,
  layouts: [BINDINGS],
  constants: { THREADS, BINS, CAP },
};

/** Launcher for shaders/topk.wgsl: threshold selection of the k best scores of a row-indexed buffer. */
export class TopkKernel {
  /** Candidates the final sort holds; more survivors than this is an overflow. */
  static readonly CAP = CAP;
  /** Keeps the candidates of a typical search (k plus the boundary bin's other scores) under CAP. */
  static readonly MAX_K = TopkKernel.CAP / 2;
  static readonly HISTOGRAM_BYTES = BINS * 4;
  static readonly STATE_BYTES = 8;
  static readonly CANDIDATE_BYTES = TopkKernel.CAP * 4;

  private constructor(
    private readonly layout: KernelLayout<typeof BINDINGS.kinds>,
    private readonly pipelines: Record<(typeof ENTRY_POINTS)[number], GPUComputePipeline>,
  ) {}

  static async create(device: GPUDevice): Promise<TopkKernel> {
    const layout = BINDINGS.layout(device);
    const module = device.createShaderModule({ label: 'topk', code: await wgsl(...TOPK_SHADER.files) });
    const built = await Promise.all(
      ENTRY_POINTS.map((entryPoint) =>
        computePipeline(device, { label: `topk ${entryPoint}`, layout: layout.pipelineLayout, compute: { module, entryPoint } }),
      ),
    );
    const [histogram, threshold, compact, sort] = built as [
      GPUComputePipeline,
      GPUComputePipeline,
      GPUComputePipeline,
      GPUComputePipeline,
    ];
    return new TopkKernel(layout, { histogram, threshold, compact, sort });
  }

  static outBytes(k: number): number {
    return (1 + 2 * k) * 4;
  }

  /** Encodes the whole selection as its own compute pass (the histogram is cleared before it). */
  encode(encoder: GPUCommandEncoder, uniforms: UniformArena, scores: GPUBuffer, b: TopkBuffers, n: number, k: number): void {
    if (k < 1 || k > TopkKernel.MAX_K) throw new RangeError(`topk: k must be in 1..${TopkKernel.MAX_K}, got ${k}`);
    encoder.clearBuffer(b.histogram);
    const params = PARAMS.write(uniforms, { n, k });
    const group = this.layout.group({ params, scores, ...b });
    const spread = Math.min(Math.ceil(n / THREADS), MAX_WORKGROUPS);
    const pass = encoder.beginComputePass({ label: 'topk' });
    pass.setBindGroup(0, group);
    for (const [name, groups] of [
      ['histogram', spread],
      ['threshold', 1],
      ['compact', spread],
      ['sort', 1],
    ] as const) {
      pass.setPipeline(this.pipelines[name]);
      pass.dispatchWorkgroups(groups);
    }
    pass.end();
  }
}
