/**
 * Rows embedded again per slice: one encoder call and one commit each, so a search or a write
 * waits behind one slice at most, never behind the whole index.
 */
export const SLICE_ROWS = 32;

/**
 * What one slice did: 'more' (it committed, look again), 'done' (no row left below the index's
 * exit) or 'wait' (the progressive start is still to load the index's exit: its upgrade starts again).
 */
export type SliceResult = 'more' | 'done' | 'wait';

/**
 * Runs an index's re-embedding in the background, a slice at a time, one run at a time: a
 * start while one runs makes it look again when it ends (the upgrade or write that asked may
 * have come after its last look). A failure ends the run and is kept for the index's next call
 * to report; stop() aborts the slice in flight (its encoder call sees the signal) and keeps
 * any failure that follows to itself.
 */
export class Reembedder {
  private running = false;
  private again = false;
  private failure: { error: unknown } | null = null;
  private readonly abort = new AbortController();

  constructor(private readonly slice: (signal: AbortSignal) => Promise<SliceResult>) {}

  start(): void {
    if (this.abort.signal.aborted) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.run();
  }

  /** The failure of the last run, once; null when none happened since the last call. */
  takeFailure(): { error: unknown } | null {
    const f = this.failure;
    this.failure = null;
    return f;
  }

  stop(): void {
    this.abort.abort();
  }

  private async run(): Promise<void> {
    const { signal } = this.abort;
    try {
      do {
        this.again = false;
        let done: SliceResult;
        do {
          done = await this.slice(signal);
        } while (done === 'more' && !signal.aborted);
      } while (this.again && !signal.aborted);
    } catch (error) {
      // Retried at the next start, not now: a failure that lasts (offline) would spin.
      if (!signal.aborted) this.failure = { error };
    } finally {
      this.running = false;
    }
  }
}
