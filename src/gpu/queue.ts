import { GpuError } from '../errors.js';
import { SerialQueue } from '../serial-queue.js';
import { CompletionPacer } from './completion-pacer.js';
import type { GpuContext } from './device.js';
import { GrowableBuffer, UniformArena } from './resources.js';

/** The part of a GPU buffer a submission reads back. */
export interface Readback {
  buffer: GPUBuffer;
  bytes: number;
}

export interface Submission {
  /** Names the command buffer, errors and the pacer's history (work of one label is comparable). */
  label: string;
  /** Uniform blocks the encoding pushes at most. */
  slots: number;
  /** Any measure proportional to the submission's GPU time, for the pacer (0: do not pace). */
  work: number;
  /** Records the work (queue writes included) and names what to read back. */
  encode(encoder: GPUCommandEncoder, uniforms: UniformArena): Readback;
}

/**
 * The one way m3web submits GPU work, shared by everything on a device (the encoder's forward,
 * the index's scoring): one serial queue, so submissions never interleave or race for the
 * uniform and readback buffers; one latch for a lost device; error scopes pushed and popped
 * around every submission whatever the encoding throws; one readback per submission, awaited
 * through the CompletionPacer.
 */
export class GpuQueue {
  readonly device: GPUDevice;
  private readonly uniforms: UniformArena;
  private readonly readback: GrowableBuffer;
  private readonly pacers = new Map<string, CompletionPacer>();
  private readonly serial: SerialQueue;
  private failure: GpuError | null = null;

  constructor(private readonly gpu: GpuContext) {
    this.device = gpu.device;
    this.uniforms = new UniformArena(this.device);
    this.readback = new GrowableBuffer(this.device, 'm3web readback', GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    this.serial = new SerialQueue(() => {
      if (this.failure) throw this.failure;
    });
    gpu.lost.then((info) => {
      this.failure ??= new GpuError('GPU_DEVICE_LOST', `the GPU device was lost (${info.reason}): ${info.message}`);
    });
  }

  /** The device-lost error once the device is gone, else null. */
  get lostError(): GpuError | null {
    return this.failure;
  }

  /** Latches the device as lost before its `lost` promise settles (a deliberate destroy()). */
  markLost(reason: string): void {
    this.failure ??= new GpuError('GPU_DEVICE_LOST', `the GPU device was lost: ${reason}`);
  }

  /**
   * Runs `job` with the device to itself: call submit() only inside it. Jobs queued after the
   * device is lost reject with GPU_DEVICE_LOST without running.
   */
  exclusive<T>(job: () => Promise<T>): Promise<T> {
    return this.serial.run(job);
  }

  /** Encodes, submits once, and resolves to a copy of the bytes read back. */
  async submit(s: Submission): Promise<ArrayBuffer> {
    const { device } = this;
    let thrown: unknown = null;
    let bytes = 0;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    try {
      this.uniforms.begin(s.slots);
      const encoder = device.createCommandEncoder({ label: `m3web ${s.label}` });
      const read = s.encode(encoder, this.uniforms);
      bytes = read.bytes;
      encoder.copyBufferToBuffer(read.buffer, 0, this.readback.ensure(bytes), 0, bytes);
      this.uniforms.flush();
      device.queue.submit([encoder.finish()]);
    } catch (err) {
      thrown = err;
    }
    // Popped whatever happened, so a failed encoding leaves no scope pushed. In a browser the
    // readback maps meanwhile (one round trip to the GPU process, not two). Where waiting polls
    // (Dawn in Node) it maps only after: a pending pop would keep Dawn polling through the
    // pacer's sleep, on the core a software adapter needs.
    const pops = () => Promise.all([device.popErrorScope(), device.popErrorScope()]);
    const map = () => (thrown ? Promise.resolve(null) : this.map(s.label, bytes, s.work).catch((err: unknown) => err));
    let scopes: (GPUError | null)[];
    let data: unknown;
    if (this.gpu.waitPolls) {
      scopes = await pops();
      data = await map();
    } else {
      [scopes, data] = await Promise.all([pops(), map()]);
    }
    if (thrown) throw thrown;
    const scoped = scopes[0] ?? scopes[1];
    if (scoped) throw new GpuError('GPU_ERROR', `WebGPU rejected the ${s.label}: ${scoped.message}`);
    if (!(data instanceof ArrayBuffer)) throw data;
    return data;
  }

  destroy(): void {
    this.uniforms.destroy();
    this.readback.destroy();
  }

  private async map(label: string, bytes: number, work: number): Promise<ArrayBuffer> {
    const readback = this.readback.ensure(bytes);
    let pacer = this.pacers.get(label);
    if (!pacer) {
      pacer = new CompletionPacer(this.gpu.waitPolls);
      this.pacers.set(label, pacer);
    }
    try {
      await pacer.settle(work, () => readback.mapAsync(GPUMapMode.READ, 0, bytes));
    } catch (cause) {
      throw this.failure ?? new GpuError('GPU_ERROR', `reading the ${label} back failed: ${String(cause)}`, { cause });
    }
    const data = readback.getMappedRange(0, bytes).slice(0);
    readback.unmap();
    return data;
  }
}
