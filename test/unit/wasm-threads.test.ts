import { describe, expect, it } from 'vitest';
import { EngineLostError } from '../../src/errors.js';
import { attention } from '../../src/model/cpu-ops.js';
import { type PlacedLinear, WasmKernels } from '../../src/model/wasm/kernels.js';
import { KERNELS_SHARED_WASM_BASE64 } from '../../src/model/wasm/kernels-wasm.js';
import { ThreadPool } from '../../src/model/wasm/threads.js';
import { quantizeLinear } from '../../src/weights/quantize.js';
import { randomArray, rng } from '../support/random.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One random q8 projection [N, K] placed in one-thread kernels and in kernels with 3 threads. */
function placedTwice(N: number, K: number, seed: number) {
  const one = WasmKernels.create() as WasmKernels;
  const two = WasmKernels.create({ threads: 3 }) as WasmKernels;
  const next = rng(seed);
  const l = quantizeLinear(randomArray(N * K, 1, next), N, K, randomArray(N, 1, next), 'q8');
  const q = new Int8Array(l.data.buffer, l.data.byteOffset, N * K);
  const p1 = one.placeQ8(q, l.scales as Float32Array, l.bias, N, K) as PlacedLinear;
  const p2 = two.placeQ8(q, l.scales as Float32Array, l.bias, N, K) as PlacedLinear;
  return { one, two, p1, p2, next };
}

