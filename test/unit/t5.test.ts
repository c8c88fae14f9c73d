import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { bucketize } from '../../src/model/batch.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import { decoderCpuForward } from '../../src/model/cpu-decoder.js';
import { relativeBucket } from '../../src/model/relative-bias.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { parseManifest } from '../../src/pack/manifest.js';
import { modelFromPack } from '../../src/pack/model.js';
import { openFolderHandle } from '../../src/source/folder.js';
import { parseHfConfig } from '../../src/weights/config.js';
import type { EncoderWeights, Quant } from '../../src/weights/weights.js';
import { cosine } from '../support/random.js';
import { T5_SMALL, T5_V1_1_BASE } from '../support/t5-configs.js';

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('T5 configs', () => {
  it('reads t5-small (ReLU) and t5-v1_1-base (gated gelu_new) as unscaled, relative-bias, pre-norm encoders', () => {
    const small = parseHfConfig(T5_SMALL);
    expect(small).toMatchObject({
      modelType: 't5',
      hiddenSize: 512,
      numHeads: 8,
      headDim: 64,
      numLayers: 6,
      intermediateSize: 2048,
      maxTokens: 512,
      padTokenId: 0,
      layerNormEps: 1e-6,
      relativeAttention: { buckets: 32, maxDistance: 128, tableRows: 32 },
    });
    expect(small.decoder).toMatchObject({
      numKvHeads: 8,
      causal: false,
      ropeTheta: null,
      attnScale: 1,
      activation: 'relu',
      gated: false,
      qkNorm: false,
    });
    expect(parseHfConfig(T5_V1_1_BASE).decoder).toMatchObject({ activation: 'gelu_tanh', gated: true });
    // Configs written before transformers stored the resolved fields, and mT5's model_type.
    const { dense_act_fn: _a, is_gated_act: _g, ...bare } = T5_V1_1_BASE;
    expect(parseHfConfig({ ...bare, model_type: 'mt5' }).decoder).toMatchObject({ activation: 'gelu_tanh', gated: true });
    expect(parseHfConfig({ ...bare, feed_forward_proj: 'gated-silu' }).decoder).toMatchObject({
      activation: 'silu',
      gated: true,
    });
    expect(parseHfConfig({ ...bare, feed_forward_proj: 'gelu' }).decoder).toMatchObject({ activation: 'gelu', gated: false });
  });

  it.each([
    [
      { ...T5_SMALL, feed_forward_proj: 'gated-relu', dense_act_fn: undefined, is_gated_act: undefined },
      UnsupportedError,
      /gated relu/,
    ],
    [{ ...T5_SMALL, dense_act_fn: 'mish' }, UnsupportedError, /mish/],
    [{ ...T5_SMALL, feed_forward_proj: 'gelu-relu' }, ModelFormatError, /feed_forward_proj/],
    [{ ...T5_SMALL, relative_attention_num_buckets: 7 }, ModelFormatError, /even/],
    [{ ...T5_SMALL, relative_attention_max_distance: 4 }, ModelFormatError, /max_distance/],
    [{ ...T5_SMALL, d_kv: 6 }, UnsupportedError, /d_kv/],
    [{ ...T5_SMALL, model_type: 'umt5' }, UnsupportedError, /t5, mt5/],
  ])('refuses %#', (raw, type, message) => {
    expect(() => parseHfConfig(raw)).toThrow(type);
    expect(() => parseHfConfig(raw)).toThrow(message);
  });

  it("buckets distances as T5's default (32 buckets, 128 apart) does", () => {
    const spec = { buckets: 32, maxDistance: 128 };
    // Exact below 8 each way, keys after the query in the upper half, logarithmic to 128, then clamped.
    expect([0, -1, 7, 1, 8, 12, 16, -16, 127, 128, 1000, -1000].map((d) => relativeBucket(d, spec))).toEqual([
      0, 1, 23, 17, 24, 25, 26, 10, 31, 31, 31, 15,
    ]);
  });
});

interface Expected {
  texts: string[];
  ids: number[][];
  layers: number;
  hidden: number;
}

/**
 * Minimum cosine of sentence vectors against the oracle per weight format. Random weights amplify
 * quantization error as for the other fixtures; measured q8 0.99989 / 0.99968, q4 0.978 / 0.941 (st / gated).
 */
