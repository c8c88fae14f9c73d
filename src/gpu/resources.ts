/**
 * A storage buffer holding `data`, padded to 16 bytes: WebGPU copies need 4, and a shader that
 * reads the buffer as an array of vec4s sees only whole ones.
 */
export function uploadBuffer(device: GPUDevice, label: string, data: ArrayBufferView, extraUsage = 0): GPUBuffer {
  const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
  const buffer = device.createBuffer({
    label,
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | extraUsage,
    mappedAtCreation: true,
  });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  return buffer;
}

/**
 * All uniform parameters of one submission in one buffer, one 256-byte slot per dispatch
 * (the minimum uniform offset alignment), written with a single writeBuffer.
 */
export class UniformArena {
  static readonly SLOT = 256;
  private buffer: GPUBuffer | null = null;
  private staging = new ArrayBuffer(0);
  private used = 0;

  constructor(private readonly device: GPUDevice) {}

  /** Starts a submission that will push at most `slots` parameter blocks. */
  begin(slots: number): void {
    const bytes = Math.max(1, slots) * UniformArena.SLOT;
    if (!this.buffer || this.buffer.size < bytes) {
      this.buffer?.destroy();
      this.buffer = this.device.createBuffer({
        label: 'm3web uniforms',
        size: bytes,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      this.staging = new ArrayBuffer(bytes);
    }
    this.used = 0;
  }

  /**
   * Takes the next slot for a block of `bytes` (see UniformBlock.write): its binding, and the
   * staging bytes to fill before flush().
   */
  push(bytes: number): { binding: GPUBufferBinding; view: DataView } {
    if (bytes > UniformArena.SLOT) throw new RangeError(`UniformArena: a ${bytes}-byte block exceeds one slot`);
    if (!this.buffer || this.used + UniformArena.SLOT > this.buffer.size) {
      throw new RangeError('UniformArena: more dispatches than begin() reserved');
    }
    const size = Math.ceil(bytes / 16) * 16;
    const binding = { buffer: this.buffer, offset: this.used, size };
    const view = new DataView(this.staging, this.used, size);
    this.used += UniformArena.SLOT;
    return { binding, view };
  }

  flush(): void {
    if (this.buffer && this.used > 0) this.device.queue.writeBuffer(this.buffer, 0, this.staging, 0, this.used);
  }

  destroy(): void {
    this.buffer?.destroy();
    this.buffer = null;
  }
}

/**
 * The element type of an activation buffer: f16 only on devices with `shader-f16`. Kernels
 * accumulate in f32 whatever they read and write.
 */
export type Elem = 'f32' | 'f16';
export const ELEM_BYTES: Readonly<Record<Elem, number>> = { f32: 4, f16: 2 };

/** Element types of the buffers made as f16 (see markElem); every other buffer holds f32. */
const elemTypes = new WeakMap<GPUBuffer, Elem>();

/**
 * Records that `buffer` holds `elem` values. The type travels with the buffer, so that a launcher
 * picks the pipeline compiled for the buffers it is given, and a graph that keeps some roles in
 * f32 (a pre-norm residual stream) passes them to the same kernels as its f16 ones.
 */
export function markElem<B extends GPUBuffer>(buffer: B, elem: Elem): B {
  if (elem === 'f32') elemTypes.delete(buffer);
  else elemTypes.set(buffer, elem);
  return buffer;
}

export function elemOf(b: GPUBuffer | GPUBufferBinding): Elem {
  return elemTypes.get('buffer' in b ? b.buffer : b) ?? 'f32';
}

/** A storage buffer that is re-created larger when a call needs more room, and reused otherwise. */
export class GrowableBuffer {
  private buffer: GPUBuffer | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
    private readonly usage: number = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    private readonly elem: Elem = 'f32',
  ) {}

  ensure(bytes: number): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    if (!this.buffer || this.buffer.size < size) {
      this.buffer?.destroy();
      this.buffer = markElem(this.device.createBuffer({ label: this.label, size, usage: this.usage }), this.elem);
    }
    return this.buffer;
  }

  destroy(): void {
    this.buffer?.destroy();
    this.buffer = null;
  }
}

/**
 * Async compilation keeps a browser's worker responsive; dawn.node (0.6.x) never settles the
 * async form's promise, so Node compiles synchronously (it has no UI thread to block).
 */
export function computePipeline(device: GPUDevice, descriptor: GPUComputePipelineDescriptor): Promise<GPUComputePipeline> {
  const browserGpu = (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;
  return browserGpu ? device.createComputePipelineAsync(descriptor) : Promise.resolve(device.createComputePipeline(descriptor));
}
