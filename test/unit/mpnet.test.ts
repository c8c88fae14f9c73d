import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { relativeBiasTable, relativeBucket } from '../../src/model/relative-bias.js';
import { parseHfConfig } from '../../src/weights/config.js';
import type { BertWeights } from '../../src/weights/weights.js';
import { ALL_MPNET_BASE_V2 } from '../support/bert-variant-configs.js';
import { folderFiles } from '../support/hub-server.js';
import { expectHubLikeOracle, PACK_BOUNDS, packSuite, readOracleJson, ST_FILES, serveFakeHub } from '../support/oracle-pack.js';

// MPNet against test/oracle/make_mpnet.py, a float64 PyTorch forward written from transformers'
// modeling_mpnet.py: BERT's layers under other names, RoBERTa's positions, a relative attention
// bias by bucketed distance.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const TINY = join(FIXTURES, 'mpnet-tiny');

describe('MPNet config', () => {
  it("reads all-mpnet-base-v2's config", () => {
    expect(parseHfConfig(ALL_MPNET_BASE_V2)).toMatchObject({
      modelType: 'mpnet',
      hiddenSize: 768,
      numHeads: 12,
      numLayers: 12,
      intermediateSize: 3072,
      layerNormEps: 1e-5,
      padTokenId: 1,
      positionOffset: 2,
      maxTokens: 512,
      relativeAttention: { buckets: 32, maxDistance: 128, tableRows: 32 },
    });
  });

  it('refuses a bias table with fewer rows than the 32 buckets MPNetEncoder uses', () => {
    const run = () => parseHfConfig({ ...ALL_MPNET_BASE_V2, relative_attention_num_buckets: 16 });
    expect(run).toThrow(UnsupportedError);
    expect(run).toThrow(/relative_attention_num_buckets 16/);
  });
});

describe('MPNet relative buckets', () => {
  it('are the buckets torch computes (float32 logarithm, truncated) for distances -300 to 300', () => {
    const { buckets } = readOracleJson<{ buckets: { from: number; values: number[] } }>(join(TINY, 'expected.json'));
    const spec = { buckets: 32, maxDistance: 128 };
    const got = buckets.values.map((_, r) => relativeBucket(buckets.from + r, spec));
    expect(got).toEqual(buckets.values);
    // Both signs, the exact range and the logarithmic one are in the range compared: every
    // bucket but 16, which only a key after the query at distance 0 could take.
    expect(new Set(got).size).toBe(31);
  });

  it('lays the table out per head, each distance past the reach in its last bucket', () => {
    const heads = 2;
    const spec = { buckets: 32, maxDistance: 128, tableRows: 32 };
    const weights = Float32Array.from({ length: 32 * heads }, (_, i) => i);
    const { table, reach } = relativeBiasTable(weights, heads, spec);
    expect(reach).toBe(128);
    const at = (h: number, d: number) => table[h * (2 * reach + 1) + reach + d];
    for (const d of [-200, -128, -9, -1, 0, 1, 7, 8, 90, 128, 500]) {
      const clamped = Math.max(-reach, Math.min(reach, d));
      for (let h = 0; h < heads; h++) expect(at(h, clamped)).toBe(relativeBucket(d, spec) * heads + h);
    }
  });

  it('refuses MPNet weights without encoder.relative_attention_bias', async () => {
    const file = new SafetensorsFile(new Uint8Array(readFileSync(join(TINY, 'model.safetensors'))));
    const config = parseHfConfig(readOracleJson(join(TINY, 'config.json')));
    const weights = (await weightsFromTensors(config, file)) as BertWeights;
    expect(weights.relativeBias?.length).toBe(32 * config.numHeads);
    const { modelRelativeBias } = await import('../../src/model/relative-bias.js');
    expect(() => modelRelativeBias({ ...weights, relativeBias: null })).toThrow(ModelFormatError);
  });
});

// q4 on these random weights: 0.88 mean, as for the other random fixtures a floor, not a goal.
const Q4_FLOOR = { ...PACK_BOUNDS, mean: { ...PACK_BOUNDS.mean, q4: 0.85 } };

describe('MPNet packs', () => {
  packSuite(
    FIXTURES,
    [
      ['mpnet-tiny', 'f32'],
      ['mpnet-tiny', 'q8'],
      ['mpnet-tiny', 'q4'],
      ['mpnet-mlm-tiny', 'f32'],
      ['mpnet-mlm-tiny', 'q8'],
    ],
    Q4_FLOOR,
  );
});

describe('MPNet by hub id', { timeout: 120_000 }, () => {
  const hub = serveFakeHub(
    'mpnet',
    () => new Map([['sentence-transformers/all-mpnet-base-v2', { files: folderFiles(TINY, ST_FILES), commit: 'e8c3' }]]),
  );

  it('mean pooling from the repository, as the oracle at the last layer, on the CPU', () =>
    expectHubLikeOracle(hub.url, 'sentence-transformers/all-mpnet-base-v2', TINY));
});
