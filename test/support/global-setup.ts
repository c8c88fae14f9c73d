import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { staticQuerySide } from '../../src/cli/index-docs.js';
import { createEncoder, createIndex, type Encoder } from '../../src/client/client.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { parseIndex } from '../../src/search/serialize.js';
import { writeStaticIndex } from '../../src/search/static/write.js';
import { folderFiles, startFakeHub } from './hub-server.js';
import { SPLADE_QUERIES } from './static-corpus.js';

const ROOT = join(import.meta.dirname, '../..');
export const GENERATED = join(ROOT, 'test/generated');

export const API_TEXTS = [
  'The quick brown fox jumps over the lazy dog.',
  'Der schnelle braune Fuchs springt über den faulen Hund.',
  '敏捷的棕色狐狸跳过了懒狗。',
  'Short.',
];

/** A static index of API_TEXTS over the pack, which the browser tests open by URL. */
async function writeStaticFolder(encoder: Encoder, out: string): Promise<void> {
  const index = await createIndex({ encoder, name: 'static-fixture' });
  await index.add(API_TEXTS.map((text, i) => ({ id: `t${i}`, text, meta: { n: i } })));
  const { signature, segment } = parseIndex(await index.export());
  index.close();
  await rm(out, { recursive: true, force: true });
  await writeStaticIndex(signature, segment, {
    trainedDims: (await encoder.info()).model.dims,
    ngrams: true,
    put: async (path, bytes) => {
      await mkdir(join(out, path, '..'), { recursive: true });
      await writeFile(join(out, path), bytes);
    },
  });
}

/**
 * An inference-free SPLADE model's static folder with its query side (no model needed to search
 * it), and what the in-memory index answers for SPLADE_QUERIES, which the page must match.
 */
async function writeSpladeStaticFolder(out: string): Promise<void> {
  const dir = join(ROOT, 'test/oracle/fixtures/splade-inference-free');
  const encoder = await createEncoder({ model: dir, device: 'cpu' });
  try {
    const index = await createIndex({ encoder, name: 'static-splade-fixture' });
    await index.add(API_TEXTS.map((text, i) => ({ id: `t${i}`, text })));
    const query = await staticQuerySide(dir, (await encoder.info()).model);
    const hits = await Promise.all(SPLADE_QUERIES.map((q) => index.search(q, { mode: 'sparse' })));
    const { signature, segment } = parseIndex(await index.export());
    index.close();
    await rm(out, { recursive: true, force: true });
    await writeStaticIndex(signature, segment, {
      trainedDims: [],
      ngrams: true,
      query,
      put: async (path, bytes) => {
        await mkdir(join(out, path, '..'), { recursive: true });
        await writeFile(join(out, path), bytes);
      },
    });
    await writeFile(join(out, 'expected-hits.json'), JSON.stringify(hits));
  } finally {
    await encoder.dispose();
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** The fake hub the browser tests open hub ids from (test/support/hub-server.ts). */
    hubUrl: string;
  }
}

const FIXTURE = join(ROOT, 'test/oracle/fixtures/bert-tiny');
/** A safetensors checkpoint repository's files. */
const CHECKPOINT = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];
/** Oracle fixture `name`'s checkpoint files and `extra` ones, as a hub repository serves them. */
const fixtureFiles = (name: string, extra: readonly string[] = []) =>
  folderFiles(join(ROOT, 'test/oracle/fixtures', name), [...CHECKPOINT, ...extra]);

