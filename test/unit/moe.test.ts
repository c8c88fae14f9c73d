import { describe, expect, it } from 'vitest';
import { dense, matmul } from '../../src/model/cpu-ops.js';
import { gelu } from '../../src/model/math.js';
import { cpuExperts, routeTokens } from '../../src/model/moe.js';
import { WasmKernels } from '../../src/model/wasm/kernels.js';
import { quantizeLinear } from '../../src/weights/quantize.js';
import type { Quant } from '../../src/weights/weights.js';
import { maxAbsDiff, randomArray, rng } from '../support/random.js';

// The CPU's sparse experts (each over its own tokens, through row blocks of the stacked
// projections) against the dense formulation written out here: every expert over every token,
// weighed by the route, from the same dequantized weights.

const spec = { experts: 4, topK: 2, everyN: 2 };

describe('routeTokens', () => {
  it('keeps each token its top k experts at their softmax probability, ties to the lower expert', () => {
    const logits = Float32Array.from([0, 2, 1, 2, /* */ 3, -1, 0, 0]);
    const { experts, weights } = routeTokens(logits, 2, spec);
    expect([...experts]).toEqual([1, 3, 0, 2]);
    const z0 = 1 + 2 * Math.exp(2) + Math.exp(1);
    const z1 = Math.exp(3) + Math.exp(-1) + 2;
    const want = [Math.exp(2) / z0, Math.exp(2) / z0, Math.exp(3) / z1, 1 / z1];
    expect(maxAbsDiff(weights, want)).toBeLessThan(1e-7);
  });
});

describe('cpuExperts', () => {
  const cases: [Quant, number][] = [
    ['f32', 40],
    ['f16', 40],
    ['q8', 40],
    ['q4', 64],
    // q4 with I not a multiple of its groups of 32: each row of the second projection padded.
    ['q4', 40],
  ];
  it.each(cases)('%s weights, I = %i: the dense formulation within rounding, with and without WebAssembly', (quant, I) => {
    const H = 32;
    const M = 9;
    const E = spec.experts;
    const next = rng(11);
    const ffnIn = quantizeLinear(randomArray(E * I * H, 0.2, next), E * I, H, new Float32Array(E * I), quant);
    const ffnOut = quantizeLinear(randomArray(E * H * I, 0.2, next), E * H, I, new Float32Array(E * H), quant);
    const router = quantizeLinear(randomArray(E * H, 1, next), E, H, new Float32Array(E), 'f32');
    const bias = randomArray(H, 0.1, next);
    const x = randomArray(M * H, 1, next);

    // Expert e's projections are rows [e I, (e + 1) I) of ffnIn and [e H, (e + 1) H) of ffnOut.
    const { experts, weights } = routeTokens(matmul(x, dense(router), M), M, spec);
    const w1 = dense(ffnIn).w;
    const w2 = dense(ffnOut).w;
    const want = new Float32Array(M * H);
    for (let m = 0; m < M; m++) {
      want.set(bias, m * H);
      for (let e = 0; e < E; e++) {
        const slot = [0, 1].find((k) => experts[m * 2 + k] === e);
        const w = slot === undefined ? 0 : (weights[m * 2 + slot] as number);
        const h = Array.from({ length: I }, (_, i) => {
          let s = 0;
          for (let c = 0; c < H; c++) s += (x[m * H + c] as number) * (w1[(e * I + i) * H + c] as number);
          return gelu(s);
        });
        for (let c = 0; c < H; c++) {
          let s = 0;
          for (let i = 0; i < I; i++) s += (h[i] as number) * (w2[(e * H + c) * I + i] as number);
          want[m * H + c] = (want[m * H + c] as number) + w * s;
        }
      }
    }

    for (const kernel of [null, WasmKernels.create()]) {
      const got = cpuExperts({ experts: { router, bias }, ffnIn, ffnOut }, spec, kernel)(x, M);
      // The WebAssembly q8 kernel rounds activations to int16: its own ~1e-4 relative error.
      expect(maxAbsDiff(got, want)).toBeLessThan(kernel && quant === 'q8' ? 2e-3 : 1e-4);
    }
  });
});
