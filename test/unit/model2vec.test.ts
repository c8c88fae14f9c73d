import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadHfModel } from '../../src/checkpoint/load.js';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder, createIndex } from '../../src/client/client.js';
import { UnsupportedError } from '../../src/errors.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { readHfFolder } from '../../src/node/hf-folder.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import type { ModelFolder } from '../../src/types.js';
import { folderFiles } from '../support/hub-server.js';
import { readOracleJson, serveFakeHub } from '../support/oracle-pack.js';
import { cosine } from '../support/random.js';

// A model2vec static embedder (test/oracle/make_model2vec.py): a vocabulary table and no layers,
// its vectors the mean of the rows of a text's tokens, without special tokens or [UNK].

const FIXTURE = join(import.meta.dirname, '../oracle/fixtures/model2vec-tiny');
const expected = readOracleJson<{ texts: string[]; ids: number[][] }>(join(FIXTURE, 'expected.json'));
const H = 32;
const ALL_UNKNOWN = expected.ids.findIndex((ids) => ids.length === 0);
/** The oracle's unnormalised mean of text i, for a fixture folder of width H. */
const oracleMeans = (dir: string) => {
  const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(dir, 'expected.safetensors'))));
  return (i: number) => oracle.get(`mean.${i}`, [H]);
};
const want = oracleMeans(FIXTURE);
const FILES = ['config.json', 'tokenizer.json', 'model.safetensors', 'modules.json'];
/** Files as a page hands a dropped folder over (EncoderOptions.model as a ModelFolder). */
const folder = (name: string, files: ReadonlyMap<string, Uint8Array>): ModelFolder => ({
  name,
  files: Object.fromEntries([...files].map(([n, b]) => [n, new Blob([b.slice()])])),
});
const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

/** Every text's vector against the oracle's mean: the worst cosine, the all-unknown text's vector apart. */
function worstCosine(vectors: Float32Array[], means = want): number {
  expect(vectors[ALL_UNKNOWN]).toEqual(new Float32Array(vectors[ALL_UNKNOWN]?.length ?? 0));
  return Math.min(...vectors.map((v, i) => (i === ALL_UNKNOWN ? 1 : cosine(v, means(i).subarray(0, v.length)))));
}

