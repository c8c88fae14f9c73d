import { afterAll, describe, expect, it, vi } from 'vitest';
import { CpuEncoder } from '../../src/model/cpu.js';
import type { AdaptiveOptions } from '../../src/model/encoder.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { BertGraph } from '../../src/model/gpu-bert.js';
import { testGpu } from '../support/gpu.js';
import { m3Mini } from '../support/m3-mini.js';
import { cosine } from '../support/random.js';

/**
 * Adaptive depth on WebGPU (SwiftShader in CI) against the CPU: the same exits per text, the same
 * vectors, and each stretch of layers dispatched over the running rows only.
 */
describe('adaptive depth on WebGPU (bundled m3-mini, q8)', async () => {
  const { weights, exits, ids } = await m3Mini();
  const cpu = new CpuEncoder(weights);
  const gpu = await GpuEncoder.create(await testGpu(), weights);
  afterAll(() => gpu.dispose());
  // The short fixture texts; at 256 dims tolerance 0.9705 is >= 5e-4 from every text's cosine
  // between consecutive exits and splits them between exits 2 and 3 (test/unit/adaptive.test.ts).
  const tokens = [...Array.from({ length: 12 }, (_, i) => i), 24].map((i) => ids[i] as number[]);
  const options = (tolerance: number): AdaptiveOptions => ({ exits, tolerance, dims: 256, pooling: 'mean', normalize: true });

  it('stops each text where the CPU does, with its vectors, dispatching each stretch over the running rows', async () => {
    const encodeLayers = vi.spyOn(BertGraph.prototype, 'encodeLayers');
    let got: Awaited<ReturnType<GpuEncoder['embedAdaptive']>>;
    let stretches: number[][];
    try {
      got = await gpu.embedAdaptive(tokens, options(0.9705));
      stretches = encodeLayers.mock.calls.map(([, , inputs, from, to]) => [from, to, inputs.batch.size]);
    } finally {
      encodeLayers.mockRestore();
    }
    const want = await cpu.embedAdaptive(tokens, options(0.9705));
    expect(got.layers).toEqual(want.layers);
    expect([...new Set(got.layers)].sort()).toEqual([2, 3]);
    for (const [i, v] of got.vectors.entries()) expect(cosine(v, want.vectors[i] as Float32Array)).toBeGreaterThanOrEqual(0.9999);

    // One stretch per exit reached (1, 2, 3), over 13, 13 and then only the texts past exit 2.
    const past2 = got.layers.filter((l) => l > 2).length;
    expect(stretches).toEqual([
      [0, 1, 13],
      [1, 2, 13],
      [2, 3, past2],
    ]);
    expect(got.textsPerLayer).toEqual([13, 13, past2, 0, 0, 0]);

    // Each vector is the fixed-depth vector at its exit.
    for (const exit of [2, 3]) {
      const at = tokens.map((_, i) => i).filter((i) => got.layers[i] === exit);
      const fixed = await gpu.embed(
        at.map((i) => tokens[i] as number[]),
        { layers: exit, dims: 256, pooling: 'mean', normalize: true },
      );
      for (const [k, t] of at.entries()) {
        expect(cosine(got.vectors[t] as Float32Array, fixed[k] as Float32Array)).toBeGreaterThanOrEqual(0.9999);
      }
    }
  });

  it('tolerance 1 runs every text to the last exit; a tiny one stops all at the second', async () => {
    expect((await gpu.embedAdaptive(tokens.slice(0, 4), options(1))).layers).toEqual([6, 6, 6, 6]);
    expect((await gpu.embedAdaptive(tokens.slice(0, 4), options(1e-6))).layers).toEqual([2, 2, 2, 2]);
  });
});
