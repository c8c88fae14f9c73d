import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsupportedError } from '../../src/errors.js';
import { parseHfConfig } from '../../src/weights/config.js';
import { hfConfigField } from '../../src/weights/config-fields.js';
import { MULTI_QA_DISTILBERT_COS_V1 } from '../support/bert-variant-configs.js';
import { folderFiles } from '../support/hub-server.js';
import { expectHubLikeOracle, packSuite, ST_FILES, serveFakeHub } from '../support/oracle-pack.js';

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
  packSuite(FIXTURES, [
    ['distilbert-tiny', 'f32'],
    ['distilbert-tiny', 'q8'],
    ['distilbert-tiny', 'q4'],
    ['distilbert-mlm-tiny', 'f32'],
    ['distilbert-mlm-tiny', 'q8'],
  ]);
});

describe('DistilBERT by hub id', { timeout: 120_000 }, () => {
  const hub = serveFakeHub(
    'distilbert',
    () => new Map([['sentence-transformers/multi-qa-distilbert-cos-v1', { files: folderFiles(TINY, ST_FILES), commit: 'd157' }]]),
  );

  it('mean pooling from the repository, as the oracle at the last layer, on the CPU', () =>
    expectHubLikeOracle(hub.url, 'sentence-transformers/multi-qa-distilbert-cos-v1', TINY));
});
