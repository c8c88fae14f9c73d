import { alignUp } from './layout.js';

/** New chunks are at least this big, so small tensors (scales) do not each take one. */
const MIN_CHUNK = 1 << 20;

/**
 * Storage for one shard's quantized tensors, reused shard after shard: a conversion that made
 * them in new buffers would drop the whole pack's worth of buffers on the garbage collector,
 * which in a browser runs only once tens of MB have piled up. Allocations are zeroed and
 * 16-byte aligned; `reset` hands the same memory out again, so whatever was allocated before
 * must no longer be in use.
 */
export class Arena {
  private readonly chunks: Uint8Array[] = [];
  private chunk = 0;
  private used = 0;

  readonly alloc = (bytes: number): Uint8Array => {
    for (; this.chunk < this.chunks.length; this.chunk++, this.used = 0) {
      const c = this.chunks[this.chunk] as Uint8Array;
      const at = alignUp(this.used);
      if (at + bytes <= c.length) {
        this.used = at + bytes;
        return c.subarray(at, at + bytes).fill(0);
      }
    }
    const c = new Uint8Array(Math.max(alignUp(bytes), MIN_CHUNK));
    this.chunks.push(c);
    this.used = bytes;
    return c.subarray(0, bytes);
  };

  reset(): void {
    this.chunk = 0;
    this.used = 0;
  }
}
