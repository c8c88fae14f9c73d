import { computePipeline } from './resources.js';

/**
 * Pipelines of one kernel that compute the same result at different speeds (matmul's tilings),
 * compiled on first need. A call whose preferred variant is still compiling runs on one that is
 * ready rather than waiting: on SwiftShader the batch tiling takes ~1.4 s to compile and the
 * short-input one ~50 ms, against a warm page start of a few seconds. (Node compiles
 * synchronously, so there a variant is ready as soon as it is started.)
 */
export class PipelineVariants<V extends string> {
  private readonly jobs = new Map<V, Promise<GPUComputePipeline>>();
  private readonly ready = new Map<V, GPUComputePipeline>();

  /** `order`: the variants to fall back on, best first. */
  constructor(
    private readonly device: GPUDevice,
    private readonly descriptor: (variant: V) => GPUComputePipelineDescriptor,
    private readonly order: readonly V[],
  ) {}

  /** Starts compiling `variant` (once; a failed compile is retried by the next call). */
  start(variant: V): Promise<GPUComputePipeline> {
    let job = this.jobs.get(variant);
    if (!job) {
      job = computePipeline(this.device, this.descriptor(variant));
      this.jobs.set(variant, job);
      job.then(
        (p) => this.ready.set(variant, p),
        () => this.jobs.delete(variant),
      );
    }
    return job;
  }

  /** `preferred` if it is compiled, else the first compiled variant in order. */
  pick(preferred: V): { variant: V; pipeline: GPUComputePipeline } | undefined {
    for (const variant of [preferred, ...this.order]) {
      const pipeline = this.ready.get(variant);
      if (pipeline) return { variant, pipeline };
    }
    return undefined;
  }
}
