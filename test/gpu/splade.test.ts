import { describe, expect, it } from 'vitest';
import { loadHfModel } from '../../src/checkpoint/load.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import type { SpladeSpec } from '../../src/weights/encoder-config.js';
import type { EncoderWeights } from '../../src/weights/weights.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { testGpu } from '../support/gpu.js';
import { type OracleWeights, worstOff } from '../support/sparse-oracle.js';

// A SPLADE encoder on WebGPU (Dawn in Node, Chromium's adapter in the browser) against
// test/oracle/make_splade.py: the forward, the masked-LM head (dense, GELU, LayerNorm, the tied
// decoder in chunks of token rows) and SpladePooling (shaders/splade.wgsl) on the GPU, one
// vocabulary-wide row per text read back.

type Weights = OracleWeights;
interface Expected {
  ids: number[][];
  sparse: Record<'max_relu' | 'max_log1p_relu' | 'sum_relu' | 'sum_log1p_relu', Weights[]>;
}

const DIR = 'test/oracle/fixtures/splade-bert-tiny';

async function setup() {
  const json = (f: string) => readFixtureJson<Record<string, unknown>>(`${DIR}/${f}`);
  const { config, weights } = await loadHfModel({
    config: await json('config.json'),
    tokenizer: await json('tokenizer.json'),
    tokenizerConfig: await json('tokenizer_config.json'),
    safetensors: await readFixtureBytes(`${DIR}/model.safetensors`),
    sentenceTransformers: {
      modules: await json('modules.json'),
      splade: { config: await json('1_SpladePooling/config.json') },
    },
  });
  if (!config.splade) throw new Error('no SPLADE head was read');
  return { weights, spec: config.splade, expected: await readFixtureJson<Expected>(`${DIR}/expected.json`) };
}

const withSpec = (weights: EncoderWeights, spec: SpladeSpec): EncoderWeights => ({
  ...weights,
  config: { ...weights.config, splade: spec },
});

describe('SPLADE on WebGPU', () => {
  it("splade-bert-tiny: the head and pooling on the GPU give the oracle's weights, in every pooling and activation", async () => {
    const { weights, spec, expected } = await setup();
    for (const [pooling, activation] of [
      ['max', 'relu'],
      ['sum', 'log1p_relu'],
    ] as const) {
      // Decoder chunks of 64 token rows: the 12 texts' padded rows cross several of them.
      const backend = await GpuEncoder.create(await testGpu(), withSpec(weights, { ...spec, pooling, activation }), undefined, {
        spladeChunkBytes: 64 * 2062 * 4,
      });
      try {
        const got = await backend.spladeVectors(expected.ids, weights.config.numLayers);
        const worst = worstOff(got, expected.sparse[`${pooling}_${activation}`]);
        console.log(`splade-bert-tiny webgpu f32 ${pooling}/${activation}: max |weight - oracle| ${worst.toExponential(2)}`);
        expect(worst).toBeLessThan(5e-5);
      } finally {
        backend.dispose();
      }
    }
  });
});