const MIN: Record<Quant, number> = { f32: 0.99999, f16: 0.9999, q8: 0.999, q4: 0.9 };

describe.each([
  ['t5-st-tiny', true],
  ['t5-gated-tiny', false],
])('%s against the PyTorch oracle', (name, sentenceTransformers) => {
  const dir = join(FIXTURES, name);
  const expected = json(join(dir, 'expected.json')) as Expected;
  const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(dir, 'expected.safetensors'))));
  const H = expected.hidden;
  const L = expected.layers;

  /** The worst cosine between our sentence vectors (mean pooling, the Dense head, Normalize) and the oracle's. */
  const worstSt = async (weights: EncoderWeights) => {
    const cpu = new CpuEncoder(weights);
    const out = await cpu.embed(expected.ids, { layers: L, dims: H, pooling: 'mean', normalize: true });
    cpu.dispose();
    return Math.min(...out.map((v, i) => cosine(v, oracle.get(`st.${i}`, [H]))));
  };
  /** The worst cosine of any token's state at exit `l` among `states` (one per text). */
  const worstStates = (states: readonly Float32Array[], l: number) =>
    Math.min(
      ...states.flatMap((s, i) => {
        const want = oracle.get(`hidden.${i}.${l}`, [expected.ids[i]?.length as number, H]);
        return Array.from({ length: s.length / H }, (_, t) =>
          cosine(s.subarray(t * H, (t + 1) * H), want.subarray(t * H, (t + 1) * H)),
        );
      }),
    );

  it('opens the folder (tokenizer, pooling, Dense head) and the f32 CPU forward matches at every exit', async () => {
    const handle = await openFolderHandle(dir, undefined);
    expect(handle.info.pooling).toBe('mean');
    const { weights, tokenizer } = handle.model;
    expect(weights.head?.length ?? 0).toBe(sentenceTransformers ? 1 : 0);
    expect(expected.texts.map((t) => [...tokenizer.encode(t, 1000).ids])).toEqual(expected.ids);
    // T5's template keeps its </s> when a text is cut.
    expect(tokenizer.encode(expected.texts[7] as string, 10).ids.at(-1)).toBe(1);
    const cpu = new CpuEncoder(weights);
    let worst = 1;
    for (let l = 0; l <= L; l++) worst = Math.min(worst, worstStates(await cpu.hiddenStates(expected.ids, l), l));
    cpu.dispose();
    expect(worst).toBeGreaterThan(0.99999);
    expect(await worstSt(weights)).toBeGreaterThan(0.99999);
  });

  it('matches without the WebAssembly kernels too (the TypeScript attention and feed-forward)', async () => {
    const config = parseHfConfig(json(join(dir, 'config.json')));
    const weights = await weightsFromTensors(
      config,
      new SafetensorsFile(new Uint8Array(readFileSync(join(dir, 'model.safetensors')))),
    );
    const forward = decoderCpuForward(weights as Extract<EncoderWeights, { family: 'decoder' }>, null);
    const [batch] = bucketize(expected.ids, config, 1 << 16);
    if (!batch) throw new Error('no batch');
    const out = forward(batch, L);
    const states = [...batch.indices.entries()].map(([row, i]) => {
      const n = expected.ids[i]?.length as number;
      return { i, s: out.subarray(row * batch.seqLen * H, (row * batch.seqLen + n) * H) };
    });
    const ordered = states.sort((a, b) => a.i - b.i).map((r) => r.s);
    expect(worstStates(ordered, L)).toBeGreaterThan(0.99999);
  });

  it.each(['f32', 'f16', 'q8', 'q4'] as const)('a %s pack matches the oracle', async (quant) => {
    const ckpt = await openHfCheckpoint(dir);
    const pack = await convertCheckpoint(ckpt, { id: name, quant }).finally(() => ckpt.close());
    const manifest = parseManifest(JSON.parse(new TextDecoder().decode(pack.files.get('manifest.json'))));
    expect(manifest.pooling).toBe('mean');
    const model = modelFromPack(manifest, pack.files, L);
    expect(model.weights.config.modelType).toBe('t5');
    const worst = await worstSt(model.weights);
    console.log(`${name} cpu ${quant} pack: sentence vectors ${worst.toFixed(6)}`);
    expect(worst).toBeGreaterThan(MIN[quant]);
  });
});
