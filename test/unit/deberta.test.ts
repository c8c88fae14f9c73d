import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEncoder } from '../../src/client/client.js';
import { ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { debertaBucket, relativeRows, rowsForLength } from '../../src/model/disentangled.js';
import { parseHfConfig } from '../../src/weights/config.js';
import { hfConfigField } from '../../src/weights/config-fields.js';
import { MDEBERTA_V3_BASE, MXBAI_RERANK_XSMALL_V1 } from '../support/deberta-configs.js';
import { folderFiles } from '../support/hub-server.js';
import { packSuite, serveFakeHub } from '../support/oracle-pack.js';

// DeBERTa-v3 against test/oracle/make_deberta.py, a float64 PyTorch forward written from
// transformers' modeling_deberta_v2.py. The hidden states at every layer run in
// test/gpu/parity.test.ts (CPU and WebGPU); the reranker in the cross-encoder suites.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('DeBERTa-v3 config', () => {
  it('reads mdeberta-v3-base and mxbai-rerank-xsmall-v1: no positions or types, disentangled attention over 256 buckets', () => {
    const base = parseHfConfig(MDEBERTA_V3_BASE);
    expect(base).toMatchObject({ modelType: 'deberta_v2', hiddenSize: 768, numHeads: 12, numLayers: 12, maxTokens: 512 });
    expect(base.layerNormEps).toBe(1e-7);
    expect(base.disentangled).toEqual({ span: 256, buckets: 256, maxPosition: 512, c2p: true, p2c: true, relNorm: true });
    expect(base.crossEncoder).toBeUndefined();
    const mxbai = parseHfConfig(MXBAI_RERANK_XSMALL_V1);
    expect(mxbai.crossEncoder).toEqual({
      activation: 'sigmoid',
      pooling: 'cls',
      hidden: { activation: 'gelu', bias: true, norm: null },
      input: 'pair',
    });
    expect(hfConfigField(MXBAI_RERANK_XSMALL_V1, 'num_hidden_layers')).toBe(12);
  });

  it.each([
    [{ ...MDEBERTA_V3_BASE, position_biased_input: true }, UnsupportedError, /position_biased_input/],
    [{ ...MDEBERTA_V3_BASE, type_vocab_size: 2 }, UnsupportedError, /token types/],
    [{ ...MDEBERTA_V3_BASE, conv_kernel_size: 3 }, UnsupportedError, /convolution/],
    [{ ...MDEBERTA_V3_BASE, share_att_key: false }, UnsupportedError, /share_att_key/],
    [{ ...MDEBERTA_V3_BASE, pos_att_type: ['c2p', 'p2p'] }, UnsupportedError, /pos_att_type/],
    [{ ...MDEBERTA_V3_BASE, position_buckets: 7 }, ModelFormatError, /position_buckets/],
    [{ ...MXBAI_RERANK_XSMALL_V1, pooler_hidden_act: 'tanh' }, UnsupportedError, /pooler_hidden_act/],
    [{ ...MDEBERTA_V3_BASE, model_type: 'deberta' }, UnsupportedError, /deberta-v2/],
  ])('refuses %#', (raw, type, message) => {
    expect(() => parseHfConfig(raw)).toThrow(type);
    expect(() => parseHfConfig(raw)).toThrow(message);
  });

  it("buckets every distance as torch's make_log_bucket_position does at 256 buckets, 512 positions", () => {
    const { buckets } = json(join(FIXTURES, 'deberta-tiny/expected.json')) as {
      buckets: { position_buckets: number; max_relative_positions: number; from: number; values: number[] };
    };
    const spec = { buckets: buckets.position_buckets, maxPosition: buckets.max_relative_positions };
    expect(buckets.values.map((_, i) => debertaBucket(buckets.from + i, spec))).toEqual(buckets.values);
  });

  it('a batch reads one contiguous block of relative rows, clamped to the table', () => {
    const spec = parseHfConfig(MDEBERTA_V3_BASE).disentangled;
    if (!spec) throw new Error('no spec');
    const rows = relativeRows(spec, 511);
    expect(rowsForLength(rows, 511, 1)).toEqual({ first: 256, count: 1 });
    expect(rowsForLength(rows, 511, 100)).toEqual({ first: 157, count: 199 });
    expect(rowsForLength(rows, 511, 512)).toEqual({ first: 1, count: 511 });
    for (let d = 1; d < rows.length; d++) expect(rows[d]).toBeGreaterThanOrEqual(rows[d - 1] as number);
  });
});

describe('DeBERTa-v3 packs', () => {
  packSuite(FIXTURES, [
    ['deberta-tiny', 'f32'],
    ['deberta-tiny', 'q8'],
    ['deberta-tiny', 'q4'],
  ]);
});

describe('a DeBERTa-v3 reranker by hub id', { timeout: 120_000 }, () => {
  const dir = join(FIXTURES, 'ce-deberta-tiny');
  const files = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];
  const hub = serveFakeHub(
    'deberta',
    () => new Map([['mixedbread-ai/mxbai-rerank-xsmall-v1', { files: folderFiles(dir, files), commit: 'deb3' }]]),
  );

  it('scores the pairs as the oracle does (CPU, f32)', async () => {
    const expected = json(join(dir, 'expected.json')) as { pairs: [string, string][]; scores: number[] };
    const enc = await createEncoder({
      model: 'hf:mixedbread-ai/mxbai-rerank-xsmall-v1',
      hub: { url: hub.url },
      device: 'cpu',
      dtype: 'f32',
    });
    try {
      for (const [i, [q, d]] of expected.pairs.entries()) {
        const [hit] = await enc.rerank(q, [d]);
        expect(hit?.score).toBeCloseTo(expected.scores[i] as number, 5);
      }
    } finally {
      await enc.dispose();
    }
  });
});
