/** Bind group layout entry kinds used by the kernels: uniform params, read-only and writable storage. */
export type BindingKind = 'uniform' | 'read' | 'write';

export function bindGroupLayout(device: GPUDevice, label: string, kinds: readonly BindingKind[]): GPUBindGroupLayout {
  return device.createBindGroupLayout({
    label,
    entries: kinds.map((kind, binding) => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: kind === 'uniform' ? 'uniform' : kind === 'read' ? 'read-only-storage' : 'storage' },
    })),
  });
}

export function bindGroup(
  device: GPUDevice,
  layout: GPUBindGroupLayout,
  resources: readonly (GPUBuffer | GPUBufferBinding)[],
): GPUBindGroup {
  return device.createBindGroup({
    layout,
    entries: resources.map((r, binding) => ({ binding, resource: 'buffer' in r ? r : { buffer: r } })),
  });
}

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

  /** Appends one parameter block; `fields` are u32 unless listed in `floats` by index. */
  push(fields: readonly number[], floats: readonly number[] = []): GPUBufferBinding {
    if (!this.buffer || this.used + UniformArena.SLOT > this.buffer.size) {
      throw new RangeError('UniformArena: more dispatches than begin() reserved');
    }
    const u32 = new Uint32Array(this.staging, this.used, fields.length);
    const f32 = new Float32Array(this.staging, this.used, fields.length);
    fields.forEach((v, i) => {
      if (floats.includes(i)) f32[i] = v;
      else u32[i] = v;
    });
    const binding = { buffer: this.buffer, offset: this.used, size: Math.ceil(fields.length / 4) * 16 };
    this.used += UniformArena.SLOT;
    return binding;
  }

  flush(): void {
    if (this.buffer && this.used > 0) this.device.queue.writeBuffer(this.buffer, 0, this.staging, 0, this.used);
  }

  destroy(): void {
    this.buffer?.destroy();
    this.buffer = null;
  }
}

/** A storage buffer that is re-created larger when a call needs more room, and reused otherwise. */
export class GrowableBuffer {
  private buffer: GPUBuffer | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
    private readonly usage: number = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  ) {}

  ensure(bytes: number): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    if (!this.buffer || this.buffer.size < size) {
      this.buffer?.destroy();
      this.buffer = this.device.createBuffer({ label: this.label, size, usage: this.usage });
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
