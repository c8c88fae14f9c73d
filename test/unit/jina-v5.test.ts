import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeLoraAdapter } from '../../src/checkpoint/lora-merge.js';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder } from '../../src/client/client.js';
import { ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { checkpointFromFiles, convertCheckpoint } from '../../src/pack/convert.js';
import { parseManifest } from '../../src/pack/manifest.js';
import { modelFromPack } from '../../src/pack/model.js';
import type { Pack } from '../../src/pack/write.js';
import { openFolderHandle } from '../../src/source/folder.js';
import { parseHfConfig } from '../../src/weights/config.js';
import type { EncoderWeights } from '../../src/weights/weights.js';
import { QWEN3_EMBEDDING_06B } from '../support/decoder-configs.js';
import { type FakeHub, folderFiles, startFakeHub } from '../support/hub-server.js';
import { cosine } from '../support/random.js';

/**
 * jina-embeddings-v5-text-nano's layout (test/oracle/make_decoder_embedders.py, jina-v5-nano-tiny):
 * EuroBERT under model_type jina_embeddings_v5, its task adapters in adapters/{task}/ as PEFT saves
 * them, no sentence-transformers files. The oracle merges the retrieval adapter in float64 PyTorch.
 */
const DIR = join(import.meta.dirname, '../oracle/fixtures/jina-v5-nano-tiny');
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as {
  texts: string[];
  ids: number[][];
  layers: number;
  hidden: number;
};
const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(DIR, 'expected.safetensors'))));
const H = expected.hidden;
const ADAPTER_FILES = ['adapters/retrieval/adapter_config.json', 'adapters/retrieval/adapter_model.safetensors'];
const FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];

const worstSt = (vectors: Float32Array[]) => Math.min(...vectors.map((v, i) => cosine(v, oracle.get(`st.${i}`, [H]))));
const embedAll = (weights: EncoderWeights) =>
  new CpuEncoder(weights).embed(expected.ids, { layers: expected.layers, dims: H, pooling: 'last', normalize: true });
const manifestOf = (pack: Pack) => parseManifest(JSON.parse(new TextDecoder().decode(pack.files.get('manifest.json'))));
const oracleIds = (ids: number[][]) => expected.ids.every((want, i) => JSON.stringify(want) === JSON.stringify(ids[i]));

