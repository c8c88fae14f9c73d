import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { createEncoder } from '../../src/client/client.js';
import { InputError, ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import type { EncoderBackend } from '../../src/model/encoder.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { parseManifest } from '../../src/pack/manifest.js';
import { modelFromPack } from '../../src/pack/model.js';
import { trainedWidths } from '../../src/source/trained-widths.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { parseHfConfig } from '../../src/weights/config.js';
import { jsonLines, m3web, vectors } from '../support/cli.js';
import { JINA_EMBEDDINGS_V3 } from '../support/gated-bert-configs.js';
import { folderFiles } from '../support/hub-server.js';
import { packSuite, readOracleJson, ST_FILES, serveFakeHub } from '../support/oracle-pack.js';
import { cosine } from '../support/random.js';

// jina-embeddings-v3 (XLM-R with RoPE and task LoRA) against test/oracle/make_jina_v3.py, a float64
// PyTorch forward written from jinaai/xlm-roberta-flash-implementation.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const TINY = join(FIXTURES, 'jina-v3-tiny');
const expected = readOracleJson(join(TINY, 'expected.json'));
const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(TINY, 'expected.safetensors'))));
const H = expected.hidden;
/** The adapters the fixture stores means for: retrieval.query, retrieval.passage, text-matching. */
const TASKS = [0, 1, 4];

/** A fixture folder's weights, read whole in f32. */
function folderWeights(dir: string) {
  const config = parseHfConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
  return weightsFromTensors(config, new SafetensorsFile(new Uint8Array(readFileSync(join(dir, 'model.safetensors')))));
}

/** The worst cosine, over texts and layers, of `backend`'s mean under each task against the oracle's. */
async function worstTaskCosine(backend: EncoderBackend): Promise<number> {
  let worst = 1;
  for (const task of TASKS) {
    for (let layers = 1; layers <= expected.layers; layers++) {
      const pooled = await backend.embed(expected.ids, { layers, dims: H, pooling: 'mean', normalize: false, task });
      pooled.forEach((v, i) => {
        worst = Math.min(worst, cosine(v, oracle.get(`task.${task}.mean.${i}.${layers}`, [H])));
      });
    }
  }
  return worst;
}

describe('jina-embeddings-v3 config', () => {
  it('reads the published config: RoPE over whole heads, BERT feed-forward, five adapters', () => {
    const c = parseHfConfig(JINA_EMBEDDINGS_V3);
    expect(c).toMatchObject({
      modelType: 'jina_embeddings_v3',
      vocabSize: 250002,
      hiddenSize: 1024,
      numHeads: 16,
      headDim: 64,
      numLayers: 24,
      intermediateSize: 4096,
      maxTokens: 8194,
      typeVocabSize: 1,
      padTokenId: 1,
      positionOffset: 0,
    });
    expect(c.gatedBert).toEqual({ positions: { type: 'rope', ropeTheta: 20000, ntk: null }, gate: null, truncateNorm: false });
    expect(c.lora).toEqual({
      tasks: JINA_EMBEDDINGS_V3.lora_adaptations,
      rank: 4,
      scale: 0.25,
      byKind: { query: 0, passage: 1 },
      instructions: JINA_EMBEDDINGS_V3.task_instructions,
    });
    // transformers' own port names the same architecture.
    expect(parseHfConfig({ ...JINA_EMBEDDINGS_V3, model_type: 'jina_embeddings_v3' })).toEqual(c);
    // Its config declares the Matryoshka widths it was trained for; a malformed list is ignored.
    expect(trainedWidths('jinaai/jina-embeddings-v3', 1024, JINA_EMBEDDINGS_V3)).toEqual([32, 64, 128, 256, 512, 768, 1024]);
    expect(trainedWidths('jinaai/jina-embeddings-v3', 1024, { matryoshka_dimensions: [0, 'x'] })).toBeUndefined();
    // A checkpoint saved without trained adapters has none to read.
    expect(parseHfConfig({ ...JINA_EMBEDDINGS_V3, load_trained_adapters: false }).lora).toBeUndefined();
  });

  it.each([
    [{ rotary_emb_interleaved: true }, UnsupportedError, /rotary_emb_interleaved/],
    [{ rotary_emb_scale_base: 512 }, UnsupportedError, /xPos/],
    [{ rotary_emb_dim: 32 }, UnsupportedError, /rotary_emb_dim 32/],
    [{ rotary_emb_base: 0 }, ModelFormatError, /rotary_emb_base/],
    [{ lora_adaptations: [] }, ModelFormatError, /lora_adaptations/],
    [{ lora_adaptations: 'retrieval.query' }, ModelFormatError, /lora_adaptations/],
    [{ lora_rank: 0 }, ModelFormatError, /lora_rank/],
    [{ task_instructions: ['query: '] }, ModelFormatError, /task_instructions/],
    [{ task_instructions: { 'retrieval.query': 1 } }, ModelFormatError, /task_instructions\["retrieval.query"\]/],
    [{ hidden_act: 'relu' }, UnsupportedError, /hidden_act/],
  ])('refuses %j with a clear error', (change, type, message) => {
    const run = () => parseHfConfig({ ...JINA_EMBEDDINGS_V3, ...change });
    expect(run).toThrow(type);
    expect(run).toThrow(message);
  });
});

