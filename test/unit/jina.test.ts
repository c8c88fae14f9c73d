import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsFile, type TensorSource } from '../../src/checkpoint/safetensors.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { createEncoder } from '../../src/client/client.js';
import { UnsupportedError } from '../../src/errors.js';
import { alibiSlopes } from '../../src/model/alibi.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { parseManifest } from '../../src/pack/manifest.js';
import { modelFromPack } from '../../src/pack/model.js';
import { parseHfConfig } from '../../src/weights/config.js';
import type { Quant } from '../../src/weights/weights.js';
import { JINA_EMBEDDINGS_V2_SMALL_EN } from '../support/gated-bert-configs.js';
import { type FakeHub, folderFiles, startFakeHub } from '../support/hub-server.js';
import { cosine } from '../support/random.js';

// JinaBERT v2 (jina-embeddings-v2-*) against test/oracle/make_jina.py, a float64 PyTorch forward
// written from JinaBertModel as its ports give it: ALiBi, GeGLU, post-norm.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const TINY = join(FIXTURES, 'jina-tiny');
const SIX = join(FIXTURES, 'jina-6head-tiny');
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
type Expected = { texts: string[]; ids: number[][]; layers: number; hidden: number; slopes: number[] };

describe('JinaBERT v2 config', () => {
  it('reads jina-embeddings-v2-small-en: model_type bert with ALiBi and GeGLU', () => {
    const c = parseHfConfig(JINA_EMBEDDINGS_V2_SMALL_EN);
    expect(c).toMatchObject({
      modelType: 'jina_bert',
      hiddenSize: 512,
      numHeads: 8,
      headDim: 64,
      intermediateSize: 2048,
      numLayers: 4,
      maxTokens: 8192,
      typeVocabSize: 2,
      positionOffset: 0,
    });
    expect(c.gatedBert).toEqual({ positions: { type: 'alibi' }, gate: 'gelu', truncateNorm: false });
  });

  it.each(['original', 'reglu', 'glu'])('refuses feed_forward_type %s', (type) => {
    const run = () => parseHfConfig({ ...JINA_EMBEDDINGS_V2_SMALL_EN, feed_forward_type: type });
    expect(run).toThrow(UnsupportedError);
    expect(run).toThrow(new RegExp(`feed_forward_type "${type}"`));
  });

  it("gives the oracle's ALiBi slopes, for a power of two heads and for six", () => {
    for (const dir of [TINY, SIX]) {
      const { slopes } = json(join(dir, 'expected.json')) as Expected;
      expect([...alibiSlopes(slopes.length)]).toEqual(slopes);
    }
  });

  it('refuses the query / key norm variant (jina-embeddings-v2-base-code) by its tensors', async () => {
    const file = new SafetensorsFile(new Uint8Array(readFileSync(join(TINY, 'model.safetensors'))));
    // The fixture's tensors, plus the feed-forward name that variant uses.
    const variant: TensorSource = {
      has: (n) => n === 'encoder.layer.0.mlp.up_gated_layer.weight' || file.has(n),
      names: () => file.names(),
      get: (n, shape) => file.get(n, shape),
      getRows: (n, shape, from, to) => file.getRows(n, shape, from, to),
    };
    const config = parseHfConfig(json(join(TINY, 'config.json')));
    await expect(weightsFromTensors(config, file)).resolves.toMatchObject({ family: 'bert' });
    await expect(weightsFromTensors(config, variant)).rejects.toThrow(UnsupportedError);
    await expect(weightsFromTensors(config, variant)).rejects.toThrow(/qk-post-norm/);
  });
});

describe('JinaBERT v2 packs', () => {
  const MEAN: Record<Quant, number> = { f32: 0.99999, f16: 0.9999, q8: 0.999, q4: 0.9 };
  const CLS: Record<Quant, number> = { f32: 0.99999, f16: 0.9999, q8: 0.998, q4: 0.85 };
  it.each([
    [TINY, 'f32'],
    [TINY, 'q8'],
    [TINY, 'q4'],
    [SIX, 'f32'],
    [SIX, 'q8'],
  ] as const)('%s as a %s pack pools like the oracle at every exit', async (dir, quant) => {
    const expected = json(join(dir, 'expected.json')) as Expected;
    const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(dir, 'expected.safetensors'))));
    const H = expected.hidden;
    const ckpt = await openHfCheckpoint(dir);
    const pack = await convertCheckpoint(ckpt, { id: 'jina', quant }).finally(() => ckpt.close());
    const manifest = parseManifest(JSON.parse(new TextDecoder().decode(pack.files.get('manifest.json'))));
    const packed = modelFromPack(manifest, pack.files, expected.layers);
    const cpu = new CpuEncoder(packed.weights);
    const tokens = expected.texts.map((t) => packed.tokenizer.encode(t, packed.config.maxTokens).ids);
    expect(tokens).toEqual(expected.ids);
    const exits = Array.from({ length: expected.layers }, (_, l) => l + 1);
    const worst = { mean: 1, cls: 1 };
    for (const pooling of ['mean', 'cls'] as const) {
      const pooled = await cpu.pooledAtExits(tokens, exits, pooling);
      exits.forEach((layers, e) => {
        expected.texts.forEach((_, i) => {
          const c = cosine(pooled[e]?.[i] as Float32Array, oracle.get(`${pooling}.${i}.${layers}`, [H]));
          worst[pooling] = Math.min(worst[pooling], c);
        });
      });
    }
    expect(worst.mean).toBeGreaterThan(MEAN[quant]);
    expect(worst.cls).toBeGreaterThan(CLS[quant]);
  });
});

describe('jina-embeddings-v2 by hub id', { timeout: 120_000 }, () => {
  let hub: FakeHub;
  beforeAll(async () => {
    process.env.M3WEB_CACHE_DIR = mkdtempSync(join(tmpdir(), 'm3web-jina-hub-'));
    const files = [
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'model.safetensors',
      'modules.json',
      '1_Pooling/config.json',
      'sentence_bert_config.json',
    ];
    hub = await startFakeHub(
      new Map([['jinaai/jina-embeddings-v2-small-en', { files: folderFiles(TINY, files), commit: 'ba5e' }]]),
    );
  });
  afterAll(async () => {
    await hub?.close();
    delete process.env.M3WEB_CACHE_DIR;
  });

  it('mean pooling from the repository, as the oracle at the last layer, on the CPU', async () => {
    const expected = json(join(TINY, 'expected.json')) as Expected;
    const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(TINY, 'expected.safetensors'))));
    const enc = await createEncoder({
      model: 'hf:jinaai/jina-embeddings-v2-small-en',
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