describe('jina_embeddings_v5 configs', () => {
  it('tells the EuroBERT backbone (text-nano) from the Qwen3 one (text-small) by the fields their config classes write', () => {
    const nano = parseHfConfig(JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')));
    expect(nano.modelType).toBe('eurobert');
    expect(nano.decoder).toMatchObject({ causal: false, qkNorm: false });
    const small = { ...QWEN3_EMBEDDING_06B, model_type: 'jina_embeddings_v5', architectures: ['JinaEmbeddingsV5Model'] };
    expect(parseHfConfig(small).modelType).toBe('qwen3');
    expect(parseHfConfig(small).decoder).toMatchObject({ causal: true, qkNorm: true });
    const { use_sliding_window: _u, max_window_layers: _m, ...neither } = small;
    expect(() => parseHfConfig(neither)).toThrow(UnsupportedError);
    expect(() => parseHfConfig({ ...small, mask_token_id: 4 })).toThrow(/does not say whether its backbone/);
  });
});

describe('jina-embeddings-v5-text-nano from a folder', () => {
  it('merges adapters/retrieval, pools the last token, prompts "Query: " / "Document: ", widths from 32: every exit as the oracle', async () => {
    const handle = await openFolderHandle(DIR, undefined);
    expect(handle.info).toMatchObject({ pooling: 'last', prefixes: { query: 'Query: ', passage: 'Document: ' }, dims: [32, 64] });
    const { weights, tokenizer } = handle.model;
    expect(oracleIds(expected.texts.map((t) => [...tokenizer.encode(t, 1000).ids]))).toBe(true);
    const cpu = new CpuEncoder(weights);
    let worst = 1;
    for (let l = 0; l <= expected.layers; l++) {
      const states = await cpu.hiddenStates(expected.ids, l);
      states.forEach((s, i) => {
        worst = Math.min(worst, cosine(s, oracle.get(`hidden.${i}.${l}`, [expected.ids[i]?.length as number, H])));
      });
    }
    expect(worst).toBeGreaterThan(0.99999);
    expect(worstSt(await embedAll(weights))).toBeGreaterThan(0.99999);
  });

  it('reads a task repository (its adapter merged already, no adapters folder) as it is', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'm3web-jina-v5-'));
    try {
      for (const f of FILES) cpSync(join(DIR, f), join(copy, f));
      const handle = await openFolderHandle(copy, undefined);
      // The base weights without the adapter: far from the merged model's vectors.
      expect(worstSt(await embedAll(handle.model.weights))).toBeLessThan(0.5);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('converts into a pack that keeps the merge, the pooling, the prompts and the widths', async () => {
    const ckpt = await openHfCheckpoint(DIR);
    const pack = await convertCheckpoint(ckpt, { id: 'jina-v5-nano-tiny', quant: 'q8' }).finally(() => ckpt.close());
    const manifest = manifestOf(pack);
    expect(manifest).toMatchObject({ pooling: 'last', prefixes: { query: 'Query: ', passage: 'Document: ' } });
    expect(worstSt(await embedAll(modelFromPack(manifest, pack.files, expected.layers).weights))).toBeGreaterThan(0.998);
  });

  it('merges the adapter of files dropped into a page (each keyed by its own folder)', async () => {
    const dropped = [...FILES, ...ADAPTER_FILES].map((name) => {
      const file = new File([readFileSync(join(DIR, name))], name.split('/').pop() as string);
      Object.defineProperty(file, 'webkitRelativePath', { value: `jina-v5-nano-tiny/${name}` });
      return file;
    });
    const pack = await convertCheckpoint(await checkpointFromFiles(dropped), { id: 'dropped', quant: 'f32' });
    const model = modelFromPack(manifestOf(pack), pack.files, expected.layers);
    expect(worstSt(await embedAll(model.weights))).toBeGreaterThan(0.99999);
  });
});

describe('jina-embeddings-v5-text-nano by hub id', { timeout: 120_000 }, () => {
  let hub: FakeHub;
  beforeAll(async () => {
    process.env.M3WEB_CACHE_DIR = mkdtempSync(join(tmpdir(), 'm3web-jina-v5-hub-'));
    hub = await startFakeHub(
      new Map([
        ['jinaai/jina-embeddings-v5-text-nano', { files: folderFiles(DIR, [...FILES, ...ADAPTER_FILES]), commit: 'cafe5' }],
      ]),
    );
  });
  afterAll(async () => {
    await hub?.close();
    delete process.env.M3WEB_CACHE_DIR;
  });

  it('merges the retrieval adapter fetched beside the weights; kind: query puts "Query: " first', async () => {
    const enc = await createEncoder({
      model: 'hf:jinaai/jina-embeddings-v5-text-nano',
      hub: { url: hub.url },
      device: 'cpu',
      dtype: 'f32',
    });
    try {
      const info = await enc.info();
      expect(info.model).toMatchObject({ pooling: 'last', dims: [32, 64] });
      expect(worstSt(await enc.embed(expected.texts))).toBeGreaterThan(0.99999);
      const text = expected.texts[0] as string;
      const [query] = await enc.embed([text], { kind: 'query' });
      const [prompted] = await enc.embed([`Query: ${text}`]);
      expect(cosine(query as Float32Array, prompted as Float32Array)).toBeGreaterThan(0.999999);
    } finally {
      await enc.dispose();
    }
  });
});

describe('PEFT LoRA merge', () => {
  const base = new SafetensorsFile(new Uint8Array(readFileSync(join(DIR, 'model.safetensors'))));
  const adapter = new SafetensorsFile(new Uint8Array(readFileSync(join(DIR, ADAPTER_FILES[1] as string))));
  const config = JSON.parse(readFileSync(join(DIR, ADAPTER_FILES[0] as string), 'utf8'));

  it('adds (lora_alpha / r) B A to the weights it names, also when read a block of rows at a time', async () => {
    const merged = await mergeLoraAdapter(base, { config, weights: adapter, path: 'adapters/retrieval' });
    const name = 'model.layers.1.mlp.down_proj.weight';
    const shape = base.shape(name) as number[];
    const [rows, cols] = shape as [number, number];
    const A = adapter.get('base_model.model.layers.1.mlp.down_proj.lora_A.weight', [4, cols]);
    const B = adapter.get('base_model.model.layers.1.mlp.down_proj.lora_B.weight', [rows, 4]);
    const w = Float32Array.from(base.get(name, shape));
    const want = w.map((v, i) => {
      const [r, c] = [Math.floor(i / cols), i % cols];
      let s = 0;
      for (let k = 0; k < 4; k++) s += (B[r * 4 + k] as number) * (A[k * cols + c] as number);
      return v + (config.lora_alpha / config.r) * s;
    });
    const whole = await merged.get(name, shape);
    expect(Math.max(...whole.map((v, i) => Math.abs(v - (want[i] as number))))).toBeLessThan(1e-5);
    const block = await merged.getRows(name, shape, 10, 20);
    expect(Math.max(...block.map((v, i) => Math.abs(v - (want[10 * cols + i] as number))))).toBeLessThan(1e-5);
    // Weights the adapter leaves alone pass through.
    expect(await merged.get('model.norm.weight', [H])).toEqual(base.get('model.norm.weight', [H]));
  });

  it.each([
    [{ use_dora: true }, UnsupportedError, /use_dora/],
    [{ bias: 'all' }, UnsupportedError, /bias/],
    [{ peft_type: 'IA3' }, UnsupportedError, /peft_type/],
    [{ rank_pattern: { q_proj: 8 } }, UnsupportedError, /rank_pattern/],
    [{ r: 0 }, ModelFormatError, /"r"/],
  ])('refuses adapter config %#', async (change, type, message) => {
    const merge = mergeLoraAdapter(base, { config: { ...config, ...change }, weights: adapter, path: 'adapters/retrieval' });
    await expect(merge).rejects.toThrow(type);
    await expect(mergeLoraAdapter(base, { config: { ...config, ...change }, weights: adapter, path: 'x' })).rejects.toThrow(
      message,
    );
  });

  it('refuses an adapter for weights the checkpoint does not have, or of another shape', async () => {
    // eurobert-tiny has the same shapes without the "model." prefix: merged by name either way.
    const bare = new SafetensorsFile(new Uint8Array(readFileSync(join(DIR, '../eurobert-tiny/model.safetensors'))));
    await expect(mergeLoraAdapter(bare, { config, weights: adapter, path: 'a' })).resolves.toBeDefined();
    const lacking = {
      ...base,
      has: (n: string) => base.has(n),
      shape: (n: string) => base.shape(n),
      get: (n: string, s: readonly number[]) => base.get(n, s),
      getRows: (n: string, s: readonly number[], f: number, t: number) => base.getRows(n, s, f, t),
      names: () => [...base.names()].filter((n) => n !== 'model.layers.2.mlp.up_proj.weight'),
    };
    await expect(mergeLoraAdapter(lacking, { config, weights: adapter, path: 'a' })).rejects.toThrow(/up_proj.weight, which/);
    const gemma = new SafetensorsFile(new Uint8Array(readFileSync(join(DIR, '../gemma3-tiny/model.safetensors'))));
    await expect(mergeLoraAdapter(gemma, { config, weights: adapter, path: 'a' })).rejects.toThrow(/in the checkpoint/);
  });
});
