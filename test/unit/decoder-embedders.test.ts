import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { denseModules, sentenceTransformersSettings } from '../../src/checkpoint/sentence-transformers.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { DEFAULT_BATCH_TOKENS } from '../../src/model/batch.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import { cpuHead } from '../../src/model/cpu-ops.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { matrixBytes } from '../../src/pack/layout.js';
import { parseManifest } from '../../src/pack/manifest.js';
import { modelFromPack } from '../../src/pack/model.js';
import { openFolderHandle } from '../../src/source/folder.js';
import { parseHfConfig } from '../../src/weights/config.js';
import { quantizeLinear } from '../../src/weights/quantize.js';
import { projectionShapes } from '../../src/weights/shapes.js';
import type { EncoderWeights, Quant } from '../../src/weights/weights.js';
import { EMBEDDING_GEMMA_300M, EUROBERT_210M, QWEN3_EMBEDDING_06B } from '../support/decoder-configs.js';
import { cosine } from '../support/random.js';

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('decoder embedder configs', () => {
  it('reads Qwen3-Embedding-0.6B', () => {
    const c = parseHfConfig(QWEN3_EMBEDDING_06B);
    expect(c).toMatchObject({
      modelType: 'qwen3',
      hiddenSize: 1024,
      numHeads: 16,
      headDim: 128,
      numLayers: 28,
      maxTokens: 32768,
    });
    expect(c.decoder).toMatchObject({
      numKvHeads: 8,
      causal: true,
      attnScale: 1 / Math.sqrt(128),
      embedScale: 1,
      activation: 'silu',
    });
    expect(new Set(c.decoder?.ropeTheta)).toEqual(new Set([1000000]));
    expect(new Set(c.decoder?.windowHalf)).toEqual(new Set([Number.POSITIVE_INFINITY]));
  });

  it('reads EmbeddingGemma-300m: window halves, per-type RoPE bases, scalings', () => {
    const c = parseHfConfig(EMBEDDING_GEMMA_300M);
    expect(c).toMatchObject({ modelType: 'gemma3', hiddenSize: 768, numHeads: 3, headDim: 256, numLayers: 24, padTokenId: 0 });
    const d = c.decoder;
    expect(d).toMatchObject({ numKvHeads: 1, causal: false, attnScale: 1 / 16, embedScale: Math.sqrt(768), sandwichNorms: true });
    expect(d?.windowHalf.slice(0, 6)).toEqual([256, 256, 256, 256, 256, Number.POSITIVE_INFINITY]);
    expect(d?.ropeTheta?.slice(4, 7)).toEqual([10000, 1000000, 10000]);
    // transformers 5 writes the bases per layer type.
    const { rope_theta: _t, rope_local_base_freq: _l, ...v5 } = EMBEDDING_GEMMA_300M;
    const params = {
      full_attention: { rope_type: 'default', rope_theta: 5 },
      sliding_attention: { rope_type: 'default', rope_theta: 7 },
    };
    expect(parseHfConfig({ ...v5, rope_parameters: params }).decoder?.ropeTheta?.slice(4, 6)).toEqual([7, 5]);
  });

  it('reads EuroBERT-210m: bidirectional, no query / key norms, its RoPE base in either config form', () => {
    const c = parseHfConfig(EUROBERT_210M);
    expect(c).toMatchObject({ modelType: 'eurobert', hiddenSize: 768, numHeads: 12, headDim: 64, numLayers: 12 });
    expect(c).toMatchObject({ layerNormEps: 1e-5, padTokenId: 128001, maxTokens: 8192, vocabSize: 128256 });
    expect(c.decoder).toMatchObject({
      numKvHeads: 12,
      causal: false,
      qkNorm: false,
      qkvBias: false,
      sandwichNorms: false,
      attnScale: 1 / 8,
      embedScale: 1,
      activation: 'silu',
    });
    expect(new Set(c.decoder?.ropeTheta)).toEqual(new Set([250000]));
    expect(new Set(c.decoder?.windowHalf)).toEqual(new Set([Number.POSITIVE_INFINITY]));
    // transformers 5 (EuroBERT in transformers itself) writes the base into rope_parameters.
    const { rope_theta: _t, rope_scaling: _s, ...v5 } = EUROBERT_210M;
    const params = { rope_theta: 10000, rope_type: 'default' };
    expect(new Set(parseHfConfig({ ...v5, rope_parameters: params }).decoder?.ropeTheta)).toEqual(new Set([10000]));
  });

  it('runs a Qwen3 whose config says is_causal: false both ways, as transformers builds its mask; own code without it is refused', () => {
    expect(parseHfConfig({ ...QWEN3_EMBEDDING_06B, is_causal: false }).decoder?.causal).toBe(false);
    expect(parseHfConfig({ ...QWEN3_EMBEDDING_06B, is_causal: true }).decoder?.causal).toBe(true);
    const remote = { ...QWEN3_EMBEDDING_06B, auto_map: { AutoModel: 'modeling.PPLXQwen3Model' } };
    expect(() => parseHfConfig(remote)).toThrow(UnsupportedError);
    expect(() => parseHfConfig(remote)).toThrow(/own code.*PPLXQwen3Model.*is_causal/);
    expect(parseHfConfig({ ...remote, is_causal: false }).decoder?.causal).toBe(false);
  });

  it("reads pplx-embed's layout: a bidirectional Qwen3 by its own model type, its int8 quantizer, whose values come back unnormalized", async () => {
    const dir = join(FIXTURES, 'pplx-tiny');
    const config = parseHfConfig(json(join(dir, 'config.json')));
    expect(config).toMatchObject({ modelType: 'qwen3', decoder: { causal: false, qkNorm: true } });
    const handle = await openFolderHandle(dir, undefined);
    expect(handle.info.pooling).toBe('mean');
    expect(handle.model.weights.quantizer).toBe('int8_tanh');
    const expected = json(join(dir, 'expected.json')) as Expected;
    const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(dir, 'expected.safetensors'))));
    const raw = await new CpuEncoder(handle.model.weights).embed(expected.ids, {
      layers: expected.layers,
      dims: expected.hidden,
      pooling: 'mean',
      normalize: false,
    });
    let exact = 0;
    let total = 0;
    raw.forEach((v, i) => {
      const want = oracle.get(`st.${i}`, [expected.hidden]);
      v.forEach((x, c) => {
        expect(Number.isInteger(x)).toBe(true);
        expect(Math.abs(x - (want[c] as number))).toBeLessThanOrEqual(1);
        exact += x === want[c] ? 1 : 0;
        total++;
      });
    });
    // f32 against float64 may land a value on the other side of a rounding boundary, rarely.
    expect(exact / total).toBeGreaterThan(0.99);
    const ckpt = await openHfCheckpoint(dir);
    const pack = await convertCheckpoint(ckpt, { id: 'pplx-tiny', quant: 'f32' }).finally(() => ckpt.close());
    const manifest = JSON.parse(new TextDecoder().decode(pack.files.get('manifest.json')));
    expect(parseManifest(manifest).quantizer).toBe('int8_tanh');
    expect(() => parseManifest({ ...manifest, quantizer: 'binary' })).toThrow(/quantizer must be one of int8_tanh/);
  });

  it('refuses a checkpoint with query / key norms under a config that has none (another model)', async () => {
    const qwen = new SafetensorsFile(new Uint8Array(readFileSync(join(FIXTURES, 'qwen3-tiny/model.safetensors'))));
    const config = parseHfConfig(json(join(FIXTURES, 'eurobert-tiny/config.json')));
    await expect(weightsFromTensors(config, qwen)).rejects.toThrow(/q_norm/);
  });

  it('reads a causal Gemma 3 (harrier-oss-v1-270m): sliding layers keep the window keys before each query', () => {
    const c = parseHfConfig({ ...EMBEDDING_GEMMA_300M, use_bidirectional_attention: false });
    expect(c.decoder).toMatchObject({ causal: true, sandwichNorms: true });
    // transformers' sliding_window_overlay: keys j > i - 512, with j <= i.
    expect(c.decoder?.windowHalf.slice(0, 6)).toEqual([511, 511, 511, 511, 511, Number.POSITIVE_INFINITY]);
    const { use_bidirectional_attention: _b, ...llm } = EMBEDDING_GEMMA_300M;
    expect(parseHfConfig(llm).decoder?.causal).toBe(true);
  });

  it('keeps every GPU buffer of Qwen3-Embedding-0.6B, EmbeddingGemma-300m and EuroBERT-210m within the default WebGPU limits', () => {
    const MAX_BINDING = 128 * 2 ** 20;
    for (const raw of [QWEN3_EMBEDDING_06B, EMBEDDING_GEMMA_300M, EUROBERT_210M]) {
      const c = parseHfConfig(raw);
      const shapes = Object.values(projectionShapes(c));
      // Activations of the largest batch (the vocabulary table never goes to the GPU whole).
      const widest = Math.max(c.intermediateSize, ...shapes.map(([rows]) => rows));
      expect(DEFAULT_BATCH_TOKENS * widest * 4).toBeLessThanOrEqual(MAX_BINDING);
      expect(c.maxTokens * c.headDim * 4).toBeLessThanOrEqual(MAX_BINDING);
      for (const [rows, cols] of shapes) expect(matrixBytes('f32', rows, cols)).toBeLessThanOrEqual(MAX_BINDING);
    }
  });

  it.each([
    [{ ...EMBEDDING_GEMMA_300M, attn_logit_softcapping: 50 }, UnsupportedError, /softcapping/],
    [{ ...EMBEDDING_GEMMA_300M, layer_types: ['full_attention'] }, ModelFormatError, /layer_types/],
    [{ ...QWEN3_EMBEDDING_06B, use_sliding_window: true }, UnsupportedError, /use_sliding_window/],
    [{ ...QWEN3_EMBEDDING_06B, hidden_act: 'gelu' }, UnsupportedError, /hidden_act "gelu"/],
    [{ ...QWEN3_EMBEDDING_06B, rope_scaling: { rope_type: 'yarn', factor: 4 } }, UnsupportedError, /rope_scaling/],
    [{ ...QWEN3_EMBEDDING_06B, num_key_value_heads: 5 }, ModelFormatError, /num_key_value_heads/],
    [{ ...QWEN3_EMBEDDING_06B, model_type: 'llama' }, UnsupportedError, /qwen3, gemma3_text/],
    [{ ...EUROBERT_210M, mlp_bias: true }, UnsupportedError, /mlp_bias/],
    [{ ...EUROBERT_210M, attention_bias: true }, UnsupportedError, /attention_bias/],
    [{ ...EUROBERT_210M, rope_scaling: { rope_type: 'llama3', factor: 8 } }, UnsupportedError, /rope_scaling/],
    [
      { ...EUROBERT_210M, architectures: ['EuroBertForSequenceClassification'], num_labels: 1 },
      UnsupportedError,
      /EuroBertForSequenceClassification/,
    ],
  ])('refuses %#', (raw, type, message) => {
    expect(() => parseHfConfig(raw)).toThrow(type);
    expect(() => parseHfConfig(raw)).toThrow(message);
  });
});

