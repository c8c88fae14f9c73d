import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { LateInteractionScorer, maxSim } from '../../src/model/late-interaction.js';
import { parseHfConfig } from '../../src/weights/config.js';
import type { LateInteractionSpec } from '../../src/weights/encoder-config.js';
import { quantizeLinear } from '../../src/weights/quantize.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { testGpu } from '../support/gpu.js';

// Late interaction (ColBERT) on WebGPU (Dawn in Node, Chromium's adapter in the browser) against
// test/oracle/make_colbert.py: a query's expansion tokens computed although no token attends to
// them, every token projected on the GPU (or, for a Tanh module, on the CPU after the readback),
// then normalisation and MaxSim on the CPU.

interface Expected {
  query_ids: number[][];
  query_attended: number[];
  document_ids: number[][];
  skiplist: number[];
  scores: number[][];
}

async function setup(model: string) {
  const dir = `test/oracle/fixtures/${model}`;
  const config = parseHfConfig(await readFixtureJson(`${dir}/config.json`));
  const weights = await weightsFromTensors(config, new SafetensorsFile(await readFixtureBytes(`${dir}/model.safetensors`)));
  const expected = await readFixtureJson<Expected>(`${dir}/expected.json`);
  const projectionFile = model.includes('stanford') ? `${dir}/model.safetensors` : `${dir}/1_Dense/model.safetensors`;
  const H = config.hiddenSize;
  const linear = await new SafetensorsFile(await readFixtureBytes(projectionFile)).get('linear.weight', [24, H]);
  const module = { linear: quantizeLinear(linear, 24, H, new Float32Array(24), 'f32'), activation: 'identity' as const };
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
  return { weights, expected, module, spec, L: config.numLayers };
}

describe.each(['colbert-stanford-tiny', 'colbert-pylate-tiny', 'colbert-modernbert-tiny'])('%s on WebGPU', (model) => {
  it("token vectors projected on the GPU, queries with expansion, give the oracle's MaxSim scores", async () => {
    const { weights, expected, module, spec, L } = await setup(model);
    const scorer = new LateInteractionScorer(spec);
    const scores = (queries: Float32Array[], documents: Float32Array[]) =>
      queries.map((q, i) => {
        const qv = scorer.vectors(q, expected.query_ids[i] as number[], false);
        return documents.map((d, j) => maxSim(qv, scorer.vectors(d, expected.document_ids[j] as number[], true), 24));
      });
    const off = (got: number[][]) =>
      Math.max(...got.flatMap((row, i) => row.map((s, j) => Math.abs(s - (expected.scores[i]?.[j] as number)))));
    const backend = await GpuEncoder.create(await testGpu(), { ...weights, lateProjection: [module] });
    try {
      const queries = await backend.tokenVectors(expected.query_ids, L, expected.query_attended);
      const documents = await backend.tokenVectors(expected.document_ids, L);
      expect(queries[0]).toHaveLength((expected.query_ids[0] as number[]).length * 24);
      const worst = off(scores(queries, documents));
      console.log(`${model} webgpu f32: max |score - oracle| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-3);
      // Expansion tokens attended (every token of the query) move the scores.
      expect(off(scores(await backend.tokenVectors(expected.query_ids, L), documents))).toBeGreaterThan(0.05);
    } finally {
      backend.dispose();
    }
  });

  it('a chain the GPU does not run (a Tanh module) is projected on the CPU after the readback', async () => {
    const { weights, expected, module, L } = await setup(model);
    const identity = await GpuEncoder.create(await testGpu(), { ...weights, lateProjection: [module] });
    const tanh = await GpuEncoder.create(await testGpu(), { ...weights, lateProjection: [{ ...module, activation: 'tanh' }] });
    try {
      const want = await identity.tokenVectors(expected.query_ids, L, expected.query_attended);
      const got = await tanh.tokenVectors(expected.query_ids, L, expected.query_attended);
      let worst = 0;
      want.forEach((w, i) => {
        expect(got[i]).toHaveLength(w.length);
        for (const [c, v] of w.entries()) worst = Math.max(worst, Math.abs((got[i]?.[c] as number) - Math.tanh(v)));
      });
      expect(worst).toBeLessThan(1e-5);
    } finally {
      identity.dispose();
      tanh.dispose();
    }
  });
});
