import { EngineLostError } from '../../errors.js';

/**
 * Workers that run kernels.wat's exports on the kernels' shared memory, so that one call splits
 * across cores: browser workers where the page is cross-origin isolated, worker_threads in Node.
 * A call is cut into chunks (column or row blocks of a projection, heads of attention) that the calling
 * thread and whichever workers are awake claim one at a time from a ticket word at the start of
 * that memory (Atomics), not by messages: a hand-over costs microseconds, and a worker the OS has
 * not scheduled claims nothing, so the caller never waits for it (it does the chunks itself).
 */

/** The kernels' exports a worker runs. */
export type ThreadOp = 'qmatmul' | 'qmatmul_rows' | 'attention';
const OPS: readonly ThreadOp[] = ['qmatmul', 'qmatmul_rows', 'attention'];

/** Bytes at the start of the kernels' memory that hold the job in flight. */
export const CONTROL_BYTES = 512;
// i32 words. TICKET: the job's number (high bits) and its next unclaimed chunk (low CHUNK_BITS).
const TICKET = 0;
const FINISHED = 1;
const FAILED = 2;
const OP = 3;
const ARGC = 4;
const CHUNKS = 5;
const COUNT = 6;
const UNIT = 7;
const RANGE_ARG = 8;
const SCRATCH_ARG = 9;
const SCRATCH_STRIDE = 10;
// Which pool on this memory is current: one replaced (its memory grew) stops its workers with it.
const EPOCH = 11;
// f64 index of the first argument: after the i32 words above.
const ARGS = 6;
const MAX_ARGS = CONTROL_BYTES / 8 - ARGS;
const CHUNK_BITS = 8;
/** The most chunks one job may have. */
export const MAX_CHUNKS = (1 << CHUNK_BITS) - 1;
// How long a worker spins on the ticket after a job before it sleeps: the next projection of a
// forward comes within that, and a futex wake-up costs tens of microseconds.
const SPIN_MS = 2;

/** Chunk k of a job cut into `chunks` of whole `unit`s over [0, count): where it starts. */
const bound = (count: number, unit: number, chunks: number, k: number) =>
  Math.min(count, Math.round((Math.ceil(count / unit) * k) / chunks) * unit);

const WORKER_SOURCE = `'use strict';
const bound = ${bound.toString()};
const start = ({ module, memory, epoch }) => {
  const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const c = new Int32Array(memory.buffer, 0, ${CONTROL_BYTES / 4});
  const f = new Float64Array(memory.buffer, 0, ${CONTROL_BYTES / 8});
  const ops = ${JSON.stringify(OPS)};
  let seen = Atomics.load(c, ${TICKET});
  for (;;) {
    const until = performance.now() + ${SPIN_MS};
    for (let i = 1; Atomics.load(c, ${TICKET}) === seen; i++) {
      if ((i & 1023) !== 0) continue;
      if (Atomics.load(c, ${EPOCH}) !== epoch) return;
      if (performance.now() > until) Atomics.wait(c, ${TICKET}, seen, 100);
    }
    for (;;) {
      const t = Atomics.load(c, ${TICKET});
      seen = t;
      const chunk = t & ${MAX_CHUNKS};
      const chunks = c[${CHUNKS}];
      if (chunk >= chunks) break;
      const a = Array.from(f.subarray(${ARGS}, ${ARGS} + c[${ARGC}]));
      const op = ops[c[${OP}]];
      const r = c[${RANGE_ARG}];
      a[r] = bound(c[${COUNT}], c[${UNIT}], chunks, chunk);
      a[r + 1] = bound(c[${COUNT}], c[${UNIT}], chunks, chunk + 1);
      if (c[${SCRATCH_ARG}] >= 0) a[c[${SCRATCH_ARG}]] += chunk * c[${SCRATCH_STRIDE}];
      // A newer pool posted this job: its workers run it (this one's instance may not see the
      // grown memory). Checked after the ticket was read, so such a job is always seen as new.
      if (Atomics.load(c, ${EPOCH}) !== epoch) return;
      // Another thread took this chunk, or a newer job replaced the one read: read again.
      if (Atomics.compareExchange(c, ${TICKET}, t, t + 1) !== t) continue;
      try {
        k[op](...a);
      } catch {
        Atomics.store(c, ${FAILED}, 1);
      }
      Atomics.add(c, ${FINISHED}, 1);
      Atomics.notify(c, ${FINISHED});
    }
  }
};
if (typeof self === 'undefined') require('node:worker_threads').parentPort.once('message', start);
else self.onmessage = (e) => start(e.data);
`;

