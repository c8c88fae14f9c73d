import { GpuError } from '../errors.js';
import { createGpuContext, type GpuContext } from './device.js';
import { GpuQueue } from './queue.js';

/** A live device and the one queue everything on it submits through. */
export interface GpuHandle {
  gpu: GpuContext;
  queue: GpuQueue;
}

/**
 * The engine's one GPU device, shared by the encoder and every index scoring on it. Made on first
 * use; after a loss, the first caller to ask makes the replacement and everyone else gets that
 * one, so a lost device is recovered once for all its users. Where no adapter exists, the
 * failure is remembered instead of asked again on every call.
 */
export class GpuSession {
  private current: Promise<GpuHandle> | null = null;
  private unavailable: GpuError | null = null;
  private disposed = false;

  constructor(private readonly create: () => Promise<GpuContext> = () => createGpuContext()) {}

  async acquire(): Promise<GpuHandle> {
    for (;;) {
      if (this.disposed) throw new GpuError('GPU_UNAVAILABLE', 'the GPU session was closed');
      if (this.unavailable) throw this.unavailable;
      const pending = this.current;
      if (!pending) {
        this.current = this.open();
        continue;
      }
      let live: GpuHandle;
      try {
        live = await pending;
      } catch (err) {
        // This call reports the failure; the next acquire tries again (unless it was final).
        if (this.current === pending) this.current = null;
        throw err;
      }
      if (!live.queue.lostError) return live;
      // Another caller replaced the device while this one awaited: take that one.
      if (this.current === pending) this.current = this.open();
    }
  }

  /** Destroys the device now, as a driver reset would: the next acquire() makes a new one. */
  async loseDevice(): Promise<void> {
    const live = this.current && (await this.current.catch(() => null));
    if (!live) return;
    // Marked at once: device.lost settles only on a later tick, and a caller in between must
    // not be handed the dead device.
    live.queue.markLost('destroyed by simulateDeviceLoss()');
    live.gpu.device.destroy();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.current?.then(
      (h) => {
        h.queue.destroy();
        h.gpu.device.destroy();
      },
      () => undefined,
    );
    this.current = null;
  }

  private async open(): Promise<GpuHandle> {
    let gpu: GpuContext;
    try {
      gpu = await this.create();
    } catch (err) {
      if (err instanceof GpuError && err.code === 'GPU_UNAVAILABLE') this.unavailable = err;
      throw err;
    }
    if (this.disposed) {
      gpu.device.destroy();
      throw new GpuError('GPU_UNAVAILABLE', 'the GPU session was closed');
    }
    return { gpu, queue: new GpuQueue(gpu) };
  }
}
