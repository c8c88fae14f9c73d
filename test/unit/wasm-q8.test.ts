import { describe, expect, it } from 'vitest';
import { cpuLinear, matmul } from '../../src/model/cpu-ops.js';
import { gelu } from '../../src/model/math.js';
import { activationRange, type PlacedLinear, WasmKernels } from '../../src/model/wasm/kernels.js';
import { dequantizeLinear, quantizeLinear } from '../../src/weights/quantize.js';
import { randomArray, rng } from '../support/random.js';

const kp = (K: number) => Math.ceil(K / 8) * 8;

function place(kernel: WasmKernels, q: Int8Array, scales: Float32Array, b: Float32Array, N: number, K: number): PlacedLinear {
  const placed = kernel.placeQ8(q, scales, b, N, K);
  expect(placed).not.toBeNull();
  return placed as PlacedLinear;
}

/** Random int8 values in [lo, hi]. */
const int8s = (n: number, lo: number, hi: number, next: () => number) =>
  Int8Array.from({ length: n }, () => lo + Math.floor(next() * (hi - lo + 1)));

// The q8 kernels (int8 weights, activations quantised per row to i16) against plain TypeScript.
describe('WebAssembly q8 kernels', () => {
  // Shapes with M % 4 rows left, odd N (the last column of a share), K not a multiple of 8 or 16, M = 1.
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 7, 13],
    [3, 5, 7],
    [4, 2, 8],
    [5, 9, 16],
    [9, 33, 100],
    [13, 64, 256],
    [6, 31, 1030],
  ];

  it('integer activations at the quantisation range and unit scales give the exact integer sums', () => {
    const kernel = WasmKernels.create() as WasmKernels;
    const next = rng(3);
    for (const [M, N, K] of shapes) {
      const A = activationRange(kp(K));
      const q = int8s(N * K, -128, 127, next);
      const p = place(kernel, q, new Float32Array(N).fill(1), new Float32Array(N), N, K);
      // Each row reaches ±A, so its scale is exactly 1 and quantisation leaves it as it is.
      const x = Float32Array.from({ length: M * K }, (_, i) =>
        i % K === 0 ? (next() < 0.5 ? -A : A) : Math.round((next() * 2 - 1) * A),
      );
      const got = kernel.matmul(x, p, M, 'none');
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let sum = 0;
          for (let k = 0; k < K; k++) sum += (x[m * K + k] as number) * (q[n * K + k] as number);
          expect(got[m * N + n]).toBe(Math.fround(sum));
        }
      }
    }
  });

  it('does not overflow at the extremes: every activation at ±A against weights of -128', () => {
    const kernel = WasmKernels.create() as WasmKernels;
    for (const K of [8, 512, 1000, 3072, 4099]) {
      const A = activationRange(kp(K));
      const N = 3;
      const p = place(kernel, new Int8Array(N * K).fill(-128), new Float32Array(N).fill(1), new Float32Array(N), N, K);
      const x = new Float32Array(2 * K);
      x.fill(A, 0, K);
      x.fill(-A, K);
      const got = kernel.matmul(x, p, 2, 'none');
      expect(Array.from(got)).toEqual([
        ...new Array(N).fill(Math.fround(-128 * A * K)),
        ...new Array(N).fill(Math.fround(128 * A * K)),
      ]);
    }
  });

  it('matches the f32 product over the dequantised weights within the quantisation bound, GELU included', () => {
    const kernel = WasmKernels.create() as WasmKernels;
    const next = rng(5);
    // Dirty the scratch first: the padding of weights placed later must still read as zeros.
    const big = quantizeLinear(randomArray(64 * 96, 1, next), 64, 96, randomArray(64, 1, next), 'q8');
    const bigPlaced = place(kernel, new Int8Array(big.data.buffer), big.scales as Float32Array, big.bias, 64, 96);
    kernel.matmul(randomArray(300 * 96, 3, next), bigPlaced, 300, 'gelu');
    for (const [M, N, K] of shapes) {
      const l = quantizeLinear(randomArray(N * K, 1, next), N, K, randomArray(N, 1, next), 'q8');
      const w = dequantizeLinear(l);
      const p = place(kernel, new Int8Array(l.data.buffer, l.data.byteOffset, N * K), l.scales as Float32Array, l.bias, N, K);
      const x = randomArray(M * K, 2, next);
      const plain = matmul(x, { w, b: l.bias, rows: N, cols: K }, M);
      for (const activation of ['none', 'gelu'] as const) {
        const got = kernel.matmul(x, p, M, activation);
        for (let m = 0; m < M; m++) {
          let maxX = 0;
          for (let k = 0; k < K; k++) maxX = Math.max(maxX, Math.abs(x[m * K + k] as number));
          const step = maxX / activationRange(kp(K));
          for (let n = 0; n < N; n++) {
            let absW = 0;
            let absXW = 0;
            for (let k = 0; k < K; k++) {
              absW += Math.abs(w[n * K + k] as number);
              absXW += Math.abs((x[m * K + k] as number) * (w[n * K + k] as number));
            }
            // Each activation is off by at most half a step; then f32 rounding.
            const bound = (step / 2) * absW + 1e-6 * (absXW + 1);
            const want = plain[m * N + n] as number;
            const y = got[m * N + n] as number;
            // GELU's slope is within [-0.17, 1.13].
            if (activation === 'none') expect(Math.abs(y - want)).toBeLessThanOrEqual(bound);
            else expect(Math.abs(y - gelu(want))).toBeLessThanOrEqual(1.13 * bound + 2e-7 * Math.max(1, Math.abs(want)));
          }
        }
      }
    }
  });

  it('an all-zero row gives the bias', () => {
    const kernel = WasmKernels.create() as WasmKernels;
    const next = rng(9);
    const l = quantizeLinear(randomArray(6 * 20, 1, next), 6, 20, randomArray(6, 1, next), 'q8');
    const p = place(kernel, new Int8Array(l.data.buffer, l.data.byteOffset, 120), l.scales as Float32Array, l.bias, 6, 20);
    expect(kernel.matmul(new Float32Array(20), p, 1, 'none')).toEqual(l.bias);
  });

  it('cpuLinear runs q8 weights in the kernel, within 1e-4 of the dequantised TypeScript projection', () => {
    const next = rng(21);
    const [rows, cols, M] = [40, 72, 6];
    const l = quantizeLinear(randomArray(rows * cols, 1, next), rows, cols, randomArray(rows, 1, next), 'q8');
    const x = randomArray(M * cols, 1, next);
    for (const activation of ['none', 'gelu'] as const) {
      const plain = cpuLinear(l, null)(x, M, activation);
      const simd = cpuLinear(l, WasmKernels.create())(x, M, activation);
      let worst = 0;
      let norm = 0;
      plain.forEach((v, j) => {
        worst = Math.max(worst, Math.abs((simd[j] as number) - v));
        norm = Math.max(norm, Math.abs(v));
      });
      expect(worst / norm).toBeLessThan(1e-4);
    }
  });
});
