import { describe, expect, it } from 'vitest';
import { DisposedError } from '../../src/errors.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { testGpu } from '../support/gpu.js';
import { bertConfig, cosine, randomBert, randomTokens } from '../support/random.js';

describe('GpuEncoder', async () => {
  const config = bertConfig({ hiddenSize: 32, numHeads: 2, intermediateSize: 64, numLayers: 3, maxPositions: 520 });
  const weights = randomBert(config, 'q8', 5);
  // Submissions of 8k tokens rather than 32k: a call crosses them at a quarter of the work.
  const gpu = await GpuEncoder.create(await testGpu(), weights, undefined, { submissionTokens: 8192 });
  const cpu = new CpuEncoder(weights);
  const options = { layers: 2, dims: 20, pooling: 'mean' as const, normalize: true };

  it('keeps input order across length buckets and over calls split into submissions', async () => {
    // 150 texts of 60 tokens plus short ones: batches of 68, 68 and 17 texts (4,080, 4,080 and
    // 1,020 padded tokens), the first two one submission of 8k, the third a second.
    const lengths = [3, ...new Array(150).fill(60), 1, 9];
    const tokens = randomTokens(lengths, config.vocabSize, 11);
    const [got, want] = await Promise.all([gpu.embed(tokens, options), cpu.embed(tokens, options)]);
    expect(got).toHaveLength(lengths.length);
    got.forEach((v, i) => {
      expect(v).toHaveLength(20);
      expect(cosine(v, want[i] as Float32Array)).toBeGreaterThan(0.99999);
    });
  });

  it('paces its waits where awaiting polls (Dawn in Node), not in a browser', async () => {
    expect(gpu.gpu.waitPolls).toBe(typeof window === 'undefined');
    const tokens = randomTokens([40, 40], config.vocabSize, 3);
    const first = await gpu.embed(tokens, options);
    // Later calls of the same size sleep before they wait; the vectors are the same.
    for (let i = 0; i < 3; i++) expect(await gpu.embed(tokens, options)).toEqual(first);
  });

  it('queues concurrent calls and resolves each with its own result', async () => {
    const calls = [1, 2, 3, 4].map((n) => randomTokens([n * 5, n], config.vocabSize, n));
    const results = await Promise.all(calls.map((t) => gpu.embed(t, options)));
    for (const [i, t] of calls.entries()) {
      const want = await cpu.embed(t, options);
      for (const [j, v] of (results[i] ?? []).entries()) {
        expect(cosine(v, want[j] as Float32Array)).toBeGreaterThan(0.99999);
      }
    }
  });

  it('rejects calls after dispose with DisposedError', async () => {
    const other = await GpuEncoder.create(await testGpu(), weights);
    other.dispose();
    await expect(other.embed([[1, 2]], options)).rejects.toBeInstanceOf(DisposedError);
  });
});
