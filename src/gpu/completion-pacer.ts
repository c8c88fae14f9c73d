/**
 * Dawn's Node binding (the `webgpu` package) settles GPU promises by ticking the device from
 * setImmediate for as long as one is pending, so awaiting a readback keeps one CPU core busy for
 * the whole forward pass. On a software adapter that core is one the adapter's own threads need:
 * on 2 cores with lavapipe, a loop of 16 x 1536 x 384 q8 matmuls ran at 6.3 GFLOP/s waiting at
 * once and at 9.0 sleeping through most of each submission first. On a hardware GPU the poll
 * only burns a core. So where waiting polls, the pacer sleeps for most of the time that work of
 * the same size took before and only then starts waiting. Browsers wait in another process: there
 * the pacer does nothing.
 */
export class CompletionPacer {
  /** The last few observed milliseconds per unit of work, per octave of work (small calls carry more overhead). */
  private readonly seen = new Map<number, number[]>();

  constructor(private readonly enabled: boolean) {}

  /**
   * Waits for `done` (a mapAsync or onSubmittedWorkDone begun now, after a submission of `work`
   * units: any measure proportional to its GPU time) and learns how long such work takes.
   */
  async settle<T>(work: number, done: () => Promise<T>): Promise<T> {
    if (!this.enabled || !(work > 0)) return done();
    const start = performance.now();
    const octave = Math.round(Math.log2(work));
    const seen = this.seen.get(octave) ?? [];
    // Sleeping past completion adds latency; waiting early only polls for the rest. So the sleep
    // follows the fastest recent call: a one-off slow call (the first, which compiles and grows
    // buffers; a GC pause) never lengthens it, and a GPU that slows down lengthens it only once
    // every recent call was slow.
    const sleep = seen.length >= MIN_SEEN ? SLEEP_SHARE * Math.min(...seen) * work : 0;
    if (sleep >= MIN_SLEEP_MS) await new Promise((resolve) => setTimeout(resolve, sleep));
    const waitStart = performance.now();
    const result = await done();
    const end = performance.now();
    // A call that never slept was measured while polling, which slows a software adapter that
    // shares the CPU (~1.5x on 2 cores), and a sleep that ended with the work done bounds its time
    // only from above: neither is the work's time.
    const bound = sleep < MIN_SLEEP_MS || end - waitStart < OVERSHOT_MS;
    seen.push(((bound ? UPPER_BOUND_SHARE : 1) * (end - start)) / work);
    if (seen.length > KEEP) seen.shift();
    this.seen.set(octave, seen);
    return result;
  }
}

const SLEEP_SHARE = 0.85;
/** Calls of a size seen before the pacer sleeps for it, and how many it remembers. */
const MIN_SEEN = 2;
const KEEP = 3;
/** Work that is done before the sleep ends resolves within this; a poll finds it at once. */
const OVERSHOT_MS = 1;
/** What an upper bound counts for: the work took at most that long, probably much less. */
const UPPER_BOUND_SHARE = 0.7;
/** Node's timers have millisecond granularity; a shorter sleep is all overhead. */
const MIN_SLEEP_MS = 2;
