import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder } from '../../src/client/client.js';
import { trainedWidths } from '../../src/source/trained-widths.js';
import { type FakeHub, folderFiles, startFakeHub } from '../support/hub-server.js';
import { openedDims, ST_FILES } from '../support/oracle-pack.js';
import { cosine } from '../support/random.js';

// Qwen3-Embedding, EmbeddingGemma and sentence-t5 by hub id, through the local fake hub: config, tokenizer,
// weights and the sentence-transformers files (last-token or mean pooling, Dense modules with
// their weights, Normalize, prompts) as the Hub serves them.

const QWEN = join(import.meta.dirname, '../oracle/fixtures/qwen3-tiny');
const GEMMA = join(import.meta.dirname, '../oracle/fixtures/gemma3-tiny');
const T5 = join(import.meta.dirname, '../oracle/fixtures/t5-st-tiny');
const expected = JSON.parse(readFileSync(join(QWEN, 'expected.json'), 'utf8')) as { texts: string[] };
const prompts = JSON.parse(readFileSync(join(QWEN, 'config_sentence_transformers.json'), 'utf8')).prompts as { query: string };
const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(QWEN, 'expected.safetensors'))));
const H = 64;
const FILES = [...ST_FILES, 'config_sentence_transformers.json'];

let hub: FakeHub;

beforeAll(async () => {
  process.env.M3WEB_CACHE_DIR = mkdtempSync(join(tmpdir(), 'm3web-decoder-hub-'));
  const gemmaFiles = [
    ...FILES,
    '2_Dense/config.json',
    '2_Dense/model.safetensors',
    '3_Dense/config.json',
    '3_Dense/model.safetensors',
  ];
  hub = await startFakeHub(
    new Map([
      ['fixtures/qwen3-tiny', { files: folderFiles(QWEN, FILES), commit: 'decade1' }],
      // The same files under the published id: its trained Matryoshka widths apply (trainedWidths).
      ['Qwen/Qwen3-Embedding-0.6B', { files: folderFiles(QWEN, FILES), commit: 'decade3' }],
      ['fixtures/gemma3-tiny', { files: folderFiles(GEMMA, gemmaFiles), commit: 'decade2' }],
      [
        'fixtures/t5-st-tiny',
        { files: folderFiles(T5, [...ST_FILES, '2_Dense/config.json', '2_Dense/model.safetensors']), commit: 'decade4' },
      ],
      // As older sentence-transformers folders are: the Dense module's weights in torch.save's pytorch_model.bin.
      [
        'fixtures/t5-st-tiny-dense-bin',
        {
          files: new Map([
            ...folderFiles(T5, [...ST_FILES, '2_Dense/config.json']),
            ...folderFiles(`${T5}-dense-bin`, ['2_Dense/pytorch_model.bin']),
          ]),
          commit: 'decade5',
        },
      ],
    ]),
  );
});

afterAll(async () => {
  await hub?.close();
  delete process.env.M3WEB_CACHE_DIR;
});

describe('Qwen3-Embedding by hub id', { timeout: 120_000 }, () => {
  it.each([
    ['f32', 0.99999],
    ['q8', 0.998],
  ] as const)('opens at %s, pools the last token, and applies the query prompt', async (dtype, floor) => {
    const enc = await createEncoder({ model: 'hf:fixtures/qwen3-tiny', hub: { url: hub.url }, device: 'cpu', dtype });
    try {
      const info = await enc.info();
      expect(info.model).toMatchObject({ pooling: 'last', prefixes: { query: prompts.query } });
      const vectors = await enc.embed(expected.texts);
      vectors.forEach((v, i) => {
        expect(cosine(v, oracle.get(`st.${i}`, [H]))).toBeGreaterThanOrEqual(floor);
      });
      const [query] = await enc.embed([expected.texts[0] as string], { kind: 'query' });
      const [prompted] = await enc.embed([`${prompts.query}${expected.texts[0]}`]);
      expect(cosine(query as Float32Array, prompted as Float32Array)).toBeGreaterThan(0.999999);
    } finally {
      await enc.dispose();
    }
  });
});

describe('trained Matryoshka widths by repository', { timeout: 120_000 }, () => {
  it('opens a published id with its trained widths up to its hidden size, any other at full width, dims given winning', async () => {
    const widths = (model: string, dims?: number[]) => openedDims(model, hub.url, dims);
    expect(await widths('hf:Qwen/Qwen3-Embedding-0.6B')).toEqual([32, 64]);
    expect(await widths('hf:fixtures/qwen3-tiny')).toEqual([64]);
    expect(await widths('hf:Qwen/Qwen3-Embedding-0.6B', [16, 64])).toEqual([16, 64]);
    expect(trainedWidths('nomic-ai/nomic-embed-text-v1.5', 768)).toEqual([64, 128, 256, 512, 768]);
    expect(trainedWidths('Snowflake/snowflake-arctic-embed-m-v2.0', 768)).toEqual([256, 768]);
    expect(trainedWidths('BAAI/bge-small-en-v1.5', 384)).toBeUndefined();
  });
});

describe('Dense heads by hub id (EmbeddingGemma, sentence-t5)', { timeout: 120_000 }, () => {
  it.each([
    ['gemma3-tiny', GEMMA],
    ['t5-st-tiny', T5],
    ['t5-st-tiny-dense-bin', T5],
  ])('%s: runs the Dense head from the repository and matches the oracle at f32', async (name, dir) => {
    const want = new SafetensorsFile(new Uint8Array(readFileSync(join(dir, 'expected.safetensors'))));
    const { texts, hidden } = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { texts: string[]; hidden: number };
    const enc = await createEncoder({ model: `hf:fixtures/${name}`, hub: { url: hub.url }, device: 'cpu', dtype: 'f32' });
    try {
      expect((await enc.info()).model.pooling).toBe('mean');
      const vectors = await enc.embed(texts);
      vectors.forEach((v, i) => {
        expect(cosine(v, want.get(`st.${i}`, [hidden]))).toBeGreaterThanOrEqual(0.99999);
      });
    } finally {
      await enc.dispose();
    }
  });
});
