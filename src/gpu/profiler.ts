/**
 * Per-kernel GPU time of a forward, from timestamp queries. Timestamps can only be written at
 * compute-pass boundaries, so while profiling every dispatch gets a pass of its own (which costs
 * a little; profiled forwards are for finding hot kernels, not for timing the whole call).
 */

/** What kernel launchers record into: a compute pass, or the profiler's stand-in for one. */
export type DispatchTarget = Pick<
  GPUComputePassEncoder,
  'setPipeline' | 'setBindGroup' | 'dispatchWorkgroups' | 'dispatchWorkgroupsIndirect' | 'end'
>;

export interface KernelTime {
  /** The pipeline's label, e.g. `matmul-q8-r4-gelu` or `attention-d64`. */
  kernel: string;
  dispatches: number;
  ms: number;
}

/** WebGPU caps a query set at 4096 queries: two per dispatch. */
const MAX_QUERIES = 4096;

export class KernelProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private readonly readBuffer: GPUBuffer;
  private labels: string[] = [];

  constructor(device: GPUDevice) {
    this.querySet = device.createQuerySet({ label: 'm3web profile', type: 'timestamp', count: MAX_QUERIES });
    const size = MAX_QUERIES * 8;
    this.resolveBuffer = device.createBuffer({
      label: 'profile resolve',
      size,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    this.readBuffer = device.createBuffer({
      label: 'profile read',
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  /** A stand-in for encoder.beginComputePass(): each dispatch becomes its own timed pass. */
  pass(encoder: GPUCommandEncoder): DispatchTarget {
    let pipeline: GPUComputePipeline | null = null;
    const groups = new Map<number, GPUBindGroup | null>();
    const timed = (dispatch: (pass: GPUComputePassEncoder) => void) => {
      if (!pipeline) throw new Error('dispatch before setPipeline');
      const at = this.labels.length * 2;
      if (at + 2 > MAX_QUERIES) throw new RangeError(`a profiled forward may have at most ${MAX_QUERIES / 2} dispatches`);
      this.labels.push(pipeline.label);
      const pass = encoder.beginComputePass({
        label: pipeline.label,
        timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: at, endOfPassWriteIndex: at + 1 },
      });
      pass.setPipeline(pipeline);
      for (const [i, g] of groups) pass.setBindGroup(i, g);
      dispatch(pass);
      pass.end();
    };
    return {
      setPipeline: (p: GPUComputePipeline) => {
        pipeline = p;
      },
      setBindGroup: (index: number, group: GPUBindGroup | null) => {
        groups.set(index, group);
      },
      dispatchWorkgroups: (x: number, y?: number, z?: number) => timed((pass) => pass.dispatchWorkgroups(x, y, z)),
      dispatchWorkgroupsIndirect: (buffer: GPUBuffer, offset: number) =>
        timed((pass) => pass.dispatchWorkgroupsIndirect(buffer, offset)),
      end: () => undefined,
    } as DispatchTarget;
  }

  /** Records the copy of this command buffer's timestamps; call once, after the last dispatch. */
  resolve(encoder: GPUCommandEncoder): void {
    const n = this.labels.length * 2;
    if (n === 0) return;
    encoder.resolveQuerySet(this.querySet, 0, n, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, this.readBuffer, 0, n * 8);
  }

  /** Time per kernel label, slowest first; resets for the next forward. */
  async read(): Promise<KernelTime[]> {
    const n = this.labels.length * 2;
    const totals = new Map<string, KernelTime>();
    if (n > 0) {
      await this.readBuffer.mapAsync(GPUMapMode.READ, 0, n * 8);
      const ns = new BigInt64Array(this.readBuffer.getMappedRange(0, n * 8).slice(0));
      this.readBuffer.unmap();
      this.labels.forEach((kernel, i) => {
        const t = totals.get(kernel) ?? { kernel, dispatches: 0, ms: 0 };
        t.dispatches++;
        t.ms += Math.max(0, Number((ns[2 * i + 1] as bigint) - (ns[2 * i] as bigint))) / 1e6;
        totals.set(kernel, t);
      });
    }
    this.labels = [];
    return [...totals.values()].sort((a, b) => b.ms - a.ms);
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
    this.readBuffer.destroy();
  }
}