describe('sentence-transformers Dense and last-token pooling', () => {
  const dense = (config: unknown) => ({ path: '2_Dense', config });

  it('reads Dense modules (Identity, Tanh, bias) and last-token pooling', () => {
    const st = sentenceTransformersSettings({
      modules: [
        { path: '', type: 'sentence_transformers.models.Transformer' },
        { path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
        { path: '2_Dense', type: 'sentence_transformers.models.Dense' },
        { path: '3_Normalize', type: 'sentence_transformers.models.Normalize' },
      ],
      pooling: { pooling_mode_lasttoken: true },
      dense: [dense({ in_features: 4, out_features: 4, bias: true, activation_function: 'torch.nn.modules.activation.Tanh' })],
    });
    expect(st).toMatchObject({
      pooling: 'last',
      dense: [{ path: '2_Dense', inFeatures: 4, outFeatures: 4, bias: true, activation: 'tanh' }],
    });
  });

  it('refuses Dense activations it does not run, modules out of order, and chains that change the width', async () => {
    const relu = dense({ in_features: 4, out_features: 4, activation_function: 'torch.nn.modules.activation.ReLU' });
    expect(() => sentenceTransformersSettings({ dense: [relu] })).toThrow(/ReLU/);
    const modules = ['Transformer', 'Pooling', 'Normalize', 'Dense'].map((t) => ({
      path: t,
      type: `sentence_transformers.models.${t}`,
    }));
    expect(() => sentenceTransformersSettings({ modules })).toThrow(UnsupportedError);
    const wide = dense({ in_features: 4, out_features: 8, activation_function: 'torch.nn.modules.linear.Identity' });
    await expect(denseModules({ dense: [wide] }, 4, 'f32')).rejects.toThrow(/end at 8 features/);
    await expect(denseModules({ dense: [dense({ in_features: 4, out_features: 4 })] }, 4, 'f32')).rejects.toThrow(
      /has neither model\.safetensors nor pytorch_model\.bin/,
    );
  });

  it('runs a Tanh Dense with bias like its definition', () => {
    const w = Float32Array.from({ length: 6 }, (_, i) => (i - 2.5) / 3);
    const b = Float32Array.from([0.1, -0.2]);
    const head = cpuHead([{ linear: quantizeLinear(w, 2, 3, b, 'f32'), activation: 'tanh' }]);
    const x = Float32Array.from([0.5, -1, 2]);
    const want = [0, 1].map((r) =>
      Math.tanh((b[r] as number) + [0, 1, 2].reduce((s, c) => s + (w[r * 3 + c] as number) * (x[c] as number), 0)),
    );
    expect([...head(x)].map((v, i) => v - (want[i] as number)).every((d) => Math.abs(d) < 1e-6)).toBe(true);
  });
});

interface Expected {
  texts: string[];
  ids: number[][];
  layers: number;
  hidden: number;
  pooling: 'mean' | 'last';
}

/**
 * Minimum cosine of a pack's sentence-transformers vectors against the oracle. Random weights
 * amplify quantization error layer by layer (as for the BERT fixtures): measured q8 0.99895
 * (qwen3-tiny) / 0.99957 (gemma3-tiny), q4 0.855 / 0.846, so their bounds guard those levels; the
 * issue's bounds hold on the trained fixtures (make_decoder_trained.py).
 */
const RANDOM_MIN: Record<Quant, number> = { f32: 0.99999, f16: 0.9999, q8: 0.998, q4: 0.8 };
const TRAINED_MIN: Record<Quant, number> = { f32: 0.99999, f16: 0.9999, q8: 0.999, q4: 0.99 };

describe.each([
  ['qwen3-tiny', RANDOM_MIN],
  ['gemma3-tiny', RANDOM_MIN],
  ['eurobert-tiny', RANDOM_MIN],
  ['qwen3-bidir-tiny', RANDOM_MIN],
  ['pplx-tiny', RANDOM_MIN],
  ['gemma3-causal-tiny', RANDOM_MIN],
  ['qwen3-trained', TRAINED_MIN],
  ['gemma3-trained', TRAINED_MIN],
])('%s against the PyTorch oracle', (name, MIN) => {
  // EmbeddingGemma's two Dense modules; a causal Gemma 3 embedder has none.
  const dense = (json(join(FIXTURES, name, 'modules.json')) as { type: string }[]).filter((m) => m.type.endsWith('.Dense'));
  const dir = join(FIXTURES, name);
  const expected = json(join(dir, 'expected.json')) as Expected;
  const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(dir, 'expected.safetensors'))));
  const H = expected.hidden;

  /** The worst cosine between our sentence-transformers vectors and the oracle's. */
  const worstSt = async (weights: EncoderWeights) => {
    const cpu = new CpuEncoder(weights);
    const out = await cpu.embed(expected.ids, { layers: expected.layers, dims: H, pooling: expected.pooling, normalize: true });
    return Math.min(...out.map((v, i) => cosine(v, oracle.get(`st.${i}`, [H]))));
  };

  it('opens the folder with its sentence-transformers modules and prompts, and the f32 CPU forward matches at every exit', async () => {
    const handle = await openFolderHandle(dir, undefined);
    expect(handle.info.pooling).toBe(expected.pooling);
    const prompts = json(join(dir, 'config_sentence_transformers.json')).prompts;
    expect(handle.info.prefixes.query).toBe(prompts.query);
    const { weights, tokenizer } = handle.model;
    expect(weights.head?.length ?? 0).toBe(dense.length);
    expect(expected.texts.map((t) => [...tokenizer.encode(t, 1000).ids])).toEqual(expected.ids);
    const cpu = new CpuEncoder(weights);
    let worst = 1;
    for (let l = 0; l <= expected.layers; l++) {
      const states = await cpu.hiddenStates(expected.ids, l);
      states.forEach((s, i) => {
        const want = oracle.get(`hidden.${i}.${l}`, [expected.ids[i]?.length as number, H]);
        for (let t = 0; t < s.length / H; t++)
          worst = Math.min(worst, cosine(s.subarray(t * H, (t + 1) * H), want.subarray(t * H, (t + 1) * H)));
      });
    }
    expect(worst).toBeGreaterThan(0.99999);
    expect(await worstSt(weights)).toBeGreaterThan(0.99999);
  });

  it.each(['f32', 'f16', 'q8', 'q4'] as const)('a %s pack (Dense head included) matches the oracle', async (quant) => {
    const ckpt = await openHfCheckpoint(dir);
    const pack = await convertCheckpoint(ckpt, { id: name, quant }).finally(() => ckpt.close());
    const manifest = parseManifest(JSON.parse(new TextDecoder().decode(pack.files.get('manifest.json'))));
    expect(manifest.pooling).toBe(expected.pooling);
    expect(manifest.head).toEqual(dense.length ? dense.map(() => 'identity') : undefined);
    const model = modelFromPack(manifest, pack.files, expected.layers);
    const worst = await worstSt(model.weights);
    console.log(`${name} cpu ${quant} pack: sentence vectors ${worst.toFixed(6)}`);
    expect(worst).toBeGreaterThan(MIN[quant]);
  });
});
