import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder } from '../../src/client/client.js';
import { UnsupportedError } from '../../src/errors.js';
import { parseHfConfig } from '../../src/weights/config.js';
import { hfConfigField } from '../../src/weights/config-fields.js';
import type { Quant } from '../../src/weights/weights.js';
import { MULTI_QA_DISTILBERT_COS_V1 } from '../support/bert-variant-configs.js';
import { folderFiles } from '../support/hub-server.js';
import { packAgainstOracle, readOracleJson, ST_FILES, serveFakeHub } from '../support/oracle-pack.js';
import { cosine } from '../support/random.js';

// DistilBERT against test/oracle/make_distilbert.py, a float64 PyTorch forward written from
// transformers' modeling_distilbert.py: BERT's layers under other names, no token types.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const TINY = join(FIXTURES, 'distilbert-tiny');

describe('DistilBERT config', () => {
  it("reads multi-qa-distilbert-cos-v1's DistilBertConfig names", () => {
    expect(parseHfConfig(MULTI_QA_DISTILBERT_COS_V1)).toMatchObject({
      modelType: 'distilbert',
      hiddenSize: 768,
      numHeads: 12,
      headDim: 64,
      intermediateSize: 3072,
      numLayers: 6,
      maxTokens: 512,
      positionOffset: 0,
      layerNormEps: 1e-12,
      padTokenId: 0,
    });
  });

  it('answers the manifest reader by the BERT names', () => {
    expect(hfConfigField(MULTI_QA_DISTILBERT_COS_V1, 'num_hidden_layers')).toBe(6);
    expect(hfConfigField(MULTI_QA_DISTILBERT_COS_V1, 'hidden_size')).toBe(768);
  });

  it('refuses activations other than exact GELU', () => {
    const run = () => parseHfConfig({ ...MULTI_QA_DISTILBERT_COS_V1, activation: 'relu' });
    expect(run).toThrow(UnsupportedError);
    expect(run).toThrow(/activation "relu"/);
  });
});

describe('DistilBERT packs', () => {
  const MEAN: Record<Quant, number> = { f32: 0.99999, f16: 0.9999, q8: 0.999, q4: 0.9 };
  const CLS: Record<Quant, number> = { f32: 0.99999, f16: 0.9999, q8: 0.998, q4: 0.85 };
  it.each([
    ['distilbert-tiny', 'f32'],
    ['distilbert-tiny', 'q8'],
    ['distilbert-tiny', 'q4'],
    ['distilbert-mlm-tiny', 'f32'],
    ['distilbert-mlm-tiny', 'q8'],
  ] as const)('%s as a %s pack pools like the oracle at every exit', async (model, quant) => {
    const { tokensMatch, mean, cls } = await packAgainstOracle(join(FIXTURES, model), quant);
    expect(tokensMatch).toBe(true);
    expect(mean).toBeGreaterThan(MEAN[quant]);
    expect(cls).toBeGreaterThan(CLS[quant]);
  });
});

describe('DistilBERT by hub id', { timeout: 120_000 }, () => {
  const hub = serveFakeHub(
    'distilbert',
    () => new Map([['sentence-transformers/multi-qa-distilbert-cos-v1', { files: folderFiles(TINY, ST_FILES), commit: 'd157' }]]),
  );

  it('mean pooling from the repository, as the oracle at the last layer, on the CPU', async () => {
    const expected = readOracleJson(join(TINY, 'expected.json'));
    const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(TINY, 'expected.safetensors'))));
    const enc = await createEncoder({
      model: 'hf:sentence-transformers/multi-qa-distilbert-cos-v1',
      hub: { url: hub.url },
      device: 'cpu',
      dtype: 'f32',
    });
    try {
      expect((await enc.info()).model).toMatchObject({ pooling: 'mean' });
      const vectors = await enc.embed(expected.texts);
      vectors.forEach((v, i) => {
        expect(cosine(v, oracle.get(`mean.${i}.${expected.layers}`, [expected.hidden]))).toBeGreaterThanOrEqual(0.99999);
      });
    } finally {
      await enc.dispose();
    }
  });
});