// The CPU kernels' thread pool (worker_threads here): chunks of a call shared over one memory.
describe('WebAssembly kernel threads', () => {
  it('split q8 projections and attention give the same bits as one thread, and dispose leaves one thread', async () => {
    const [N, K, M] = [258, 300, 37];
    const { one, two, p1, p2, next } = placedTwice(N, K, 31);
    const x = randomArray(M * K, 2, next);
    const batch = { size: 2, seqLen: 70, lengths: Uint32Array.from([70, 41]) };
    const qkv = randomArray(2 * 70 * 3 * 6 * 16, 1, next);
    const want = one.matmul(x, p1, M, 'gelu');
    const wantCtx = one.attention(qkv, batch, 6, 16);
    // The first large call starts the workers; later calls find them ready.
    for (let i = 0; i < 4; i++) {
      expect(two.matmul(x, p2, M, 'gelu')).toEqual(want);
      expect(two.attention(qkv, batch, 6, 16)).toEqual(wantCtx);
      await sleep(100);
    }
    const plain = attention(qkv, batch, 6, 16);
    for (let i = 0; i < 41 * 96; i++)
      expect(Math.abs((wantCtx[70 * 96 + i] as number) - (plain[70 * 96 + i] as number))).toBeLessThan(1e-5);
    two.dispose();
    expect(two.matmul(x, p2, M, 'gelu')).toEqual(want);
  });

  // More activation rows than weight rows split by rows (qmatmul_rows).
  it('q8 projections split by rows give the same bits as one thread, with M % 4 rows and an odd N', async () => {
    const [N, K, M] = [37, 200, 301];
    const { one, two, p1, p2, next } = placedTwice(N, K, 41);
    const x = randomArray(M * K, 2, next);
    for (const activation of ['none', 'gelu'] as const) {
      const want = one.matmul(x, p1, M, activation);
      for (let i = 0; i < 3; i++) {
        expect(two.matmul(x, p2, M, activation)).toEqual(want);
        await sleep(100);
      }
    }
    two.dispose();
  });

  it('calls that grow the memory (the pool restarts on it) keep the bits of one thread', async () => {
    const { one, two, p1, p2, next } = placedTwice(64, 96, 53);
    for (const M of [40, 160, 640, 2560]) {
      const x = randomArray(M * 96, 2, next);
      expect(two.matmul(x, p2, M, 'none')).toEqual(one.matmul(x, p1, M, 'none'));
    }
    two.dispose();
  });

  // A worker that read a job's final ticket (all chunks claimed) and then the next job's larger
  // chunk count could claim one more chunk on the old ticket and run it with both jobs' arguments
  // mixed: a trap, or silently wrong rows. Unfixed, this failed within 0.5-4 s on 2 idle cores.
  it('a 2-chunk projection then an 8-chunk one, over and over, keep the bits of one thread', () => {
    const next = rng(61);
    const one = WasmKernels.create() as WasmKernels;
    const threaded = WasmKernels.create({ threads: 3 }) as WasmKernels;
    // [N, K, M]: 8 x 8 rows split in 2 chunks; 64 x 64 in 8 (kernels.ts's split), on one pool.
    const cases = (
      [
        [8, 4096, 8],
        [64, 64, 64],
      ] as const
    ).map(([N, K, M]) => {
      const l = quantizeLinear(randomArray(N * K, 1, next), N, K, randomArray(N, 1, next), 'q8');
      const q = new Int8Array(l.data.buffer, l.data.byteOffset, N * K);
      const place = (k: WasmKernels) => k.placeQ8(q, l.scales as Float32Array, l.bias, N, K) as PlacedLinear;
      const x = randomArray(M * K, 2, next);
      return { p: place(threaded), x, M, want: one.matmul(x, place(one), M, 'none') };
    });
    const until = performance.now() + 6000;
    let calls = 0;
    while (performance.now() < until) {
      for (const c of cases) {
        const y = threaded.matmul(c.x, c.p, c.M, 'none');
        if (!y.every((v, i) => v === c.want[i])) expect.fail(`call ${calls}: wrong rows`);
        calls++;
      }
    }
    threaded.dispose();
    expect(calls).toBeGreaterThan(1000);
  });

  // Workers of a replaced pool stop only when terminate() reaches them: one descheduled between
  // reading a ticket and claiming it must never find that ticket current again.
  it('a pool replacing another on the same memory goes on from its job numbers', async () => {
    const bytes = Uint8Array.from(atob(KERNELS_SHARED_WASM_BASE64), (c) => c.charCodeAt(0));
    const module = new WebAssembly.Module(bytes);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const ticket = () => new Int32Array(memory.buffer, 0, 1)[0] as number;
    // qmatmul over no rows: chunks that do nothing wherever they run.
    const job = { op: 'qmatmul' as const, args: [0, 0, 0, 0, 0, 0, 0, 64, 8, 0, 64, 0], count: 64, unit: 1, chunks: 8, range: 9 };
    const tickets = (pool: ThreadPool) =>
      Array.from({ length: 5 }, () => {
        pool.run(job, () => {});
        return ticket();
      });
    const first = new ThreadPool(memory, module, 1);
    const old = tickets(first);
    first.dispose();
    const second = new ThreadPool(memory, module, 1);
    const now = tickets(second);
    second.dispose();
    expect(Math.min(...now)).toBeGreaterThan(Math.max(...old));
  });

  it('a chunk that throws in a worker fails the call with EngineLostError and ends the pool', async () => {
    const bytes = Uint8Array.from(atob(KERNELS_SHARED_WASM_BASE64), (c) => c.charCodeAt(0));
    const module = new WebAssembly.Module(bytes);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const pool = new ThreadPool(memory, module, 2);
    await sleep(300);
    // qmatmul with y far past the end of memory: every chunk a worker takes traps. This thread's
    // chunks are slow no-ops, so that the workers get some.
    const job = {
      op: 'qmatmul' as const,
      args: [0, 0, 0, 0, 0, 2 ** 30, 1, 64, 8, 0, 64, 0],
      count: 64,
      unit: 1,
      chunks: 64,
      range: 9,
    };
    const own = () => {
      const until = performance.now() + 1;
      while (performance.now() < until);
    };
    expect(() => pool.run(job, own)).toThrow(EngineLostError);
    expect(pool.alive).toBe(false);
  });
});
