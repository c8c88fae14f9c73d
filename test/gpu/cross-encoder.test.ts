import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEncoder } from '../../src/client/client.js';

// Cross-encoders on WebGPU (Node, Dawn) against test/oracle/make_cross_encoder.py: the pair's second
// segment reaches the GPU as token-type rows added to the gathered word rows, and the first token's
// state goes through the classifier head.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');

describe.each(['ce-bert-tiny', 'ce-xlmr-tiny'])('%s on WebGPU', (model) => {
  const dir = join(FIXTURES, model);
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as {
    pairs: [string, string][];
    scores: number[];
  };

  it('scores every pair as the oracle does, in one call per query', async () => {
    const enc = await createEncoder({ model: dir, device: 'webgpu', dtype: 'f32' });
    try {
      expect((await enc.info()).backend).toBe('webgpu');
      const queries = [...new Set(expected.pairs.map(([q]) => q))];
      let worst = 0;
      for (const query of queries) {
        const at = expected.pairs.flatMap(([q], i) => (q === query ? [i] : []));
        const hits = await enc.rerank(
          query,
          at.map((i) => (expected.pairs[i] as [string, string])[1]),
        );
        for (const h of hits) worst = Math.max(worst, Math.abs(h.score - (expected.scores[at[h.index] as number] as number)));
      }
      console.log(`${model} webgpu f32: max |score - oracle| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-5);
    } finally {
      await enc.dispose();
    }
  });
});
