/** How long one slice may hold the thread: short enough that a query arriving meanwhile is not felt. */
export const SLICE_MS = 8;

/**
 * Runs synchronous work a slice at a time, each slice in a task of its own, so that messages and
 * searches arriving meanwhile run between slices. In Node the pending slice does not keep the
 * process alive: a command that is done does not wait for work nobody asked for yet.
 */
export class IdleSlices {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  /** `slice(stop)` works until `stop()` says the slice is over and returns whether all is done. */
  constructor(private readonly slice: (stop: () => boolean) => boolean) {}

  start(): void {
    if (this.stopped || this.timer !== null) return;
    const t = setTimeout(() => {
      this.timer = null;
      if (this.stopped) return;
      const end = performance.now() + SLICE_MS;
      if (!this.slice(() => performance.now() >= end)) this.start();
    }, 0);
    (t as { unref?: () => void }).unref?.();
    this.timer = t;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