interface Thread {
  post(message: unknown): void;
  terminate(): void;
}

type NodeWorkers = typeof import('node:worker_threads');

const nodeWorkers = (): NodeWorkers | null =>
  typeof process !== 'undefined' && typeof process.getBuiltinModule === 'function'
    ? (process.getBuiltinModule('node:worker_threads') as NodeWorkers)
    : null;

let workerUrl: string | undefined;

/** A worker running WORKER_SOURCE, or null where this context cannot start one. */
function spawn(onError: () => void): Thread | null {
  const node = nodeWorkers();
  if (node) {
    const w = new node.Worker(WORKER_SOURCE, { eval: true });
    // A pool an encoder never disposed must not keep Node running.
    w.unref();
    w.on('error', onError);
    return { post: (m) => w.postMessage(m), terminate: () => void w.terminate() };
  }
  if (typeof Worker === 'undefined' || typeof Blob === 'undefined') return null;
  workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const w = new Worker(workerUrl, { name: 'm3web-cpu' });
  w.onerror = onError;
  return { post: (m) => w.postMessage(m), terminate: () => w.terminate() };
}

/**
 * Whether this thread may block in Atomics.wait (a page's main thread may not) and has shared
 * memory (a browser only when cross-origin isolated).
 */
export function canShareMemory(): boolean {
  if (typeof SharedArrayBuffer === 'undefined' || (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false)
    return false;
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** The cores this context reports (1 where it says nothing). */
export function hardwareThreads(): number {
  const os =
    typeof process !== 'undefined' && typeof process.getBuiltinModule === 'function' ? process.getBuiltinModule('node:os') : null;
  if (os) return (os as typeof import('node:os')).availableParallelism();
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
}

/**
 * One call cut into `chunks` pieces of [0, count) in whole `unit`s: chunk k runs `op` with
 * args[range] and args[range + 1] set to its start and end, and args[scratch.arg] moved by k *
 * scratch.stride bytes (room of its own).
 */
export interface ThreadJob {
  op: ThreadOp;
  args: readonly number[];
  count: number;
  unit: number;
  chunks: number;
  range: number;
  scratch?: { arg: number; stride: number };
}

export class ThreadPool {
  private readonly threads: (Thread | null)[] = [];
  private readonly c: Int32Array;
  private jobs = 0;
  private broken = false;

  /**
   * Starts `count` workers on `memory` (shared) running `module`. A pool that replaces an earlier
   * one on the same memory (WasmKernels restarts its pool when the memory grows) takes over its
   * control words: a new epoch stops the old workers, which a terminate() reaches only later, and
   * job numbers go on from the old pool's, so a ticket an old worker read while descheduled never
   * comes round again for it to claim (it would run a chunk with another job's arguments).
   */
  constructor(
    private readonly memory: WebAssembly.Memory,
    module: WebAssembly.Module,
    count: number,
  ) {
    this.c = new Int32Array(memory.buffer, 0, CONTROL_BYTES / 4);
    const epoch = Atomics.add(this.c, EPOCH, 1) + 1;
    this.jobs = Atomics.load(this.c, TICKET) >>> CHUNK_BITS;
    for (let i = 0; i < count; i++) {
      let thread: Thread | null = null;
      try {
        thread = spawn(() => this.lose(i));
        thread?.post({ module, memory, epoch });
      } catch {
        thread = null;
      }
      this.threads.push(thread);
    }
  }

  /** Whether any worker may still take chunks. */
  get alive(): boolean {
    return !this.broken && this.threads.some((t) => t !== null);
  }

  /**
   * Runs every chunk of `job`, on this thread (`own` runs a chunk here, given its args) and on the
   * workers awake. A chunk that threw in a worker, or a worker that has not finished its chunk
   * long after the others (it died), fails the call with EngineLostError and ends the pool:
   * later calls run on one thread.
   */
  run(job: ThreadJob, own: (args: number[]) => void): void {
    const { c } = this;
    // One below the most the ticket's bits hold: the caller's last claim overshoots by one.
    const chunks = Math.min(job.chunks, MAX_CHUNKS - 1);
    if (job.args.length > MAX_ARGS) throw new RangeError(`a thread job takes at most ${MAX_ARGS} arguments`);
    // Close the previous job's ticket (no chunk index passes any job's CHUNKS) before its words
    // change: a worker that read that job's final ticket, all chunks claimed, and then this job's
    // larger CHUNKS took the ticket for one more chunk and ran it with a mix of both jobs'
    // arguments (wrong vectors or trashed weights; a 4-chunk attention before an 8-chunk projection).
    Atomics.store(c, TICKET, (this.jobs << CHUNK_BITS) | MAX_CHUNKS);
    c[FINISHED] = 0;
    c[FAILED] = 0;
    c[OP] = OPS.indexOf(job.op);
    c[ARGC] = job.args.length;
    c[CHUNKS] = chunks;
    c[COUNT] = job.count;
    c[UNIT] = job.unit;
    c[RANGE_ARG] = job.range;
    c[SCRATCH_ARG] = job.scratch?.arg ?? -1;
    c[SCRATCH_STRIDE] = job.scratch?.stride ?? 0;
    new Float64Array(this.memory.buffer, 0, CONTROL_BYTES / 8).set(job.args, ARGS);
    this.jobs = (this.jobs + 1) & (2 ** (31 - CHUNK_BITS) - 1);
    Atomics.store(c, TICKET, this.jobs << CHUNK_BITS);
    Atomics.notify(c, TICKET);
    let started = 0;
    let mine = 0;
    // A chunk that throws here ends this thread's work, not its claims: the chunks left are
    // claimed and skipped, so no worker runs a chunk of this job once the next one is posted.
    let error: { thrown: unknown } | null = null;
    for (;;) {
      const t = Atomics.add(c, TICKET, 1);
      const chunk = t & MAX_CHUNKS;
      if (chunk >= chunks) {
        // Undo the overshoot, so the low bits never carry into the job number.
        Atomics.sub(c, TICKET, 1);
        break;
      }
      if (!error) {
        const args = [...job.args];
        args[job.range] = bound(job.count, job.unit, chunks, chunk);
        args[job.range + 1] = bound(job.count, job.unit, chunks, chunk + 1);
        if (job.scratch) args[job.scratch.arg] = (args[job.scratch.arg] as number) + chunk * job.scratch.stride;
        if (mine++ === 0) started = performance.now();
        try {
          own(args);
        } catch (thrown) {
          error = { thrown };
        }
      }
      Atomics.add(c, FINISHED, 1);
    }
    this.await(chunks, performance.now() + 10_000 + (100 * (performance.now() - started)) / Math.max(1, mine));
    if (error) throw error.thrown;
    if (Atomics.load(c, FAILED)) this.fail('a chunk threw in a CPU kernel thread');
  }

  dispose(): void {
    for (const t of this.threads) t?.terminate();
    this.threads.fill(null);
    this.broken = true;
  }

  /** Waits until all `chunks` have finished; the others are in flight on workers. */
  private await(chunks: number, deadline: number): void {
    const { c } = this;
    // The chunks are small, so the workers' last ones are about done: spin before sleeping.
    const spinUntil = performance.now() + SPIN_MS;
    for (let n = 1; ; n++) {
      const finished = Atomics.load(c, FINISHED);
      if (finished >= chunks) return;
      if ((n & 1023) !== 0) continue;
      const now = performance.now();
      if (now > deadline) this.fail('a CPU kernel thread stopped answering');
      if (now > spinUntil) Atomics.wait(c, FINISHED, finished, 50);
    }
  }

  private fail(reason: string): never {
    this.dispose();
    throw new EngineLostError(`${reason}; this call is lost, later ones run on one thread`);
  }

  /** A worker that failed to start or crashed: never counted on again. */
  private lose(i: number): void {
    this.threads[i]?.terminate();
    this.threads[i] = null;
  }
}
