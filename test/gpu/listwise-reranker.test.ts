import { describe, expect, it } from 'vitest';
import { listwiseProjector } from '../../src/checkpoint/listwise.js';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { cpuHead } from '../../src/model/cpu-ops.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { listwiseScores, listwiseVectors } from '../../src/model/listwise.js';
import { parseHfConfig } from '../../src/weights/config.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { testGpu } from '../support/gpu.js';

// jina-reranker-v3 on WebGPU (Dawn in Node, Chromium's adapter in the browser) against
// test/oracle/make_jina_reranker_v3.py: the final-normed states of the oracle's prompts at their
// document and query tokens, through the projector, merged into the oracle's scores. The prompts of
// a few hundred tokens only: SwiftShader takes about a second per 500.

const DIR = 'test/oracle/fixtures/jina-reranker-v3-tiny';

describe('jina-reranker-v3-tiny on WebGPU', () => {
  it("the states at the model's tokens give the oracle's scores", async () => {
    const config = parseHfConfig(await readFixtureJson(`${DIR}/config.json`));
    const source = new SafetensorsFile(await readFixtureBytes(`${DIR}/model.safetensors`));
    const weights = await weightsFromTensors(config, source);
    const project = cpuHead(await listwiseProjector(config, source));
    const { cases } = await readFixtureJson<{ cases: { ids: number[][]; scores: number[] }[] }>(`${DIR}/expected.json`);
    const tokenizer = await readFixtureJson<{ added_tokens: { id: number; content: string }[] }>(`${DIR}/tokenizer.json`);
    const idOf = (token: string) => tokenizer.added_tokens.find((t) => t.content === token)?.id;
    const [documentToken, queryToken] = [idOf('<|embed_token|>'), idOf('<|rerank_token|>')];
    const backend = await GpuEncoder.create(await testGpu(), weights);
    try {
      let worst = 0;
      for (const c of cases.filter((c) => c.ids.length === 1 && (c.ids[0] as number[]).length < 1000)) {
        const ids = c.ids[0] as number[];
        const [states] = await backend.hiddenStates([ids], config.numLayers);
        const marks = {
          documentAt: [...ids.keys()].filter((t) => ids[t] === documentToken),
          queryAt: ids.indexOf(queryToken as number),
        };
        const scores = listwiseScores([listwiseVectors(states as Float32Array, config.hiddenSize, marks, project)]);
        worst = Math.max(worst, ...scores.map((s, k) => Math.abs(s - (c.scores[k] as number))));
      }
      console.log(`jina-reranker-v3-tiny webgpu f32: max |score - oracle| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(2e-5);
    } finally {
      backend.dispose();
    }
  });
});
