import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder } from '../../src/client/client.js';
import { ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { parseHfConfig } from '../../src/weights/config.js';
import { isMoeLayer, projectionShapes } from '../../src/weights/shapes.js';
import { NOMIC_EMBED_TEXT_V2_MOE, NOMIC_EMBED_TEXT_V15 } from '../support/gated-bert-configs.js';
import { folderFiles } from '../support/hub-server.js';
import { packSuite, readOracleJson, ST_FILES, serveFakeHub } from '../support/oracle-pack.js';
import { cosine } from '../support/random.js';

// NomicBERT (nomic-embed-text-v1.5) against test/oracle/make_nomic.py, a float64 PyTorch forward
// written from nomic-bert-2048's modeling_hf_nomic_bert.py, with the model card's Matryoshka recipe.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const TINY = join(FIXTURES, 'nomic-tiny');
const MOE = join(FIXTURES, 'nomic-moe-tiny');

describe('NomicBERT config', () => {
  it('reads nomic-embed-text-v1.5', () => {
    const c = parseHfConfig(NOMIC_EMBED_TEXT_V15);
    expect(c).toMatchObject({
      modelType: 'nomic_bert',
      vocabSize: 30528,
      hiddenSize: 768,
      numHeads: 12,
      headDim: 64,
      intermediateSize: 3072,
      numLayers: 12,
      maxTokens: 8192,
      typeVocabSize: 2,
      layerNormEps: 1e-12,
    });
    expect(c.gatedBert).toEqual({ positions: { type: 'rope', ropeTheta: 1000, ntk: null }, gate: 'silu', truncateNorm: true });
    expect(parseHfConfig({ ...NOMIC_EMBED_TEXT_V15, activation_function: 'geglu' }).gatedBert?.gate).toBe('gelu');
    // The gated MLP rounds its width up to a multiple of 256, from 8H/3 when n_inner is unset.
    expect(parseHfConfig({ ...NOMIC_EMBED_TEXT_V15, n_inner: 3000 }).intermediateSize).toBe(3072);
    expect(parseHfConfig({ ...NOMIC_EMBED_TEXT_V15, n_inner: null }).intermediateSize).toBe(2048);
    // Dynamic NTK starts past the trained length: inputs stop there.
    expect(parseHfConfig({ ...NOMIC_EMBED_TEXT_V15, rotary_scaling_factor: 2 }).maxTokens).toBe(2048);
  });

  it('reads nomic-embed-text-v2-moe: the ungated MLP, experts in every second layer, a plain Matryoshka cut', () => {
    const c = parseHfConfig(NOMIC_EMBED_TEXT_V2_MOE);
    expect(c).toMatchObject({ vocabSize: 250048, intermediateSize: 3072, maxTokens: 2048, typeVocabSize: 1, padTokenId: 1 });
    expect(c.gatedBert).toEqual({ positions: { type: 'rope', ropeTheta: 10000, ntk: null }, gate: null, truncateNorm: false });
    expect(c.moe).toEqual({ experts: 8, topK: 2, everyN: 2 });
    expect(Array.from({ length: 12 }, (_, l) => isMoeLayer(c, l))).toEqual(Array.from({ length: 12 }, (_, l) => l % 2 === 1));
    expect(projectionShapes(c, 0)).toMatchObject({ ffnIn: [3072, 768], ffnOut: [768, 3072] });
    expect(projectionShapes(c, 1)).toMatchObject({ ffnIn: [8 * 3072, 768], ffnOut: [8 * 768, 3072] });
    // NomicBertMLP takes n_inner as it is (4H when unset); only the gated MLP rounds it.
    expect(parseHfConfig({ ...NOMIC_EMBED_TEXT_V2_MOE, n_inner: 3000 }).intermediateSize).toBe(3000);
    expect(parseHfConfig({ ...NOMIC_EMBED_TEXT_V2_MOE, n_inner: null }).intermediateSize).toBe(3072);
    expect(parseHfConfig({ ...NOMIC_EMBED_TEXT_V2_MOE, moe_every_n_layers: 0 }).moe).toBeUndefined();
  });

  it.each([
    [{ num_shared_experts: 1 }, UnsupportedError, /num_shared_experts/],
    [{ expert_choice_router: true }, UnsupportedError, /expert_choice_router/],
    [{ moe_normalize_expert_weights: 1 }, UnsupportedError, /moe_normalize_expert_weights/],
    [{ activation_function: 'swiglu' }, UnsupportedError, /gated activation_function/],
    [{ moe_top_k: 9 }, ModelFormatError, /moe_top_k 9 is more than num_experts 8/],
    [{ num_experts: 0 }, ModelFormatError, /num_experts/],
  ])('refuses the experts of %j with a clear error', (change, type, message) => {
    const run = () => parseHfConfig({ ...NOMIC_EMBED_TEXT_V2_MOE, ...change });
    expect(run).toThrow(type);
    expect(run).toThrow(message);
  });

  it.each([
    [{ rotary_emb_fraction: 0.5 }, UnsupportedError, /rotary_emb_fraction 0.5/],
    [{ rotary_emb_fraction: 0 }, UnsupportedError, /rotary_emb_fraction 0/],
    [{ rotary_emb_interleaved: true }, UnsupportedError, /rotary_emb_interleaved/],
    [{ rotary_emb_scale_base: 512 }, UnsupportedError, /xPos/],
    [{ prenorm: true }, UnsupportedError, /prenorm/],
    [{ use_rms_norm: true }, UnsupportedError, /use_rms_norm/],
    [{ parallel_block: true }, UnsupportedError, /parallel_block/],
    [{ causal: true }, UnsupportedError, /causal/],
    [{ activation_function: 'relu' }, UnsupportedError, /activation_function "relu"/],
    [{ num_heads_kv: 4 }, UnsupportedError, /num_heads_kv/],
    [{ n_head: 256 }, ModelFormatError, /even head size/],
    [{ n_inner: 0 }, ModelFormatError, /n_inner/],
  ])('refuses %j with a clear error', (change, type, message) => {
    const run = () => parseHfConfig({ ...NOMIC_EMBED_TEXT_V15, ...change });
    expect(run).toThrow(type);
    expect(run).toThrow(message);
  });
});

describe('NomicBERT packs', () => {
  // CLS reads one token: quantization noise shows more than in a mean.
  packSuite(FIXTURES, [
    ['nomic-tiny', 'f32'],
    ['nomic-tiny', 'q8'],
    ['nomic-tiny', 'q4'],
    ['nomic-bias-tiny', 'f32'],
    ['nomic-bias-tiny', 'q8'],
    ['nomic-moe-tiny', 'f32'],
    ['nomic-moe-tiny', 'q8'],
    ['nomic-moe-tiny', 'q4'],
  ]);
});

describe('nomic-embed-text by hub id', { timeout: 120_000 }, () => {
  const expected = readOracleJson(join(TINY, 'expected.json'));
  const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(TINY, 'expected.safetensors'))));
  const H = expected.hidden;
  const L = expected.layers;
  const hub = serveFakeHub(
    'nomic',
    () =>
      new Map([
        [
          'nomic-ai/nomic-embed-text-v1.5',
          { files: folderFiles(TINY, [...ST_FILES, 'config_sentence_transformers.json']), commit: 'c0ffee' },
        ],
        [
          'nomic-ai/nomic-embed-text-v2-moe',
          { files: folderFiles(MOE, [...ST_FILES, 'config_sentence_transformers.json']), commit: 'c0ffee' },
        ],
      ]),
  );

  it("mean pooling, the card's Matryoshka recipe below full width, and the search_query prefix", async () => {
    const enc = await createEncoder({
      model: 'hf:nomic-ai/nomic-embed-text-v1.5',
      hub: { url: hub.url },
      device: 'cpu',
      dtype: 'f32',
      dims: [16, 32, 64],
    });
    try {
      expect((await enc.info()).model).toMatchObject({ pooling: 'mean', prefixes: { query: 'search_query: ' } });
      const full = await enc.embed(expected.texts);
      full.forEach((v, i) => {
        expect(cosine(v, oracle.get(`mean.${i}.${L}`, [H]))).toBeGreaterThanOrEqual(0.99999);
      });
      for (const dims of [16, 32]) {
        const cut = await enc.embed(expected.texts, { dims });
        cut.forEach((v, i) => {
          const want = oracle.get(`matryoshka.${i}.${dims}`, [dims]);
          expect(v).toHaveLength(dims);
          expect(cosine(v, want)).toBeGreaterThanOrEqual(0.99999);
          // Without the norm the cut would differ: the recipe is what is checked here.
          expect(cosine(full[i]?.subarray(0, dims) as Float32Array, want)).toBeLessThan(0.9999);
        });
      }
      const text = expected.texts[0] as string;
      const [query] = await enc.embed([text], { kind: 'query' });
      const [prompted] = await enc.embed([`search_query: ${text}`]);
      expect(cosine(query as Float32Array, prompted as Float32Array)).toBeGreaterThan(0.999999);
    } finally {
      await enc.dispose();
    }
  });

  it('nomic-embed-text-v2-moe: its experts, the passage prompt, and the plain cut', async () => {
    const moe = readOracleJson(join(MOE, 'expected.json'));
    const moeOracle = new SafetensorsFile(new Uint8Array(readFileSync(join(MOE, 'expected.safetensors'))));
    const enc = await createEncoder({
      model: 'hf:nomic-ai/nomic-embed-text-v2-moe',
      hub: { url: hub.url },
      device: 'cpu',
      dtype: 'q8',
      dims: [16, 64],
    });
    try {
      expect((await enc.info()).model).toMatchObject({
        pooling: 'mean',
        prefixes: { query: 'search_query: ', passage: 'search_document: ' },
      });
      const full = await enc.embed(moe.texts);
      full.forEach((v, i) => {
        expect(cosine(v, moeOracle.get(`mean.${i}.${moe.layers}`, [moe.hidden]))).toBeGreaterThanOrEqual(0.999);
      });
      const cut = await enc.embed(moe.texts, { dims: 16 });
      cut.forEach((v, i) => {
        expect(cosine(v, moeOracle.get(`matryoshka.${i}.16`, [16]))).toBeGreaterThanOrEqual(0.999);
      });
      const text = moe.texts[0] as string;
      const [passage] = await enc.embed([text], { kind: 'passage' });
      const [prompted] = await enc.embed([`search_document: ${text}`]);
      expect(cosine(passage as Float32Array, prompted as Float32Array)).toBeGreaterThan(0.999999);
    } finally {
      await enc.dispose();
    }
  });
});