describe('model2vec static embedders', { timeout: 60_000 }, () => {
  it('reads the folder: no layers, the table as the vocabulary, tokens without specials or [UNK]', async () => {
    const { config, weights, tokenizer } = await loadHfModel(await readHfFolder(FIXTURE));
    expect(config).toMatchObject({ modelType: 'model2vec', numLayers: 0, hiddenSize: H, vocabSize: 2062, maxTokens: 512 });
    expect(weights).toMatchObject({ family: 'static', layers: [] });
    const ids = expected.texts.map((t) => tokenizer.encode(t, config.maxTokens).ids);
    expect(ids).toEqual(expected.ids);
    expect(expected.ids.at(-1)).toHaveLength(512);
  });

  it('embeds like model2vec from a Node folder, at every width, normalised or not', async () => {
    const enc = await createEncoder({ model: FIXTURE, device: 'cpu' });
    try {
      const info = await enc.info();
      expect(info.model).toMatchObject({ layers: 0, exits: [0], hiddenSize: H, pooling: 'mean' });
      const raw = await enc.embed(expected.texts, { normalize: false });
      expect(worstCosine(raw)).toBeGreaterThanOrEqual(0.99999);
      raw.forEach((v, i) => {
        expect(norm(v)).toBeCloseTo(norm(want(i)), 5);
      });
      const cut = await enc.embed(expected.texts, { dims: 16 });
      expect(worstCosine(cut)).toBeGreaterThanOrEqual(0.99999);
      cut.forEach((v, i) => {
        expect(v).toHaveLength(16);
        if (i !== ALL_UNKNOWN) expect(norm(v)).toBeCloseTo(1, 5);
      });
      await expect(enc.embed(['x'], { layers: 1 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    } finally {
      await enc.dispose();
    }
  });

  it.each([
    ['f32', 0.99999],
    ['q8', 0.999],
  ] as const)('converts to a %s pack that embeds like model2vec', async (quant, bound) => {
    const ckpt = await openHfCheckpoint(FIXTURE);
    const pack = await convertCheckpoint(ckpt, { id: 'potion-tiny', quant }).finally(() => ckpt.close());
    const manifest = JSON.parse(new TextDecoder().decode(pack.files.get('manifest.json')));
    expect(manifest).toMatchObject({
      exits: [0],
      dims: [16, H],
      quantization: { linear: quant, embeddings: quant },
      config: { num_hidden_layers: 0, vocab_size: 2062, hidden_size: H },
    });
    expect([...pack.files.keys()].filter((f) => f.endsWith('.bin'))).toEqual(['embeddings.bin']);
    const enc = await createEncoder({
      model: folder('potion-tiny', pack.files),
      device: 'cpu',
    });
    try {
      expect(worstCosine(await enc.embed(expected.texts))).toBeGreaterThanOrEqual(bound);
    } finally {
      await enc.dispose();
    }
  });

  it("opens model2vec's 2024 configs, without model_type or hidden_dim (the width read from the table)", async () => {
    const files = folderFiles(FIXTURE, FILES);
    const old = { tokenizer_name: 'bert-tiny', apply_pca: 32, apply_zipf: true };
    files.set('config.json', new TextEncoder().encode(JSON.stringify(old)));
    const enc = await createEncoder({ model: folder('m2v-2024', files), device: 'cpu' });
    try {
      expect((await enc.info()).model).toMatchObject({ layers: 0, hiddenSize: H, dims: [16, H] });
      expect(worstCosine(await enc.embed(expected.texts))).toBeGreaterThanOrEqual(0.999);
    } finally {
      await enc.dispose();
    }
    const dir = mkdtempSync(join(tmpdir(), 'm3web-m2v-'));
    for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
    const { config } = await loadHfModel(await readHfFolder(dir));
    expect(config).toMatchObject({ modelType: 'model2vec', hiddenSize: H, vocabSize: 2062 });
  });

  it('backs a search index: each text finds itself by vector, hybrid and after a sync', async () => {
    const encoder = await createEncoder({ model: FIXTURE, device: 'cpu' });
    const index = await createIndex({ encoder, name: 'model2vec', dims: 16 });
    try {
      const docs = expected.texts.slice(0, 12).map((text, i) => ({ id: `t${i}`, text }));
      await index.add(docs);
      for (const mode of ['vector', 'hybrid'] as const) {
        const [hit] = await index.search(expected.texts[3] as string, { k: 1, mode, exact: true });
        expect(hit?.id).toBe('t3');
      }
      const report = await index.sync([...docs.slice(1), { id: 't0', text: 'A new first text.' }]);
      expect(report).toMatchObject({ added: 0, updated: 1, removed: 0 });
    } finally {
      index.close();
      await encoder.dispose();
    }
  });

  it('runs on the CPU whatever the device: auto says why, webgpu is refused', async () => {
    const enc = await createEncoder({ model: FIXTURE, device: 'auto' });
    try {
      const info = await enc.info();
      expect(info.backend).toBe('cpu');
      expect(info.backends.short.reason).toMatch(/static embedder/);
      const plan = await enc.plan({ maxLatencyMs: 1000, maxBytesPerVector: 64 });
      expect(plan).toMatchObject({ layers: 0, dims: 16, backend: 'cpu', fits: true });
    } finally {
      await enc.dispose();
    }
    await expect(createEncoder({ model: FIXTURE, device: 'webgpu' })).rejects.toThrow(UnsupportedError);
  });

  it('refuses a mapping of the wrong length and a config without its table', async () => {
    const table = new Uint8Array(readFileSync(join(FIXTURE, 'model.safetensors')));
    const withMapping = safetensorsWith(table, 'mapping');
    const files = folderFiles(FIXTURE, FILES);
    files.set('model.safetensors', withMapping);
    await expect(createEncoder({ model: folder('m2v', files), device: 'cpu' })).rejects.toMatchObject({
      code: 'MODEL_FORMAT',
      message: expect.stringMatching(/mapping/),
    });
    files.set('model.safetensors', safetensorsWith(table, 'embeddings', 'table'));
    await expect(createEncoder({ model: folder('m2v', files), device: 'cpu' })).rejects.toMatchObject({ code: 'MODEL_FORMAT' });
    // A table whose width is not the config's, or cut short: named, never read past.
    files.set('model.safetensors', table);
    const wide = JSON.parse(new TextDecoder().decode(files.get('config.json')));
    files.set('config.json', new TextEncoder().encode(JSON.stringify({ ...wide, hidden_dim: 64 })));
    await expect(createEncoder({ model: folder('m2v', files), device: 'cpu' })).rejects.toMatchObject({
      code: 'MODEL_FORMAT',
      message: expect.stringMatching(/embeddings/),
    });
    files.set('config.json', new TextEncoder().encode(JSON.stringify(wide)));
    files.set('model.safetensors', table.subarray(0, table.length - 4096));
    await expect(createEncoder({ model: folder('m2v', files), device: 'cpu' })).rejects.toMatchObject({ code: 'MODEL_FORMAT' });
  });
});

// model2vec's vocabulary quantization with an int8 table (make_model2vec.py's model2vec-vq-tiny):
// 300 shared int8 rows, each token's row by `mapping` (I64), scaled by its `weights` (F64).
const VQ_FIXTURE = join(import.meta.dirname, '../oracle/fixtures/model2vec-vq-tiny');
const vqMeans = oracleMeans(VQ_FIXTURE);

/** `bytes` (a safetensors file) with element `at` of its I64 tensor `name` set to `value`. */
function withI64(bytes: Uint8Array, name: string, at: number, value: number): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(out.subarray(8, 8 + n))) as Record<string, { data_offsets: number[] }>;
  const begin = (header[name]?.data_offsets[0] as number) + 8 + n;
  view.setBigInt64(begin + at * 8, BigInt(value), true);
  return out;
}

describe('vocabulary-quantized model2vec with an int8 table', { timeout: 60_000 }, () => {
  it('embeds as model2vec does: each token its shared row times its weight, from a folder and from packs', async () => {
    const enc = await createEncoder({ model: VQ_FIXTURE, device: 'cpu' });
    try {
      expect((await enc.info()).model).toMatchObject({ layers: 0, hiddenSize: H, dims: [16, H] });
      const raw = await enc.embed(expected.texts, { normalize: false });
      expect(worstCosine(raw, vqMeans)).toBeGreaterThanOrEqual(0.99999);
      raw.forEach((v, i) => {
        expect(norm(v) / (norm(vqMeans(i)) || 1)).toBeCloseTo(i === ALL_UNKNOWN ? 0 : 1, 5);
      });
    } finally {
      await enc.dispose();
    }
    for (const [quant, bound] of [
      ['f32', 0.99999],
      ['q8', 0.999],
    ] as const) {
      const ckpt = await openHfCheckpoint(VQ_FIXTURE);
      const pack = await convertCheckpoint(ckpt, { id: 'potion-vq', quant }).finally(() => ckpt.close());
      const manifest = JSON.parse(new TextDecoder().decode(pack.files.get('manifest.json')));
      expect(manifest.config).toMatchObject({ vocab_size: 2062, hidden_size: H, vocabulary_quantization: 300 });
      const packed = await createEncoder({ model: folder('potion-vq', pack.files), device: 'cpu' });
      try {
        expect(worstCosine(await packed.embed(expected.texts), vqMeans)).toBeGreaterThanOrEqual(bound);
      } finally {
        await packed.dispose();
      }
    }
  });

  it('a mapping that points past the shared rows is a format error naming the token', async () => {
    const files = folderFiles(VQ_FIXTURE, FILES);
    files.set('model.safetensors', withI64(files.get('model.safetensors') as Uint8Array, 'mapping', 7, 300));
    await expect(createEncoder({ model: folder('vq', files), device: 'cpu' })).rejects.toMatchObject({
      code: 'MODEL_FORMAT',
      message: expect.stringMatching(/token 7 to row 300/),
    });
  });
});

// sentence-transformers' own static layout: no config.json, the table and tokenizer in
// 0_StaticEmbedding/, [UNK] kept and no length limit (StaticEmbedding.tokenize).
const ST_FIXTURE = join(import.meta.dirname, '../oracle/fixtures/st-static-tiny');
const ST_FILES = [
  'modules.json',
  'config_sentence_transformers.json',
  '0_StaticEmbedding/model.safetensors',
  '0_StaticEmbedding/tokenizer.json',
];
const stExpected = readOracleJson<{ texts: string[]; ids: number[][] }>(join(ST_FIXTURE, 'expected.json'));
const stOracle = new SafetensorsFile(new Uint8Array(readFileSync(join(ST_FIXTURE, 'expected.safetensors'))));
const stWorst = (vectors: Float32Array[]) =>
  Math.min(...vectors.map((v, i) => cosine(v, stOracle.get(`mean.${i}`, [64]).subarray(0, v.length))));

describe("sentence-transformers' static layout (0_StaticEmbedding/, no config.json)", { timeout: 60_000 }, () => {
  it('reads [UNK] and every token, as StaticEmbedding does, from a Node folder', async () => {
    const { config, tokenizer } = await loadHfModel(await readHfFolder(ST_FIXTURE));
    expect(config).toMatchObject({ modelType: 'model2vec', numLayers: 0, hiddenSize: 64, vocabSize: 2062 });
    expect(stExpected.texts.map((t) => tokenizer.encode(t, config.maxTokens).ids)).toEqual(stExpected.ids);
    expect(stExpected.ids.at(-1)?.length).toBeGreaterThan(512);
    const enc = await createEncoder({ model: ST_FIXTURE, device: 'cpu' });
    try {
      expect((await enc.info()).model).toMatchObject({ exits: [0], dims: [16, 32, 64] });
      expect(stWorst(await enc.embed(stExpected.texts, { normalize: false }))).toBeGreaterThanOrEqual(0.99999);
    } finally {
      await enc.dispose();
    }
  });

  it('converts to a q8 pack whose vectors are the oracle', async () => {
    const ckpt = await openHfCheckpoint(ST_FIXTURE);
    const pack = await convertCheckpoint(ckpt, { id: 'st-static', quant: 'q8' }).finally(() => ckpt.close());
    const enc = await createEncoder({
      model: folder('st', pack.files),
      device: 'cpu',
    });
    try {
      expect(stWorst(await enc.embed(stExpected.texts, { dims: 32 }))).toBeGreaterThanOrEqual(0.999);
    } finally {
      await enc.dispose();
    }
  });
});

describe('static embedders by hub id', { timeout: 60_000 }, () => {
  const hub = serveFakeHub(
    'model2vec',
    () =>
      new Map([
        ['minishlab/potion-tiny', { files: folderFiles(FIXTURE, FILES), commit: 'm2v1' }],
        ['sentence-transformers/static-tiny', { files: folderFiles(ST_FIXTURE, ST_FILES), commit: 'st01' }],
        ['minishlab/potion-vq-tiny', { files: folderFiles(VQ_FIXTURE, FILES), commit: 'vq01' }],
      ]),
  );

  it('hf:sentence-transformers/static-tiny reads its module folder and embeds like StaticEmbedding', async () => {
    const enc = await createEncoder({ model: 'hf:sentence-transformers/static-tiny', hub: { url: hub.url }, device: 'cpu' });
    try {
      expect((await enc.info()).model).toMatchObject({ exits: [0], dims: [16, 32, 64] });
      expect(stWorst(await enc.embed(stExpected.texts))).toBeGreaterThanOrEqual(0.999);
    } finally {
      await enc.dispose();
    }
  });

  it('hf:minishlab/potion-vq-tiny (vocabulary-quantized, int8) converts and embeds like model2vec', async () => {
    const enc = await createEncoder({ model: 'hf:minishlab/potion-vq-tiny', hub: { url: hub.url }, device: 'cpu' });
    try {
      expect(worstCosine(await enc.embed(expected.texts), vqMeans)).toBeGreaterThanOrEqual(0.999);
    } finally {
      await enc.dispose();
    }
  });

  it('hf:minishlab/potion-tiny converts and embeds like model2vec', async () => {
    const enc = await createEncoder({ model: 'hf:minishlab/potion-tiny', hub: { url: hub.url }, device: 'cpu' });
    try {
      expect((await enc.info()).model).toMatchObject({ exits: [0], quantization: 'q8' });
      expect(worstCosine(await enc.embed(expected.texts))).toBeGreaterThanOrEqual(0.999);
    } finally {
      await enc.dispose();
    }
  });
});

/**
 * The safetensors file `bytes` with its `embeddings` tensor renamed to `rename` (default: kept),
 * plus an empty I64 tensor `extra` when `extra` is not `embeddings`.
 */
function safetensorsWith(bytes: Uint8Array, extra: string, rename = 'embeddings'): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { data_offsets: number[] }>;
  const data = bytes.subarray(8 + n);
  const entry = header.embeddings as { data_offsets: number[] };
  const out: Record<string, unknown> = { [rename]: entry };
  if (extra !== 'embeddings') out[extra] = { dtype: 'I64', shape: [0], data_offsets: [data.length, data.length] };
  const text = new TextEncoder().encode(JSON.stringify(out).padEnd(Math.ceil((JSON.stringify(out).length + 8) / 8) * 8 - 8, ' '));
  const file = new Uint8Array(8 + text.length + data.length);
  new DataView(file.buffer).setBigUint64(0, BigInt(text.length), true);
  file.set(text, 8);
  file.set(data, 8 + text.length);
  return file;
}
