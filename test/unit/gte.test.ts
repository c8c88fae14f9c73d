import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadHfModel } from '../../src/checkpoint/load.js';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder } from '../../src/client/client.js';
import { ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { inverseFrequencies, ropeFrequencies } from '../../src/model/rope.js';
import { readHfFolder } from '../../src/node/hf-folder.js';
import { parseHfConfig } from '../../src/weights/config.js';
import type { Quant } from '../../src/weights/weights.js';
import { ARCTIC_EMBED_M_V2, GTE_MULTILINGUAL_BASE } from '../support/gated-bert-configs.js';
import { folderFiles } from '../support/hub-server.js';
import { packAgainstOracle, readOracleJson, ST_FILES, serveFakeHub } from '../support/oracle-pack.js';
import { cosine } from '../support/random.js';

// GTE ("new" / "gte": gte-multilingual-base, snowflake-arctic-embed-m-v2.0) against
// test/oracle/make_gte.py, a float64 PyTorch forward written from new-impl's modeling.py.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const TINY = join(FIXTURES, 'gte-tiny');
const ARCTIC = join(FIXTURES, 'gte-arctic-tiny');
const expected = readOracleJson(join(TINY, 'expected.json'));
const H = expected.hidden;
const L = expected.layers;

describe('GTE config', () => {
  it('reads gte-multilingual-base and snowflake-arctic-embed-m-v2.0 shapes', () => {
    const gte = parseHfConfig(GTE_MULTILINGUAL_BASE);
    expect(gte).toMatchObject({
      modelType: 'gte',
      vocabSize: 250048,
      hiddenSize: 768,
      numHeads: 12,
      headDim: 64,
      intermediateSize: 3072,
      numLayers: 12,
      maxTokens: 8192,
      typeVocabSize: 1,
      positionOffset: 0,
      padTokenId: 1,
    });
    expect(gte.gatedBert).toEqual({
      positions: { type: 'rope', ropeTheta: 20000, ntk: { factor: 8, mixedB: null } },
      gate: 'gelu',
      truncateNorm: false,
    });
    expect(parseHfConfig(ARCTIC_EMBED_M_V2).gatedBert?.positions).toEqual({ type: 'rope', ropeTheta: 160000, ntk: null });
    const mixed = parseHfConfig({ ...GTE_MULTILINGUAL_BASE, rope_scaling: { type: 'ntk', factor: 8, mixed_b: 0.5 } });
    expect(mixed.gatedBert?.positions).toMatchObject({ ntk: { factor: 8, mixedB: 0.5 } });
  });

  it.each([
    [{ position_embedding_type: 'absolute' }, UnsupportedError, /position_embedding_type "absolute"/],
    [{ layer_norm_type: 'rms_norm' }, UnsupportedError, /layer_norm_type "rms_norm"/],
    [{ logn_attention_scale: true }, UnsupportedError, /logn_attention_scale/],
    [{ rope_scaling: { type: 'linear', factor: 2 } }, UnsupportedError, /rope_scaling type "linear"/],
    [{ rope_scaling: { type: 'ntk', factor: -1 } }, ModelFormatError, /factor/],
    [{ hidden_act: 'silu' }, UnsupportedError, /hidden_act "silu"/],
    [{ num_attention_heads: 256 }, ModelFormatError, /even head size/],
    [{ type_vocab_size: -1 }, ModelFormatError, /type_vocab_size/],
  ])('refuses %j with a clear error', (change, type, message) => {
    const run = () => parseHfConfig({ ...GTE_MULTILINGUAL_BASE, ...change });
    expect(run).toThrow(type);
    expect(run).toThrow(message);
  });

  it('NTK scaling: the base times the factor, every frequency over factor^(2/d); mixed keeps the base', () => {
    const d = 64;
    const spec = { type: 'rope' } as const;
    const fixed = ropeFrequencies({ ...spec, ropeTheta: 20000, ntk: { factor: 8, mixedB: null } }, d);
    // Pair 0 turns at 8^(-2/64) of a radian per position instead of 1; the last pair 8x slower than (2e4 * 8)'s.
    expect(fixed[0]).toBeCloseTo(8 ** (-2 / 64), 12);
    expect(fixed[31]).toBeCloseTo((20000 * 8) ** (-62 / 64) / 8 ** (2 / 64), 15);
    const mixed = ropeFrequencies({ ...spec, ropeTheta: 20000, ntk: { factor: 8, mixedB: 1 } }, d);
    const plain = inverseFrequencies(20000, d);
    // b = 1: pair i's divisor is factor^((i + 1) / (d / 2)), the last pair's the whole factor.
    expect((plain[31] as number) / (mixed[31] as number)).toBeCloseTo(8, 10);
    expect((plain[0] as number) / (mixed[0] as number)).toBeCloseTo(8 ** (1 / 32), 10);
  });
});

describe('GTE folders and packs', () => {
  it('reads gte-multilingual-base layout: the new. prefix, no position table, gate rows first, no classifier', async () => {
    const folder = await readHfFolder(TINY);
    const { config, weights } = await loadHfModel(folder, { layers: 2, quant: 'f32' });
    expect(config.modelType).toBe('gte');
    expect(weights.family).toBe('bert');
    if (weights.family !== 'bert') return;
    expect(weights.position).toBeNull();
    expect(weights.layers).toHaveLength(2);
    const I = config.intermediateSize;
    expect(weights.layers[0]?.ffnIn).toMatchObject({ rows: 2 * I, cols: H });
    // Row 0 of ffnIn is up_gate_proj's row I (the first gate row).
    const raw = new SafetensorsFile(new Uint8Array(readFileSync(join(TINY, 'model.safetensors'))));
    const gateUp = raw.get('new.encoder.layer.0.mlp.up_gate_proj.weight', [2 * I, H]);
    const data = (weights.layers[0] as (typeof weights.layers)[number]).ffnIn.data;
    const ffnIn = new Float32Array(data.buffer, data.byteOffset, 2 * I * H);
    expect(ffnIn.subarray(0, H)).toEqual(gateUp.subarray(I * H, (I + 1) * H));
    expect(ffnIn.subarray(I * H, (I + 1) * H)).toEqual(gateUp.subarray(0, H));
  });

  // CLS pooling reads one token: quantization noise shows more than in a mean (as for BERT's bounds).
  const MIN: Record<Quant, number> = { f32: 0.99999, f16: 0.9999, q8: 0.998, q4: 0.85 };
  it.each(['f32', 'q8', 'q4'] as const)('a %s pack pools like the oracle at every exit (CLS and mean)', async (quant) => {
    const { manifest, tokensMatch, mean, cls } = await packAgainstOracle(TINY, quant, [16, 32, 64]);
    expect(manifest).toMatchObject({ exits: [1, 2, 3], pooling: 'cls' });
    const embeddings = manifest.shards.find((s) => s.kind === 'embeddings');
    expect(embeddings?.tensors.map((t) => t.name).filter((n) => !n.startsWith('word'))).toEqual([
      'embNorm.gamma',
      'embNorm.beta',
    ]);
    expect(tokensMatch).toBe(true);
    expect(Math.min(mean, cls)).toBeGreaterThan(MIN[quant]);
  });
});

describe('GTE by hub id', { timeout: 120_000 }, () => {
  const hub = serveFakeHub(
    'gte',
    () =>
      new Map([
        ['Alibaba-NLP/gte-multilingual-base', { files: folderFiles(TINY, ST_FILES), commit: 'a1b2c3' }],
        [
          'Snowflake/snowflake-arctic-embed-m-v2.0',
          { files: folderFiles(ARCTIC, [...ST_FILES, 'config_sentence_transformers.json']), commit: 'd4e5f6' },
        ],
      ]),
  );

  it.each([
    ['Alibaba-NLP/gte-multilingual-base', TINY],
    ['Snowflake/snowflake-arctic-embed-m-v2.0', ARCTIC],
  ])('%s: CLS pooling from the repository, as the oracle at the last layer', async (id, dir) => {
    const want = new SafetensorsFile(new Uint8Array(readFileSync(join(dir, 'expected.safetensors'))));
    const enc = await createEncoder({ model: `hf:${id}`, hub: { url: hub.url }, device: 'cpu', dtype: 'f32' });
    try {
      expect((await enc.info()).model).toMatchObject({ pooling: 'cls' });
      const vectors = await enc.embed(expected.texts);
      vectors.forEach((v, i) => {
        expect(cosine(v, want.get(`cls.${i}.${L}`, [H]))).toBeGreaterThanOrEqual(0.99999);
        expect(Math.hypot(...v)).toBeCloseTo(1, 5);
      });
    } finally {
      await enc.dispose();
    }
  });

  it("applies Snowflake's query prompt for kind 'query'", async () => {
    const enc = await createEncoder({
      model: 'hf:Snowflake/snowflake-arctic-embed-m-v2.0',
      hub: { url: hub.url },
      device: 'cpu',
    });
    try {
      expect((await enc.info()).model).toMatchObject({ prefixes: { query: 'query: ' } });
      const text = expected.texts[0] as string;
      const [query] = await enc.embed([text], { kind: 'query' });
      const [prompted] = await enc.embed([`query: ${text}`]);
      const [plain] = await enc.embed([text]);
      expect(cosine(query as Float32Array, prompted as Float32Array)).toBeGreaterThan(0.999999);
      expect(cosine(query as Float32Array, plain as Float32Array)).toBeLessThan(0.9999);
    } finally {
      await enc.dispose();
    }
  });
});
