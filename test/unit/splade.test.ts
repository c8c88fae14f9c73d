import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryMB } from '../../src/budget/cost.js';
import { createEncoder } from '../../src/client/client.js';
import { ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { sparseScore } from '../../src/index.js';
import { parseManifest } from '../../src/pack/manifest.js';
import { openIndex } from '../../src/search/search-index.js';
import type { SparseVector } from '../../src/types.js';
import { parseHfConfig } from '../../src/weights/config.js';
import { m3web } from '../support/cli.js';
import { readOracleJson, serveFakeHub } from '../support/oracle-pack.js';
import { type OracleWeights, worstCosine, worstOff } from '../support/sparse-oracle.js';

// SPLADE sparse encoders (sentence-transformers' MLMTransformer + SpladePooling) against
// test/oracle/make_splade.py: a float64 forward of bert-tiny / distilbert-mlm-tiny, their masked-LM
// heads over every token, then SpladePooling's log1p(relu) (twice for log1p_relu) and max or sum.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const BERT = join(FIXTURES, 'splade-bert-tiny');
const DISTIL = join(FIXTURES, 'splade-distilbert-tiny');
const XLMR = join(FIXTURES, 'splade-xlmr-tiny');

type Weights = OracleWeights;
interface Expected {
  texts: string[];
  ids: number[][];
  pooling: string;
  sparse: Record<'max_relu' | 'max_log1p_relu' | 'sum_relu' | 'sum_log1p_relu', Weights[]>;
  pairs: number[];
}
const expectedOf = (dir: string) => readOracleJson<Expected>(join(dir, 'expected.json'));

/** The ids the oracle weighs above `floor`: a weight that small may fall either side of zero in f32. */
const clearIds = (w: Weights, floor: number) => w.indices.filter((_, k) => (w.values[k] as number) > floor);

/** A copy of `dir` whose SpladePooling config says `pooling` and `activation`. */
function withPooling(dir: string, pooling: string, activation: string): string {
  const copy = mkdtempSync(join(tmpdir(), 'm3web-splade-'));
  cpSync(dir, copy, { recursive: true });
  writeFileSync(
    join(copy, '1_SpladePooling', 'config.json'),
    JSON.stringify({ pooling_strategy: pooling, activation_function: activation, word_embedding_dimension: 2062 }),
  );
  return copy;
}

describe('SPLADE sparse encoders', () => {
  it.each([
    ['splade-bert-tiny (max, relu)', BERT, 'max_relu'],
    ['splade-distilbert-tiny (max, log1p_relu; F16)', DISTIL, 'max_log1p_relu'],
    ['splade-xlmr-tiny (RoBERTa positions and lm_head; F16)', XLMR, 'max_relu'],
  ] as const)("%s by folder gives the oracle's weights and dot products on the CPU", async (_, dir, setting) => {
    const expected = expectedOf(dir);
    const enc = await createEncoder({ model: dir, device: 'cpu' });
    try {
      const { model } = await enc.info();
      expect(model).toMatchObject({ sparse: true, sparseOnly: true, exits: [model.layers] });
      expect(model.staticQuery).toBeUndefined();
      const got = await enc.embedSparse(expected.texts);
      const want = expected.sparse[setting];
      const worst = worstOff(got, want);
      console.log(`${setting}: max |weight - oracle| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(2e-5);
      got.forEach((v, i) => {
        const ids = new Set(v.indices);
        expect(clearIds(want[i] as Weights, 1e-4).every((id) => ids.has(id))).toBe(true);
      });
      const pairs = got.map((v) => sparseScore(got[0] as SparseVector, v));
      expect(Math.max(...pairs.map((p, i) => Math.abs(p / (expected.pairs[i] as number) - 1)))).toBeLessThan(1e-5);
    } finally {
      await enc.dispose();
    }
  });

  it.each([
    ['sum', 'relu'],
    ['sum', 'log1p_relu'],
    ['max', 'log1p_relu'],
  ] as const)('reads SpladePooling %s / %s from its config.json', async (pooling, activation) => {
    const expected = expectedOf(BERT);
    const enc = await createEncoder({ model: withPooling(BERT, pooling, activation), device: 'cpu' });
    try {
      expect(worstOff(await enc.embedSparse(expected.texts), expected.sparse[`${pooling}_${activation}`])).toBeLessThan(1e-4);
    } finally {
      await enc.dispose();
    }
  });

  it('makes no dense vector: embed refuses, naming embedSparse; embedDetailed({ sparse: true }) gives the weights', async () => {
    const enc = await createEncoder({ model: BERT, device: 'cpu' });
    try {
      await expect(enc.embed(['a text'])).rejects.toThrow(UnsupportedError);
      await expect(enc.embedDetailed(['a text'])).rejects.toThrow(
        /SPLADE sparse encoder: it weighs the vocabulary with embedSparse/,
      );
      await expect(enc.embedTokens(['a text'])).rejects.toThrow(UnsupportedError);
      const texts = ['a text', 'another text'];
      const both = await enc.embedDetailed(texts, { sparse: true });
      expect(both.vectors.map((v) => v.length)).toEqual([0, 0]);
      expect(both.sparse?.map((w) => [...w.indices])).toEqual((await enc.embedSparse(texts)).map((w) => [...w.indices]));
      // Texts are checked as embed checks them; the head reads the last layer only.
      await expect(enc.embedSparse([''])).rejects.toThrow(/empty/);
      await expect(enc.embedSparse(['a'], { layers: 2 })).rejects.toThrow(/layers/);
      // The model still works after refusals.
      expect((await enc.embedSparse(['a text']))[0]?.indices.length).toBeGreaterThan(0);
    } finally {
      await enc.dispose();
    }
  });

  it('an index over it stores the weights and no vectors, and ranks by them, BM25, or both', async () => {
    const expected = expectedOf(BERT);
    const enc = await createEncoder({ model: BERT, device: 'cpu' });
    try {
      const index = await openIndex({ encoder: enc, name: 'splade-index', device: 'cpu' });
      expect(index.signature).toMatchObject({ dims: 0, sparse: true });
      await index.add(expected.texts.map((text, i) => ({ id: String(i), text })));
      // Text 0 against every text, by SPLADE's dot product: the oracle's order (as a passage and a
      // query alike: the model has no prefixes).
      const hits = await index.search(expected.texts[0] as string, { mode: 'sparse', k: expected.texts.length });
      const order = expected.pairs.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0]);
      expect(hits.map((h) => Number(h.id))).toEqual(order.map(([, i]) => i));
      const hybrid = await index.search(expected.texts[3] as string, { k: 3 });
      expect(hybrid[0]?.id).toBe('3');
      expect(Object.keys(hybrid[0]?.ranks ?? {}).sort()).toEqual(['lexical', 'sparse']);
      await expect(index.search('x', { mode: 'vector' })).rejects.toThrow(/holds no vectors/);
      // Export and import keep the weights.
      const copy = await openIndex({ encoder: enc, name: 'splade-copy', device: 'cpu' });
      await copy.import(await index.export());
      expect((await copy.search(expected.texts[0] as string, { mode: 'sparse', k: 3 })).map((h) => h.id)).toEqual(
        hits.slice(0, 3).map((h) => h.id),
      );
      await expect(openIndex({ encoder: enc, name: 'splade-dims', dims: 48 })).rejects.toThrow(/SPLADE sparse encoder/);
      index.close();
      copy.close();
    } finally {
      await enc.dispose();
    }
  });

  it("knows SPLADE repositories without sentence-transformers' files by their name (naver/splade-*), and only those", async () => {
    const expected = expectedOf(BERT);
    const bare = (name: string) => {
      const dir = join(mkdtempSync(join(tmpdir(), 'm3web-splade-named-')), name);
      for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'])
        cpSync(join(BERT, f), join(dir, f));
      return dir;
    };
    const named = await createEncoder({ model: bare('splade-cocondenser-ensembledistil'), device: 'cpu' });
    try {
      expect((await named.info()).model.sparseOnly).toBe(true);
      expect(worstOff(await named.embedSparse(expected.texts), expected.sparse.max_relu)).toBeLessThan(2e-5);
    } finally {
      await named.dispose();
    }
    // The same masked LM under another name is what its files say: a BERT, mean-pooled.
    const plain = await createEncoder({ model: bare('bert-mlm'), device: 'cpu' });
    try {
      expect((await plain.info()).model.sparseOnly).toBeUndefined();
      expect((await plain.embed(['a text']))[0]).toHaveLength(48);
    } finally {
      await plain.dispose();
    }
  });

  it("counts the head's decoder copy and buffers in the planner's memory estimate", () => {
    const config = parseHfConfig({
      ...JSON.parse(readFileSync(join(BERT, 'config.json'), 'utf8')),
      vocab_size: 30522,
      hidden_size: 768,
      num_attention_heads: 12,
      intermediate_size: 3072,
    });
    const splade = { ...config, splade: { pooling: 'max', activation: 'relu', tied: true, headActivation: 'gelu' } as const };
    const q = { linear: 'q8', embeddings: 'q8' } as const;
    const extra = memoryMB(4, 768, 8, 128, splade, q) - memoryMB(4, 768, 8, 128, config, q);
    // A second 30,522 x 768 q8 table (22.5 MiB), 8 x 128 tokens of logits (119 MiB, held to 32) and 8 rows (0.9 MiB).
    expect(extra).toBeGreaterThan(22.4 + 32 + 0.9);
    expect(extra).toBeLessThan(22.4 + 32 + 0.9 + 8);
  });

  it('refuses a folder whose head is missing or whose pooling is unknown, naming what is wrong', async () => {
    // A DistilBertModel saved without its masked-LM head, behind SPLADE's modules.
    const headless = mkdtempSync(join(tmpdir(), 'm3web-splade-headless-'));
    cpSync(DISTIL, headless, { recursive: true });
    for (const f of ['model.safetensors', 'config.json']) cpSync(join(FIXTURES, 'distilbert-tiny', f), join(headless, f));
    await expect(createEncoder({ model: headless, device: 'cpu' })).rejects.toThrow(/masked-LM head needs vocab_/);
    const badPooling = withPooling(BERT, 'mean', 'relu');
    await expect(createEncoder({ model: badPooling, device: 'cpu' })).rejects.toThrow(ModelFormatError);
  });

  it('converts to a pack that keeps the head (the tied decoder stored once, as the word table) and weighs alike', async () => {
    const expected = expectedOf(BERT);
    for (const quant of ['f32', 'q8'] as const) {
      const out = mkdtempSync(join(tmpdir(), `m3web-splade-pack-${quant}-`));
      const r = await m3web(['convert', BERT, '--out', out, '--quant', quant, '--name', 'splade-tiny'], '');
      expect(r.code, r.stderr).toBe(0);
      const manifest = parseManifest(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')));
      const head = manifest.shards.find((s) => s.kind === 'head');
      expect(head?.tensors.map((t) => t.name).sort()).toEqual(
        ['mlm.bias', 'mlm.norm.beta', 'mlm.norm.gamma', 'mlm.transform.bias', 'mlm.transform.weight'].sort(),
      );
      expect(manifest.exits).toEqual([4]);
      const enc = await createEncoder({ model: out, device: 'cpu' });
      try {
        const got = await enc.embedSparse(expected.texts);
        const worst = worstOff(got, expected.sparse.max_relu);
        const cos = worstCosine(got, expected.sparse.max_relu);
        console.log(
          `splade-bert-tiny ${quant} pack: max |weight - oracle| ${worst.toExponential(2)}, min cosine ${cos.toFixed(5)}`,
        );
        // q8 moves the random layers' states (as for pooled vectors), and the max over tokens of
        // log1p(relu(logit)) passes each shift on: 0.996 here against 0.999 for mean pooling.
        if (quant === 'f32') expect(worst).toBeLessThan(2e-5);
        else expect(cos).toBeGreaterThan(0.99);
      } finally {
        await enc.dispose();
      }
    }
  });

  it('m3web embed --sparse writes the weights embedSparse gives; without --sparse it says why not', async () => {
    const expected = expectedOf(BERT);
    const texts = expected.texts.slice(0, 3);
    const r = await m3web(['embed', '--model', BERT, '--sparse'], `${texts.map((t) => JSON.stringify(t)).join('\n')}\n`);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Weights);
    expect(lines).toHaveLength(3);
    expect(
      worstOff(
        lines.map((l) => ({ indices: Uint32Array.from(l.indices), values: Float32Array.from(l.values) })),
        expected.sparse.max_relu,
      ),
    ).toBeLessThan(2e-5);
    const dense = await m3web(['embed', '--model', BERT], '"a text"\n');
    expect(dense.code).not.toBe(0);
    expect(dense.stderr).toMatch(/SPLADE sparse encoder: it makes no dense vector; pass --sparse/);
  });

  const hub = serveFakeHub(
    'splade',
    () =>
      new Map([
        [
          'naver/splade-v3',
          {
            commit: 'a1b2',
            files: new Map(
              [
                'config.json',
                'model.safetensors',
                'tokenizer.json',
                'tokenizer_config.json',
                'modules.json',
                'config_sentence_transformers.json',
                'sentence_bert_config.json',
                '1_SpladePooling/config.json',
              ].map((f) => [f, new Uint8Array(readFileSync(join(BERT, f)))] as const),
            ),
          },
        ],
      ]),
  );

  it('hf:naver/splade-v3 (the fake hub in its layout) converts with its head and weighs as the oracle', async () => {
    const expected = expectedOf(BERT);
    const enc = await createEncoder({ model: 'hf:naver/splade-v3', hub: { url: hub.url }, device: 'cpu', dtype: 'f32' });
    try {
      expect((await enc.info()).model).toMatchObject({ sparseOnly: true, exits: [4] });
      expect(worstOff(await enc.embedSparse(expected.texts), expected.sparse.max_relu)).toBeLessThan(2e-5);
    } finally {
      await enc.dispose();
    }
  });
});
