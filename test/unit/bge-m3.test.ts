import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder, type Encoder } from '../../src/client/client.js';
import { InputError, ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { maxSim, sparseScore } from '../../src/index.js';
import type { SparseVector } from '../../src/types.js';
import { m3web } from '../support/cli.js';
import { readOracleJson, serveFakeHub } from '../support/oracle-pack.js';
import { cosine } from '../support/random.js';

// BGE-M3's lexical weights (sparse_linear.pt beside an XLM-R) and multi-vector output
// (colbert_linear.pt) against test/oracle/make_bge_m3.py, a float64 forward of xlmr-tiny with
// FlagEmbedding's M3 rules.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const BASE = join(FIXTURES, 'xlmr-tiny');
const HEAD = join(FIXTURES, 'bge-m3-tiny', 'sparse_linear.pt');
const COLBERT = join(FIXTURES, 'bge-m3-tiny', 'colbert_linear.pt');
const MODEL_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];

interface Expected {
  texts: string[];
  ids: number[][];
  lexical: { scores: number[]; indices: number[]; values: number[] }[];
  pairs: number[];
  colbert: number[][];
}
const expected = readOracleJson<Expected>(join(FIXTURES, 'bge-m3-tiny', 'expected.json'));

/** BGE-M3's sentence-transformers files: CLS pooling, then Normalize. */
const ST = new Map<string, string>([
  [
    'modules.json',
    JSON.stringify([
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
      { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
    ]),
  ],
  ['1_Pooling/config.json', JSON.stringify({ word_embedding_dimension: 64, pooling_mode_cls_token: true })],
]);

/**
 * A folder with xlmr-tiny's model files, BGE-M3's sentence-transformers files, and `head` as sparse_linear.pt and `colbert` as
 * colbert_linear.pt (null: left out).
 */
function folder(head: Uint8Array | null = new Uint8Array(readFileSync(HEAD)), colbert: Uint8Array | null = null): string {
  const dir = mkdtempSync(join(tmpdir(), 'm3web-bge-m3-'));
  for (const f of MODEL_FILES) copyFileSync(join(BASE, f), join(dir, f));
  mkdirSync(join(dir, '1_Pooling'));
  for (const [f, text] of ST) writeFileSync(join(dir, f), text);
  if (head) writeFileSync(join(dir, 'sparse_linear.pt'), head);
  if (colbert) writeFileSync(join(dir, 'colbert_linear.pt'), colbert);
  return dir;
}

/** Largest |score - oracle| of each text as the query reranking every text, by the model's rerank. */
async function colbertOff(enc: Encoder, texts: string[]): Promise<number> {
  let worst = 0;
  for (const [i, query] of texts.entries()) {
    for (const hit of await enc.rerank(query, expected.texts))
      worst = Math.max(worst, Math.abs(hit.score - (expected.colbert[i]?.[hit.index] as number)));
  }
  return worst;
}

function expectLikeOracle(got: SparseVector[], tolerance: number): void {
  got.forEach((v, i) => {
    const want = expected.lexical[i] as Expected['lexical'][number];
    expect([...v.indices]).toEqual(want.indices);
    expect(Math.max(...Array.from(v.values, (x, k) => Math.abs(x - (want.values[k] as number))))).toBeLessThan(tolerance);
  });
}

describe('lexical weights (BGE-M3 sparse)', () => {
  it("a folder with sparse_linear.pt gives the oracle's weights and lexical matching scores, on the CPU", async () => {
    const enc = await createEncoder({ model: folder(), device: 'cpu' });
    try {
      expect((await enc.info()).model.sparse).toBe(true);
      const got = await enc.embedSparse(expected.texts);
      expectLikeOracle(got, 1e-4);
      const pairs = got.map((v) => sparseScore(got[0] as SparseVector, v));
      expect(Math.max(...pairs.map((p, i) => Math.abs(p - (expected.pairs[i] as number))))).toBeLessThan(1e-3);
      // The dense vector is still there: the same model embeds.
      expect((await enc.embed(['U.S. President']))[0]).toHaveLength(64);
    } finally {
      await enc.dispose();
    }
  });

  const hub = serveFakeHub(
    'bge-m3',
    () =>
      new Map([
        [
          'BAAI/bge-m3',
          {
            commit: 'b9e3',
            files: new Map([
              ...MODEL_FILES.map((f) => [f, new Uint8Array(readFileSync(join(BASE, f)))] as const),
              ...[...ST].map(([f, text]) => [f, new TextEncoder().encode(text)] as const),
              ['sparse_linear.pt', new Uint8Array(readFileSync(HEAD))] as const,
              ['colbert_linear.pt', new Uint8Array(readFileSync(COLBERT))] as const,
            ]),
          },
        ],
      ]),
  );

  it('hf:BAAI/bge-m3 converts with its head (a pack, q8 by default) and weighs tokens near the oracle', async () => {
    const enc = await createEncoder({ model: 'hf:BAAI/bge-m3', hub: { url: hub.url }, device: 'cpu' });
    try {
      const { model } = await enc.info();
      expect(model).toMatchObject({
        sparse: true,
        pooling: 'cls',
        quantization: 'q8',
        lateInteraction: { dim: 64, queryLength: 128, documentLength: 128, score: 'mean', pooled: true },
      });
      const got = await enc.embedSparse(expected.texts);
      // q8 layers move every weight a little (random weights amplify it, as for pooled vectors):
      // the weights within 0.1 of the oracle's (they reach 1.3), and so the scores of text pairs.
      let worst = 0;
      got.forEach((v, i) => {
        const want = expected.lexical[i] as Expected['lexical'][number];
        const have = new Map([...v.indices].map((id, k) => [id, v.values[k] as number]));
        const ids = new Set([...want.indices, ...v.indices]);
        const oracle = new Map(want.indices.map((id, k) => [id, want.values[k] as number]));
        for (const id of ids) worst = Math.max(worst, Math.abs((have.get(id) ?? 0) - (oracle.get(id) ?? 0)));
      });
      const pairs = got.map((v) => sparseScore(got[0] as SparseVector, v));
      console.log(`bge-m3-tiny q8: max |weight - oracle| ${worst.toFixed(4)}; pairs ${pairs.map((p) => p.toFixed(3)).join(' ')}`);
      expect(worst).toBeLessThan(0.1);
      const off = Math.max(...pairs.map((p, i) => Math.abs(p - (expected.pairs[i] as number))));
      expect(off).toBeLessThan(0.03 * (expected.pairs[0] as number));
      const multi = await colbertOff(enc, expected.texts.slice(0, 3));
      console.log(`bge-m3-tiny colbert q8: max |score - oracle| ${multi.toFixed(4)} (scores 0.41-1)`);
      expect(multi).toBeLessThan(0.02);
    } finally {
      await enc.dispose();
    }
  });

  it('hf:BAAI/bge-m3 in f32 is the oracle to 1e-4, its lexical weights and its multi-vector scores', async () => {
    const enc = await createEncoder({ model: 'hf:BAAI/bge-m3', hub: { url: hub.url }, device: 'cpu', dtype: 'f32' });
    try {
      expectLikeOracle(await enc.embedSparse(expected.texts), 1e-4);
      expect(await colbertOff(enc, expected.texts.slice(0, 3))).toBeLessThan(1e-4);
    } finally {
      await enc.dispose();
    }
  });

  it("embedDetailed({ sparse: true }) gives a text's dense vector and lexical weights from one forward", async () => {
    const enc = await createEncoder({ model: folder(), device: 'cpu' });
    try {
      const both = await enc.embedDetailed(expected.texts, { sparse: true, dims: 64 });
      expect(both.vectors).toEqual(await enc.embed(expected.texts));
      expect(both.sparse).toEqual(await enc.embedSparse(expected.texts));
      expect((await enc.embedDetailed(expected.texts.slice(0, 1))).sparse).toBeUndefined();
      await expect(enc.embed(['a'], { sparse: true })).rejects.toThrow(/embedDetailed/);
      await expect(enc.embedDetailed(['a'], { sparse: true, layers: 'adaptive' })).rejects.toThrow(InputError);
      await expect(enc.embedDetailed(['a'], { sparse: 1 as never })).rejects.toThrow(InputError);
    } finally {
      await enc.dispose();
    }
    const plain = await createEncoder({ model: folder(null), device: 'cpu' });
    try {
      await expect(plain.embedDetailed(['a'], { sparse: true })).rejects.toThrow(UnsupportedError);
    } finally {
      await plain.dispose();
    }
  });

  it('refuses bad calls with typed errors, and keeps working after them', async () => {
    const enc = await createEncoder({ model: folder(), device: 'cpu' });
    try {
      await expect(enc.embedSparse([])).rejects.toThrow(InputError);
      await expect(enc.embedSparse([''])).rejects.toThrow(InputError);
      await expect(enc.embedSparse(['a'], { dims: 8 } as never)).rejects.toThrow(/unknown option "dims"/);
      await expect(enc.embedSparse(['a'], { layers: 7 })).rejects.toThrow(InputError);
      await expect(enc.embedSparse(['a'], { kind: 'doc' as never })).rejects.toThrow(InputError);
      const ac = new AbortController();
      ac.abort();
      await expect(enc.embedSparse(['a'], { signal: ac.signal })).rejects.toThrow(/aborted/);
      expectLikeOracle(await enc.embedSparse(expected.texts.slice(0, 2)), 1e-4);
    } finally {
      await enc.dispose();
    }
    await expect(enc.embedSparse(['a'])).rejects.toThrow(/disposed/);
  });

  it('a model without the head refuses embedSparse with UNSUPPORTED', async () => {
    const enc = await createEncoder({ model: folder(null), device: 'cpu' });
    try {
      expect((await enc.info()).model.sparse).toBeUndefined();
      await expect(enc.embedSparse(['a'])).rejects.toThrow(UnsupportedError);
    } finally {
      await enc.dispose();
    }
  });

  it('a corrupt or misshapen sparse_linear.pt is a MODEL_FORMAT error when the model opens', async () => {
    const bytes = new Uint8Array(readFileSync(HEAD));
    await expect(createEncoder({ model: folder(bytes.subarray(0, 700)), device: 'cpu' })).rejects.toThrow(ModelFormatError);
    // Another model's head (BGE-M3's is [1, 1024]; this encoder's hidden size is 64).
    const wide = new Uint8Array(readFileSync(join(FIXTURES, 'torch-state-dicts', 'linear-f32.pt')));
    await expect(createEncoder({ model: folder(wide), device: 'cpu' })).rejects.toThrow(
      /sparse_linear\.pt: weight must be \[1, 64\]/,
    );
  });

  it("colbert_linear.pt: BGE-M3's multi-vector scores (every token but the first, MaxSim averaged), beside its dense vectors", async () => {
    const enc = await createEncoder({ model: folder(null, new Uint8Array(readFileSync(COLBERT))), device: 'cpu' });
    try {
      const { model } = await enc.info();
      expect(model.lateInteraction).toEqual({ dim: 64, queryLength: 128, documentLength: 128, score: 'mean', pooled: true });
      const off = await colbertOff(enc, expected.texts);
      console.log(`bge-m3-tiny colbert, cpu f32: max |score - oracle| ${off.toExponential(2)}`);
      expect(off).toBeLessThan(1e-4);
      // Queries and documents read alike: every token but the first, normalised.
      const [q, d] = await enc
        .embedTokens(expected.texts.slice(0, 1), { kind: 'query' })
        .then(async (qs) => [qs[0] as Float32Array, (await enc.embedTokens(expected.texts.slice(0, 1)))[0] as Float32Array]);
      expect(q).toEqual(d);
      expect(q).toHaveLength(((expected.ids[0] as number[]).length - 1) * 64);
      expect(maxSim(q as Float32Array, d as Float32Array, 64) / ((q as Float32Array).length / 64)).toBeCloseTo(1, 5);
      // The dense output is the model's CLS vector: xlmr-tiny's oracle.
      const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(BASE, 'expected.safetensors'))));
      const dense = await enc.embed(expected.texts, { normalize: false });
      expect(Math.min(...dense.map((v, i) => cosine(v, oracle.get(`cls.${i}.3`, [64]))))).toBeGreaterThan(0.99999);
      await expect(enc.embedSparse(['a'])).rejects.toThrow(UnsupportedError);
    } finally {
      await enc.dispose();
    }
  });

  it('a colbert_linear.pt of another width is a MODEL_FORMAT error', async () => {
    const wide = new Uint8Array(readFileSync(join(FIXTURES, 'torch-state-dicts', 'linear-f16.pt')));
    await expect(createEncoder({ model: folder(null, wide), device: 'cpu' })).rejects.toThrow(
      /colbert_linear\.pt: weight must be \[dim, 64\]/,
    );
  });

  it('sparseScore checks its inputs', () => {
    const a = { indices: Uint32Array.of(1, 5, 9), values: Float32Array.of(0.5, 1, 2) };
    const b = { indices: Uint32Array.of(5, 9, 12), values: Float32Array.of(2, 0.25, 3) };
    expect(sparseScore(a, b)).toBe(2.5);
    expect(sparseScore(a, { indices: new Uint32Array(), values: new Float32Array() })).toBe(0);
    expect(() => sparseScore(a, { indices: Uint32Array.of(9, 5), values: Float32Array.of(1, 1) })).toThrow(InputError);
    expect(() => sparseScore(a, { indices: [1], values: [1] } as never)).toThrow(InputError);
  });

  it('m3web embed --sparse writes the lexical weights as JSON lines', async () => {
    const dir = folder();
    const stdin = expected.texts.map((t) => `${JSON.stringify(t)}\n`).join('');
    const out = await m3web(['embed', '--model', dir, '--sparse', '--backend', 'cpu'], stdin);
    expect(out.code, out.stderr).toBe(0);
    const lines = out.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { indices: number[]; values: number[] });
    expectLikeOracle(
      lines.map((l) => ({ indices: Uint32Array.from(l.indices), values: Float32Array.from(l.values) })),
      1e-4,
    );
    const clash = await m3web(['embed', '--model', dir, '--sparse', '--dims', '32'], stdin);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/--dims does not apply/);
    const none = await m3web(['embed', '--model', folder(null), '--sparse', '--backend', 'cpu'], stdin);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no lexical-weights head/);
  });
});