describe('jina-embeddings-v3 task adapters on the CPU', () => {
  it('each task runs its adapter at every layer as the oracle does; no task runs the base weights', async () => {
    const cpu = new CpuEncoder(await folderWeights(TINY));
    try {
      expect(await worstTaskCosine(cpu)).toBeGreaterThanOrEqual(0.99999);
      const base = await cpu.embed(expected.ids, { layers: expected.layers, dims: H, pooling: 'mean', normalize: false });
      base.forEach((v, i) => {
        expect(cosine(v, oracle.get(`mean.${i}.${expected.layers}`, [H]))).toBeGreaterThanOrEqual(0.99999);
      });
      const options = { layers: 1, dims: H, pooling: 'mean', normalize: false } as const;
      await expect(cpu.embed(expected.ids, { ...options, task: 5 })).rejects.toThrow(InputError);
      await expect(cpu.embed(expected.ids, { ...options, task: 0.5 })).rejects.toThrow(/task must be an integer in 0..4/);
    } finally {
      cpu.dispose();
    }
  });

  it('a q8 pack keeps the adapters in f32 beside the quantized weights', async () => {
    const ckpt = await openHfCheckpoint(TINY);
    const pack = await convertCheckpoint(ckpt, { id: 'jina-v3-tiny', quant: 'q8' }).finally(() => ckpt.close());
    const manifest = parseManifest(JSON.parse(new TextDecoder().decode(pack.files.get('manifest.json'))));
    const model = modelFromPack(manifest, pack.files, expected.layers);
    const cpu = new CpuEncoder(model.weights);
    try {
      expect(await worstTaskCosine(cpu)).toBeGreaterThanOrEqual(0.999);
    } finally {
      cpu.dispose();
    }
  });

  it('refuses a model without task adapters a task', async () => {
    const cpu = new CpuEncoder(await folderWeights(join(FIXTURES, 'xlmr-tiny')));
    const options = { layers: 1, dims: 8, pooling: 'mean', normalize: false, task: 0 } as const;
    await expect(cpu.embed(expected.ids.slice(0, 1), options)).rejects.toThrow(/no task adapters/);
    cpu.dispose();
  });
});

describe('jina-embeddings-v3 packs (base weights)', () => {
  packSuite(FIXTURES, [
    ['jina-v3-tiny', 'f32'],
    ['jina-v3-tiny', 'q8'],
  ]);
});