/**
 * Before the browser tests: converts the oracle checkpoint into a q8 pack the test pages fetch
 * over HTTP, embeds a few texts through the Node path so the browser can compare, and starts a
 * fake hub serving the checkpoint (plainly, gated behind a token, and as an ONNX export), a
 * model2vec static embedder, a jina-embeddings-v3-shaped model and a cross-encoder.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const files = fixtureFiles('bert-tiny');
  const hub = await startFakeHub(
    new Map([
      ['fixtures/bert-tiny', { files, commit: 'b0a710' }],
      ['fixtures/gated', { files, commit: 'b0a711', token: 'hf_browser' }],
      // A transformers.js-style repository: the same weights as an ONNX export, no safetensors.
      [
        'fixtures/bert-tiny-onnx',
        {
          files: folderFiles(`${FIXTURE}-onnx`, ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']),
          commit: 'b0a712',
        },
      ],
      // An older repository: the same weights as torch.save's pytorch_model.bin, no safetensors.
      [
        'fixtures/bert-tiny-bin',
        {
          files: folderFiles(`${FIXTURE}-bin`, ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'pytorch_model.bin']),
          commit: 'b0a71b',
        },
      ],
      // A static embedder (model2vec's layout: minishlab/potion-*).
      [
        'fixtures/model2vec-tiny',
        {
          files: folderFiles(join(ROOT, 'test/oracle/fixtures/model2vec-tiny'), [
            'config.json',
            'tokenizer.json',
            'model.safetensors',
            'modules.json',
          ]),
          commit: 'b0a713',
        },
      ],
      // jina-embeddings-v3's layout: XLM-R with RoPE and task adapters, its task prompts.
      [
        'fixtures/jina-v3-tiny',
        {
          files: fixtureFiles('jina-v3-tiny', [
            'modules.json',
            '1_Pooling/config.json',
            'sentence_bert_config.json',
            'config_sentence_transformers.json',
          ]),
          commit: 'b0a714',
        },
      ],
      // A cross-encoder (BAAI/bge-reranker-base's layout: XLMRobertaForSequenceClassification).
      [
        'fixtures/ce-xlmr-tiny',
        {
          files: fixtureFiles('ce-xlmr-tiny'),
          commit: 'b0a715',
        },
      ],
      // A late-interaction model (PyLate's layout over ModernBERT: GTE-ModernColBERT-v1's).
      [
        'fixtures/colbert-modernbert-tiny',
        {
          files: fixtureFiles('colbert-modernbert-tiny', [
            'modules.json',
            'sentence_bert_config.json',
            'config_sentence_transformers.json',
            '1_Dense/config.json',
            '1_Dense/model.safetensors',
          ]),
          commit: 'b0a716',
        },
      ],
      // A DeBERTa-v3 reranker (mxbai-rerank-v1's layout) and a sentence-t5 embedder (T5EncoderModel, Dense head).
      [
        'fixtures/ce-deberta-tiny',
        {
          files: fixtureFiles('ce-deberta-tiny'),
          commit: 'b0a717',
        },
      ],
      [
        'fixtures/t5-st-tiny',
        {
          files: fixtureFiles('t5-st-tiny', [
            'modules.json',
            'sentence_bert_config.json',
            '1_Pooling/config.json',
            '2_Dense/config.json',
            '2_Dense/model.safetensors',
          ]),
          commit: 'b0a718',
        },
      ],
      // jina-embeddings-v5-text-nano's layout: EuroBERT, its task adapters in adapters/{task}/.
      [
        'fixtures/jina-v5-nano-tiny',
        {
          files: fixtureFiles('jina-v5-nano-tiny', [
            'adapters/retrieval/adapter_config.json',
            'adapters/retrieval/adapter_model.safetensors',
          ]),
          commit: 'b0a71e',
        },
      ],
      // jina-embeddings-v2-base-code's layout: JinaBERT with query / key norms.
      [
        'fixtures/jina-code-tiny',
        {
          files: fixtureFiles('jina-code-tiny', ['modules.json', 'sentence_bert_config.json', '1_Pooling/config.json']),
          commit: 'b0a719',
        },
      ],
      // BAAI/bge-m3's layout: an XLM-R with its sparse_linear.pt and colbert_linear.pt beside it.
      [
        'fixtures/bge-m3-tiny',
        {
          files: new Map([
            ...fixtureFiles('xlmr-tiny'),
            ...folderFiles(join(ROOT, 'test/oracle/fixtures/bge-m3-tiny'), ['sparse_linear.pt', 'colbert_linear.pt']),
          ]),
          commit: 'b0a71a',
        },
      ],
      // jinaai/jina-reranker-v3's layout: a Qwen3 checkpoint with its projector, named by its architecture.
      ['fixtures/jina-reranker-v3-tiny', { files: fixtureFiles('jina-reranker-v3-tiny'), commit: 'b0a730' }],
      // A GGUF repository (llama.cpp's files, no config.json): one file per quantization.
      [
        'fixtures/gguf-bert',
        {
          files: folderFiles(join(ROOT, 'test/oracle/fixtures/gguf-bert'), [
            'f16.gguf',
            'q8_0.gguf',
            'q4_k_m.gguf',
            'mixed.gguf',
          ]),
          commit: 'b0a71b',
        },
      ],
      ...(
        [
          ['gguf-qwen3', 'b0a71c'],
          ['gguf-eurobert', 'b0a71f'],
          ['gguf-modernbert', 'b0a720', 'f16-silu.gguf'],
          ['gguf-reranker', 'b0a721'],
          ['gguf-qwen3-reranker', 'b0a722'],
          ['gguf-gemma', 'b0a71d'],
        ] as const
      ).map(([name, commit, ...more]): [string, { files: Map<string, Uint8Array>; commit: string }] => [
        `fixtures/${name}`,
        { files: folderFiles(join(ROOT, `test/oracle/fixtures/${name}`), ['f16.gguf', 'q8_0.gguf', ...more]), commit },
      ]),
    ]),
  );
  project.provide('hubUrl', hub.url);
  const dir = join(GENERATED, 'packs', 'bert-tiny-q8');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const ckpt = await openHfCheckpoint(join(ROOT, 'test/oracle/fixtures/bert-tiny'));
  try {
    const pack = await convertCheckpoint(ckpt, {
      id: 'bert-tiny-q8',
      quant: 'q8',
      dims: [16, 48],
      maxTokens: 64,
      prefixes: { query: 'query: ' },
    });
    for (const [name, bytes] of pack.files) await writeFile(join(dir, name), bytes);
  } finally {
    await ckpt.close();
  }
  const encoder = await createEncoder({ model: dir, device: 'cpu' });
  const full = await encoder.embed(API_TEXTS);
  const shallow = await encoder.embed(API_TEXTS, { layers: 2, dims: 16 });
  await writeStaticFolder(encoder, join(GENERATED, 'static', 'bert-tiny-q8'));
  await encoder.dispose();
  await writeSpladeStaticFolder(join(GENERATED, 'static', 'splade-inference-free'));
  await writeFile(
    join(dir, 'node-vectors.json'),
    JSON.stringify({ texts: API_TEXTS, full: full.map((v) => [...v]), shallow: shallow.map((v) => [...v]) }),
  );
  return () => hub.close();
}
