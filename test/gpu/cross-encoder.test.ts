import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { cpuHead } from '../../src/model/cpu-ops.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { parseHfConfig } from '../../src/weights/config.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { testGpu } from '../support/gpu.js';

// Cross-encoders on WebGPU (Dawn in Node, Chromium's adapter in the browser) against
// test/oracle/make_cross_encoder.py: each pair's second segment reaches the GPU as token-type rows
// added to the gathered word rows, and the first token's state goes through the classifier head.

describe.each(['ce-bert-tiny', 'ce-xlmr-tiny'])('%s on WebGPU', (model) => {
  it("the first token's state through the head gives the oracle's logit for every pair", async () => {
    const dir = `test/oracle/fixtures/${model}`;
    const config = parseHfConfig(await readFixtureJson(`${dir}/config.json`));
    const weights = await weightsFromTensors(config, new SafetensorsFile(await readFixtureBytes(`${dir}/model.safetensors`)));
    const expected = await readFixtureJson<{ ids: number[][]; token_type_ids: number[][]; logits: number[] }>(
      `${dir}/expected.json`,
    );
    const secondSegment = expected.token_type_ids.map((t) => (t.includes(1) ? t.indexOf(1) : t.length));
    const backend = await GpuEncoder.create(await testGpu(), weights);
    try {
      const options = { layers: config.numLayers, dims: config.hiddenSize, pooling: 'cls', normalize: false } as const;
      const first = await backend.embed(expected.ids, { ...options, secondSegment });
      const head = cpuHead(weights.classifier);
      const worst = Math.max(...first.map((v, i) => Math.abs((head(v)[0] as number) - (expected.logits[i] as number))));
      console.log(`${model} webgpu f32: max |logit - oracle| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-4);
      // BERT's second segment matters: without it the logits move.
      if (model === 'ce-bert-tiny') {
        const untyped = await backend.embed(expected.ids, options);
        expect(
          Math.max(...untyped.map((v, i) => Math.abs((head(v)[0] as number) - (expected.logits[i] as number)))),
        ).toBeGreaterThan(0.1);
      }
    } finally {
      backend.dispose();
    }
  });
});