describe('jina-embeddings-v3 by hub id', { timeout: 120_000 }, () => {
  const hub = serveFakeHub(
    'jina-v3',
    () =>
      new Map([
        [
          'jinaai/jina-embeddings-v3',
          { files: folderFiles(TINY, [...ST_FILES, 'config_sentence_transformers.json']), commit: 'c0ffee' },
        ],
      ]),
  );

  it('a query runs the retrieval.query prompt and adapter, a passage its own, plain text neither', async () => {
    const enc = await createEncoder({
      model: 'hf:jinaai/jina-embeddings-v3',
      hub: { url: hub.url },
      device: 'cpu',
      dtype: 'f32',
    });
    const cpu = new CpuEncoder(await folderWeights(TINY));
    try {
      const info = (await enc.info()).model;
      const prefixes = {
        query: 'Represent the query for retrieving evidence documents: ',
        passage: 'Represent the document for retrieval: ',
      };
      // The widths its config.json declares (matryoshka_dimensions).
      expect(info).toMatchObject({ pooling: 'mean', prefixes, dims: [16, 32, 64], tasks: JINA_EMBEDDINGS_V3.lora_adaptations });
      const plain = await enc.embed(expected.texts);
      plain.forEach((v, i) => {
        expect(cosine(v, oracle.get(`mean.${i}.${expected.layers}`, [H]))).toBeGreaterThanOrEqual(0.99999);
      });
      const text = expected.texts[0] as string;
      const tokenizer = TextTokenizer.fromJson(
        JSON.parse(readFileSync(join(TINY, 'tokenizer.json'), 'utf8')),
        JSON.parse(readFileSync(join(TINY, 'tokenizer_config.json'), 'utf8')),
      );
      for (const [kind, task] of [
        ['query', 0],
        ['passage', 1],
      ] as const) {
        const [got] = await enc.embed([text], { kind });
        const ids = tokenizer.encode(`${prefixes[kind]}${text}`, 130).ids;
        const [want] = await cpu.embed([ids], { layers: expected.layers, dims: H, pooling: 'mean', normalize: true, task });
        expect(cosine(got as Float32Array, want as Float32Array)).toBeGreaterThan(0.999999);
        // The prompt alone, without the adapter, is another vector.
        const [promptOnly] = await enc.embed([`${prefixes[kind]}${text}`]);
        expect(cosine(got as Float32Array, promptOnly as Float32Array)).toBeLessThan(0.99);
      }
    } finally {
      cpu.dispose();
      await enc.dispose();
    }
  });

  it('`task` names any adapter (text-matching: no instruction), and is refused with kind, unknown, or without adapters', async () => {
    const enc = await createEncoder({
      model: 'hf:jinaai/jina-embeddings-v3',
      hub: { url: hub.url },
      device: 'cpu',
      dtype: 'f32',
    });
    try {
      const matched = await enc.embed(expected.texts, { task: 'text-matching', normalize: false });
      matched.forEach((v, i) => {
        expect(cosine(v, oracle.get(`task.4.mean.${i}.${expected.layers}`, [H]))).toBeGreaterThanOrEqual(0.99999);
      });
      // retrieval.query by name is kind 'query': its adapter and its instruction.
      const [byName] = await enc.embed(expected.texts.slice(0, 1), { task: 'retrieval.query' });
      const [byKind] = await enc.embed(expected.texts.slice(0, 1), { kind: 'query' });
      expect(cosine(byName as Float32Array, byKind as Float32Array)).toBeGreaterThan(0.999999);
      await expect(enc.embed(['x'], { task: 'text-matching', kind: 'query' })).rejects.toThrow(/task or kind, not both/);
      await expect(enc.embed(['x'], { task: 'summarize' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(enc.embed(['x'], { task: 'summarize' })).rejects.toThrow(/one of retrieval.query, retrieval.passage/);
    } finally {
      await enc.dispose();
    }
    const plain = await createEncoder({ model: join(FIXTURES, 'xlmr-tiny'), device: 'cpu' });
    try {
      expect((await plain.info()).model.tasks).toBeUndefined();
      await expect(plain.embed(['x'], { task: 'text-matching' })).rejects.toThrow(/no task adapters/);
    } finally {
      await plain.dispose();
    }
  });

  it('m3web embed --task and --kind run the adapters', async () => {
    const run = (flags: string[]) =>
      m3web(['embed', '--model', TINY, '--backend', 'cpu', '--no-normalize', ...flags], jsonLines(expected.texts));
    const matched = await run(['--task', 'text-matching']);
    expect(matched.code).toBe(0);
    vectors(matched.stdout).forEach((v, i) => {
      expect(cosine(Float32Array.from(v), oracle.get(`task.4.mean.${i}.${expected.layers}`, [H]))).toBeGreaterThanOrEqual(
        0.99999,
      );
    });
    const enc = await createEncoder({ model: TINY, device: 'cpu' });
    try {
      const want = await enc.embed(expected.texts, { kind: 'passage', normalize: false });
      vectors((await run(['--kind', 'passage'])).stdout).forEach((v, i) => {
        expect(cosine(Float32Array.from(v), want[i] as Float32Array)).toBeGreaterThan(0.999999);
      });
    } finally {
      await enc.dispose();
    }
    const bad = await run(['--task', 'summarize']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/task must be one of/);
  });
});
