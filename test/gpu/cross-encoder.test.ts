import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { cpuClassifier } from '../../src/model/cpu-classifier.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { type CrossEncoderSpec, parseHfConfig, readsSegmentTypes } from '../../src/weights/config.js';
import { decoderRerankerOverrides } from '../../src/weights/decoder-rerankers.js';
import type { ClassifierHead } from '../../src/weights/weights.js';
import { PAIR_CROSS_ENCODERS } from '../support/cross-encoder-fixtures.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { testGpu } from '../support/gpu.js';

// Cross-encoders on WebGPU (Dawn in Node, Chromium's adapter in the browser) against
// test/oracle/make_cross_encoder.py and make_cross_encoder_heads.py: each pair's second segment
// reaches the GPU as token-type rows added to the gathered word rows (where the model reads types),
// and the pooled state goes through the classifier head.

// mxbai-rerank-tiny-v2-seq: Qwen2's layers (q/k/v biases, no q/k norms), known by its folder's name.
const MODELS = [...PAIR_CROSS_ENCODERS, 'ce-qwen3-tiny', 'mxbai-rerank-tiny-v2-seq'];

describe.each(MODELS)('%s on WebGPU', (model) => {
  it("the pooled state through the head gives the oracle's logit for every pair", async () => {
    const dir = `test/oracle/fixtures/${model}`;
    const config = parseHfConfig(decoderRerankerOverrides(await readFixtureJson(`${dir}/config.json`), model));
    const weights = await weightsFromTensors(config, new SafetensorsFile(await readFixtureBytes(`${dir}/model.safetensors`)));
    const expected = await readFixtureJson<{ ids: number[][]; token_type_ids?: number[][]; logits: number[] }>(
      `${dir}/expected.json`,
    );
    const typed = readsSegmentTypes(config);
    const secondSegment = expected.ids.map((ids, i) => {
      const t = expected.token_type_ids?.[i] ?? [];
      return typed && t.includes(1) ? t.indexOf(1) : ids.length;
    });
    const spec = config.crossEncoder as CrossEncoderSpec;
    const backend = await GpuEncoder.create(await testGpu(), weights);
    try {
      const options = { layers: config.numLayers, dims: config.hiddenSize, pooling: spec.pooling, normalize: false } as const;
      const head = cpuClassifier(weights.classifier as ClassifierHead, spec, config.layerNormEps);
      const off = (states: Float32Array[]) =>
        Math.max(...states.map((v, i) => Math.abs(head(v) - (expected.logits[i] as number))));
      const worst = off(await backend.embed(expected.ids, { ...options, secondSegment }));
      console.log(`${model} webgpu f32: max |logit - oracle| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-4);
      // A typed second segment matters: without it the logits move.
      if (typed) expect(off(await backend.embed(expected.ids, options))).toBeGreaterThan(0.1);
    } finally {
      backend.dispose();
    }
  });
});
