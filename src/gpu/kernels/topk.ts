import { bindGroup, bindGroupLayout, computePipeline, type UniformArena } from '../resources.js';
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

/** Launcher for shaders/topk.wgsl: threshold selection of the k best scores of a row-indexed buffer. */
export class TopkKernel {
  /** Candidates the final sort holds; more survivors than this is an overflow. */
  static readonly CAP = 2048;
  /** Keeps the candidates of a typical search (k plus the boundary bin's other scores) under CAP. */
  static readonly MAX_K = TopkKernel.CAP / 2;
  static readonly HISTOGRAM_BYTES = 65536 * 4;
  static readonly STATE_BYTES = 8;
  static readonly CANDIDATE_BYTES = TopkKernel.CAP * 4;

  private constructor(
    private readonly device: GPUDevice,
    private readonly layout: GPUBindGroupLayout,
    private readonly pipelines: Record<(typeof ENTRY_POINTS)[number], GPUComputePipeline>,
  ) {}

  static async create(device: GPUDevice): Promise<TopkKernel> {
    const layout = bindGroupLayout(device, 'topk', ['uniform', 'read', 'write', 'write', 'write', 'write', 'write']);
    const module = device.createShaderModule({ label: 'topk', code: await wgsl('topk') });
    const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout] });
    const built = await Promise.all(
      ENTRY_POINTS.map((entryPoint) =>
        computePipeline(device, { label: `topk ${entryPoint}`, layout: pipelineLayout, compute: { module, entryPoint } }),
      ),
    );
    const [histogram, threshold, compact, sort] = built as [
      GPUComputePipeline,
      GPUComputePipeline,
      GPUComputePipeline,
      GPUComputePipeline,
    ];
    return new TopkKernel(device, layout, { histogram, threshold, compact, sort });
  }

  static outBytes(k: number): number {
    return (1 + 2 * k) * 4;
  }

  /** Encodes the whole selection as its own compute pass (the histogram is cleared before it). */
  encode(encoder: GPUCommandEncoder, uniforms: UniformArena, scores: GPUBuffer, b: TopkBuffers, n: number, k: number): void {
    if (k < 1 || k > TopkKernel.MAX_K) throw new RangeError(`topk: k must be in 1..${TopkKernel.MAX_K}, got ${k}`);
    encoder.clearBuffer(b.histogram);
    const params = uniforms.push([n, k]);
    const group = bindGroup(this.device, this.layout, [
      params,
      scores,
      b.histogram,
      b.state,
      b.candidateScores,
      b.candidateRows,
      b.out,
    ]);
    const spread = Math.min(Math.ceil(n / 256), MAX_WORKGROUPS);
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
