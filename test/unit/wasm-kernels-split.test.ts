import { describe, expect, it } from 'vitest';
import { WasmKernels } from '../../src/model/wasm/kernels.js';
import { quantizeLinear } from '../../src/weights/quantize.js';
import { randomArray, rng } from '../support/random.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Projections with more activation rows than weight rows split by rows across threads
// (qmatmul_rows); the shares must add up to the one-thread result, bit for bit.
describe('WebAssembly q8 kernels split by rows', () => {
  it('give the same bits as one thread, with M % 4 rows and an odd N', async () => {
    const one = WasmKernels.create() as WasmKernels;
    const three = WasmKernels.create({ threads: 3 }) as WasmKernels;
    const next = rng(41);
    const [N, K, M] = [37, 200, 301];
    const l = quantizeLinear(randomArray(N * K, 1, next), N, K, randomArray(N, 1, next), 'q8');
    const q = new Int8Array(l.data.buffer, l.data.byteOffset, N * K);
    const p1 = one.placeQ8(q, l.scales as Float32Array, l.bias, N, K);
    const p3 = three.placeQ8(q, l.scales as Float32Array, l.bias, N, K);
    const x = randomArray(M * K, 2, next);
    for (const activation of ['none', 'gelu'] as const) {
      const want = one.matmul(x, p1 as NonNullable<typeof p1>, M, activation);
      // The first large call starts the workers; later calls find them ready.
      for (let i = 0; i < 3; i++) {
        expect(three.matmul(x, p3 as NonNullable<typeof p3>, M, activation)).toEqual(want);
        await sleep(100);
      }
    }
    three.dispose();
  });
});
