import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { LateInteractionScorer } from '../../src/model/late-interaction.js';
import { parseHfConfig } from '../../src/weights/config.js';
import type { LateInteractionSpec } from '../../src/weights/encoder-config.js';
import { quantizeLinear } from '../../src/weights/quantize.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { testGpu } from '../support/gpu.js';

// Late interaction (ColBERT) on WebGPU (Dawn in Node, Chromium's adapter in the browser) against
// test/oracle/make_colbert.py: every token's state read back, a query's expansion tokens computed
// although no token attends to them, then the projection and MaxSim on the CPU.

interface Expected {
  query_ids: number[][];
  query_attended: number[];
  document_ids: number[][];
  skiplist: number[];
  scores: number[][];
}

describe.each(['colbert-stanford-tiny', 'colbert-pylate-tiny', 'colbert-modernbert-tiny'])('%s on WebGPU', (model) => {
  it("the token states of queries (with expansion) and documents give the oracle's MaxSim scores", async () => {
    const dir = `test/oracle/fixtures/${model}`;
    const config = parseHfConfig(await readFixtureJson(`${dir}/config.json`));
    const weights = await weightsFromTensors(config, new SafetensorsFile(await readFixtureBytes(`${dir}/model.safetensors`)));
    const expected = await readFixtureJson<Expected>(`${dir}/expected.json`);
    const projectionFile = model.includes('stanford') ? `${dir}/model.safetensors` : `${dir}/1_Dense/model.safetensors`;
    const linear = await new SafetensorsFile(await readFixtureBytes(projectionFile)).get('linear.weight', [
      24,
      config.hiddenSize,
    ]);
    const spec: LateInteractionSpec = {
      dim: 24,
      queryLength: 32,
      documentLength: 40,
      queryMarker: null,
      documentMarker: null,
      expansionToken: 4,
      attendExpansion: false,
      skiplist: expected.skiplist,
      projection: ['identity'],
    };
    const module = {
      linear: quantizeLinear(linear, 24, config.hiddenSize, new Float32Array(24), 'f32'),
      activation: 'identity' as const,
    };
    const scorer = new LateInteractionScorer([module], spec);
    const backend = await GpuEncoder.create(await testGpu(), weights);
    try {
      const L = config.numLayers;
      const queries = await backend.hiddenStates(expected.query_ids, L, expected.query_attended);
      const documents = await backend.hiddenStates(expected.document_ids, L);
      const scores = (qs: Float32Array[]) =>
        qs.map((q, i) => {
          const qv = scorer.vectors(q, expected.query_ids[i] as number[], false);
          return documents.map((d, j) => scorer.score(qv, scorer.vectors(d, expected.document_ids[j] as number[], true)));
        });
      const off = (got: number[][]) =>
        Math.max(...got.flatMap((row, i) => row.map((s, j) => Math.abs(s - (expected.scores[i]?.[j] as number)))));
      const worst = off(scores(queries));
      console.log(`${model} webgpu f32: max |score - oracle| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-3);
      // Expansion tokens attended (every token of the query) move the scores.
      expect(off(scores(await backend.hiddenStates(expected.query_ids, L)))).toBeGreaterThan(0.05);
    } finally {
      backend.dispose();
    }
  });
});
