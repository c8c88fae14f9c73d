import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadHfModel } from '../../src/checkpoint/load.js';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { InputError, ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { readHfFolder } from '../../src/node/hf-folder.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { parseManifest } from '../../src/pack/manifest.js';
import { modelFromPack } from '../../src/pack/model.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { parseHfConfig } from '../../src/weights/config.js';
import type { Quant } from '../../src/weights/weights.js';
import { MMBERT_BASE_CONFIG, MMBERT_SMALL_CONFIG } from '../support/mmbert.js';
import { cosine } from '../support/random.js';

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const TINY = join(FIXTURES, 'modernbert-tiny');
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('ModernBERT config', () => {
  it('reads the public mmBERT configs', () => {
    const small = parseHfConfig(MMBERT_SMALL_CONFIG);
    expect(small).toMatchObject({
      modelType: 'modernbert',
      vocabSize: 256000,
      hiddenSize: 384,
      numHeads: 6,
      headDim: 64,
      intermediateSize: 1152,
      numLayers: 22,
      maxTokens: 8192,
      layerNormEps: 1e-5,
      padTokenId: 0,
    });
    expect(small.modern).toMatchObject({ windowHalf: 64, globalRopeTheta: 160000, localRopeTheta: 160000, exitNorm: 'none' });
    // Layers 0, 3, 6, ..., 21 are global.
    expect(small.modern?.globalLayers.flatMap((g, l) => (g ? [l] : []))).toEqual([0, 3, 6, 9, 12, 15, 18, 21]);
    expect(parseHfConfig(MMBERT_BASE_CONFIG)).toMatchObject({ hiddenSize: 768, numHeads: 12, headDim: 64, numLayers: 22 });
    // The published file carries both config forms; each alone reads the same.
    const { rope_parameters: _r, mask_token_id: _m, ...v4 } = MMBERT_SMALL_CONFIG;
    expect(parseHfConfig(v4)).toEqual(small);
    const { global_rope_theta: _g, local_rope_theta: _l, ...v5 } = MMBERT_SMALL_CONFIG;
    expect(parseHfConfig(v5)).toEqual(small);
  });

  it('reads the transformers 5 form (layer_types, rope_parameters) and the defaults', () => {
    const v5 = parseHfConfig(json(join(FIXTURES, 'modernbert-bias-tiny', 'config.json')), { exitNorm: 'final' });
    expect(v5.modern).toMatchObject({
      globalLayers: [true, false, true],
      globalRopeTheta: 10000,
      localRopeTheta: 500,
      windowHalf: 4,
      attentionBias: true,
      mlpBias: true,
      normBias: true,
      exitNorm: 'final',
    });
    const {
      global_rope_theta: _g,
      local_rope_theta: _l,
      local_attention: _w,
      global_attn_every_n_layers: _e,
      rope_parameters: _r,
      ...bare
    } = MMBERT_SMALL_CONFIG;
    expect(parseHfConfig(bare).modern).toMatchObject({ windowHalf: 64, globalRopeTheta: 160000, localRopeTheta: 10000 });
    // transformers reads an explicit null local theta as "use the global one".
    expect(parseHfConfig({ ...bare, global_rope_theta: 5, local_rope_theta: null }).modern?.localRopeTheta).toBe(5);
    // granite-embedding-97m-multilingual-r2's SwiGLU (gguf-modernbert's f16-silu.gguf runs it against its oracles).
    expect(parseHfConfig(bare).modern?.gate).toBe('gelu');
    expect(parseHfConfig({ ...bare, hidden_activation: 'silu' }).modern?.gate).toBe('silu');
  });

  it.each([
    [{ hidden_activation: 'relu' }, UnsupportedError, /hidden_activation "relu"/],
    [{ rope_scaling: { rope_type: 'yarn', factor: 4 } }, UnsupportedError, /rope_scaling/],
    [
      { rope_parameters: { full_attention: { rope_type: 'linear', rope_theta: 1 }, sliding_attention: { rope_theta: 1 } } },
      UnsupportedError,
      /rope_type "linear"/,
    ],
    [{ layer_types: ['full_attention'] }, ModelFormatError, /layer_types/],
    [
      { layer_types: Array.from({ length: 22 }, (_, l) => (l % 2 ? 'sliding_attention' : 'full_attention')) },
      ModelFormatError,
      /disagrees/,
    ],
    [{ num_attention_heads: 128 }, ModelFormatError, /even head size/],
    [{ attention_bias: 'yes' }, ModelFormatError, /attention_bias/],
  ])('refuses %j with a clear error', (change, type, message) => {
    const run = () => parseHfConfig({ ...MMBERT_SMALL_CONFIG, ...change });
    expect(run).toThrow(type);
    expect(run).toThrow(message);
  });
});

describe('Gemma-2-style BPE tokenizer', () => {
  it('gives the oracle ids: cased, spaces as U+2581, byte fallback for unseen characters', () => {
    const expected = json(join(TINY, 'expected.json')) as { texts: string[]; ids: number[][]; tokens: string[][] };
    const tok = TextTokenizer.fromJson(json(join(TINY, 'tokenizer.json')), json(join(TINY, 'tokenizer_config.json')));
    expected.texts.forEach((t, i) => {
      expect(tok.encode(t, 1000).ids).toEqual(expected.ids[i]);
    });
    expect(expected.tokens.flat()).toContain('<0xF0>');
    const ids = tok.tokenIds('Hi hi', false);
    expect(ids).not.toEqual(tok.tokenIds('hi hi', false));
    // Truncation keeps the closing <eos>.
    const cut = tok.encode(expected.texts[7] as string, 10).ids;
    expect(cut).toHaveLength(10);
    expect(cut.at(-1)).toBe(1);
  });
});

describe('ModernBERT folders and packs', () => {
  const expected = json(join(TINY, 'expected.json')) as { texts: string[]; layers: number };
  const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(TINY, 'expected.safetensors'))));
  const H = 64;

  it('loadHfModel reads a ModernBERT folder (layer 0 without attention norm)', async () => {
    const { config, weights } = await loadHfModel(await readHfFolder(TINY), { layers: 2, quant: 'q8' });
    expect(config.modelType).toBe('modernbert');
    expect(weights.family).toBe('modernbert');
    expect(weights.family === 'modernbert' && weights.layers.map((l) => l.attnNorm === null)).toEqual([true, false]);
    expect(weights.layers[0]?.ffnIn).toMatchObject({ quant: 'q8', rows: 2 * 64, cols: 64 });
  });

  // q4 packs also store the vocabulary in q4; as for BERT packs, its bound guards the measured level.
  const MIN: Record<Quant, number> = { f32: 0.99999, f16: 0.9999, q8: 0.999, q4: 0.9 };
  it.each([
    ['f32', 'none'],
    ['q8', 'none'],
    ['q8', 'final'],
    ['q4', 'final'],
  ] as const)('a %s pack with exitNorm %s pools like the oracle at every exit', async (quant, exitNorm) => {
    const ckpt = await openHfCheckpoint(TINY);
    const pack = await convertCheckpoint(ckpt, { id: 'mb', quant, exitNorm, dims: [16, 32, 64] }).finally(() => ckpt.close());
    const manifest = parseManifest(JSON.parse(new TextDecoder().decode(pack.files.get('manifest.json'))));
    expect(manifest).toMatchObject({ exitNorm, exits: [1, 2, 3, 4], maxTokens: 160 });
    expect([...pack.files.keys()].sort()).toEqual(
      [
        'embeddings.bin',
        'layer-00.bin',
        'layer-01.bin',
        'layer-02.bin',
        'layer-03.bin',
        'manifest.json',
        'tokenizer.json',
      ].sort(),
    );
    const model = modelFromPack(manifest, pack.files, expected.layers);
    const cpu = new CpuEncoder(model.weights);
    const tokens = expected.texts.map((t) => model.tokenizer.encode(t, model.config.maxTokens).ids);
    const pooled = await cpu.pooledAtExits(tokens, manifest.exits, 'mean');
    let worst = 1;
    manifest.exits.forEach((layers, e) => {
      expected.texts.forEach((_, i) => {
        worst = Math.min(worst, cosine(pooled[e]?.[i] as Float32Array, oracle.get(`mean.${exitNorm}.${i}.${layers}`, [H])));
      });
    });
    expect(worst).toBeGreaterThan(MIN[quant]);
  });

  it('refuses an exit convention for a BERT model', async () => {
    const ckpt = await openHfCheckpoint(join(FIXTURES, 'bert-tiny'));
    await expect(convertCheckpoint(ckpt, { id: 'b', exitNorm: 'final' }).finally(() => ckpt.close())).rejects.toThrow(InputError);
  });
});
