import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEncoder, createIndex } from '../../src/client/client.js';
import { InputError, ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { maxSim } from '../../src/index.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { encodeLateDocument, encodeLateQuery } from '../../src/tokenizer/late-interaction-input.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { type LateInteractionSpec, parseHfConfig } from '../../src/weights/config.js';
import { type FakeHub, folderFiles, startFakeHub } from '../support/hub-server.js';

// Late-interaction (ColBERT) models against test/oracle/make_colbert.py: a stanford-futuredata
// HF_ColBERT checkpoint (linear.weight beside the encoder, artifact.metadata) and a PyLate model
// (a pylate Dense module, config_sentence_transformers.json) over BERT and over ModernBERT, scored by a float64 PyTorch MaxSim
// written from both projects' code: query expansion with mask tokens that are not attended,
// markers after [CLS], punctuation left out of documents.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const MODELS = ['colbert-stanford-tiny', 'colbert-pylate-tiny', 'colbert-modernbert-tiny'] as const;
interface Expected {
  queries: string[];
  documents: string[];
  query_ids: number[][];
  query_attended: number[];
  document_ids: number[][];
  skiplist: number[];
  markers: [number, number];
  scores: number[][];
  q8_moved: number;
}
const read = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected;

/** The largest |score - oracle| of every query against every document through `model` (a folder or a Hub id). */
async function worstOf(model: string, expected: Expected, extra: Record<string, unknown> = {}): Promise<number> {
  const enc = await createEncoder({ model, device: 'cpu', ...extra });
  try {
    let worst = 0;
    for (const [i, q] of expected.queries.entries()) {
      const hits = await enc.rerank(q, expected.documents);
      expect(hits.map((h) => h.index).sort((a, b) => a - b)).toEqual(expected.documents.map((_, j) => j));
      for (const h of hits) worst = Math.max(worst, Math.abs(h.score - (expected.scores[i]?.[h.index] as number)));
    }
    return worst;
  } finally {
    await enc.dispose();
  }
}

async function packOf(name: string, quant: 'f32' | 'q8'): Promise<string> {
  const ckpt = await openHfCheckpoint(join(FIXTURES, name));
  const pack = await convertCheckpoint(ckpt, { id: `${name}-${quant}`, quant }).finally(() => ckpt.close());
  const out = mkdtempSync(join(tmpdir(), 'm3web-colbert-pack-'));
  for (const [file, bytes] of pack.files) writeFileSync(join(out, file), bytes);
  return out;
}

describe.each(MODELS)('%s', (name) => {
  const expected = read(name);
  const dir = join(FIXTURES, name);
  // What make_colbert.py writes into every fixture's files.
  const spec: LateInteractionSpec = {
    dim: 24,
    queryLength: 32,
    documentLength: 40,
    queryMarker: expected.markers[0],
    documentMarker: expected.markers[1],
    expansionToken: 4,
    attendExpansion: false,
    skiplist: expected.skiplist,
    projection: ['identity'],
  };

  it('is read as the late-interaction model its files describe', async () => {
    const pack = await packOf(name, 'f32');
    const config = parseHfConfig(JSON.parse(readFileSync(join(pack, 'manifest.json'), 'utf8')).config);
    expect(config.lateInteraction).toEqual(spec);
    const enc = await createEncoder({ model: pack, device: 'cpu' });
    try {
      const { model } = await enc.info();
      expect(model.lateInteraction).toEqual({ dim: 24, queryLength: 32, documentLength: 40 });
      expect(model.crossEncoder).toBeUndefined();
    } finally {
      await enc.dispose();
    }
  });

  it("tokenizes queries (marker, cut, expansion) and documents (marker, cut) to the oracle's ids", async () => {
    const tokenizer = TextTokenizer.fromJson(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')));
    expected.queries.forEach((q, i) => {
      const got = encodeLateQuery(tokenizer, spec, q);
      expect(got.ids).toEqual(expected.query_ids[i]);
      expect(got.attended).toBe(expected.query_attended[i]);
    });
    expected.documents.forEach((d, i) => {
      const got = encodeLateDocument(tokenizer, spec, d);
      expect(got.ids).toEqual(expected.document_ids[i]);
      expect(got.truncated).toBe(tokenizer.tokenIds(d).length > 39);
    });
    // Attended expansion tokens count as attended; without expansion a query keeps its length.
    expect(encodeLateQuery(tokenizer, { ...spec, attendExpansion: true }, 'Hi!').attended).toBe(32);
    const short = encodeLateQuery(tokenizer, { ...spec, expansionToken: null }, expected.queries[0] as string);
    expect(short.ids).toEqual((expected.query_ids[0] as number[]).slice(0, expected.query_attended[0]));
  });

  it('reranks as the oracle scores: the folder on the CPU, f32 and q8 packs', async () => {
    const folder = await worstOf(dir, expected);
    const f32 = await worstOf(await packOf(name, 'f32'), expected);
    const q8 = await worstOf(await packOf(name, 'q8'), expected);
    console.log(
      `${name}: max |score - oracle| folder ${folder.toExponential(2)}, f32 pack ${f32.toExponential(2)}, q8 pack ${q8.toFixed(3)} (q8 rounding alone ${expected.q8_moved.toFixed(3)})`,
    );
    expect(folder).toBeLessThan(1e-4);
    expect(f32).toBeLessThan(1e-4);
    expect(q8).toBeLessThan(2 * expected.q8_moved + 0.05);
  });
});

describe('token vectors (embedTokens) and maxSim', () => {
  it.each(MODELS)("%s: the documents' vectors, kept, score a query as rerank does", async (name) => {
    const expected = read(name);
    const enc = await createEncoder({ model: join(FIXTURES, name), device: 'cpu' });
    try {
      const docs = await enc.embedTokens(expected.documents);
      const queries = await enc.embedTokens(expected.queries, { kind: 'query' });
      // A query keeps all of its 32 tokens (expansion included); a document leaves its skiplist out.
      for (const q of queries) expect(q.length).toBe(32 * 24);
      docs.forEach((d, j) => {
        const kept = (expected.document_ids[j] as number[]).filter((id) => !expected.skiplist.includes(id));
        expect(d.length).toBe(kept.length * 24);
        for (let r = 0; r < kept.length; r++) expect(Math.hypot(...d.subarray(r * 24, (r + 1) * 24))).toBeCloseTo(1, 5);
      });
      let worst = 0;
      queries.forEach((q, i) => {
        docs.forEach((d, j) => {
          worst = Math.max(worst, Math.abs(maxSim(q, d, 24) - (expected.scores[i]?.[j] as number)));
        });
      });
      expect(worst).toBeLessThan(1e-4);
      expect(() => maxSim(queries[0] as Float32Array, new Float32Array(0), 24)).toThrow(InputError);
      expect(() => maxSim(queries[0] as Float32Array, docs[0] as Float32Array, 7)).toThrow(InputError);
      await expect(enc.embedTokens(['x'], { kind: 'document' as never })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(enc.embedTokens(['x'], { dim: 2 } as never)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    } finally {
      await enc.dispose();
    }
  });

  it('an embedding model refuses embedTokens', async () => {
    const enc = await createEncoder({ model: join(FIXTURES, 'bert-tiny'), device: 'cpu' });
    try {
      await expect(enc.embedTokens(['a text'])).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    } finally {
      await enc.dispose();
    }
  });
});

describe('late interaction: what it refuses', () => {
  const stanford = join(FIXTURES, 'colbert-stanford-tiny');
  const pylate = join(FIXTURES, 'colbert-pylate-tiny');
  const copy = (from: string) => {
    const to = mkdtempSync(join(tmpdir(), 'm3web-colbert-bad-'));
    cpSync(from, to, { recursive: true });
    return to;
  };

  it('embed, windows and instructions are refused with typed errors; a query of nothing too', async () => {
    const enc = await createEncoder({ model: stanford, device: 'cpu' });
    try {
      await expect(enc.embed(['a text'])).rejects.toMatchObject({ code: 'UNSUPPORTED', message: /late-interaction/ });
      await expect(enc.rerank('q', ['d'], { long: 'windows' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(enc.rerank('q', ['d'], { instruction: 'find it' })).rejects.toThrow(/reads no instruction/);
      await expect(enc.rerank('\u200b', ['d'])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      expect(await enc.rerank('q', [])).toEqual([]);
    } finally {
      await enc.dispose();
    }
  });

  it('more documents than one chunk: the query rides with the first, every document scores as alone', async () => {
    const expected = read('colbert-stanford-tiny');
    const enc = await createEncoder({ model: stanford, device: 'cpu' });
    try {
      const many = Array.from({ length: 300 }, (_, i) => expected.documents[i % expected.documents.length] as string);
      const hits = await enc.rerank(expected.queries[0] as string, many);
      expect(hits).toHaveLength(300);
      for (const h of hits) {
        expect(h.score).toBeCloseTo(expected.scores[0]?.[h.index % expected.documents.length] as number, 4);
      }
    } finally {
      await enc.dispose();
    }
  });

  it('a checkpoint missing its projection, a marker or with a residual Dense is refused when opened', async () => {
    const otherDim = copy(stanford);
    const cfg = JSON.parse(readFileSync(join(otherDim, 'config.json'), 'utf8'));
    // The projection of another width than the metadata's.
    writeFileSync(join(otherDim, 'artifact.metadata'), JSON.stringify({ dim: 128 }));
    await expect(createEncoder({ model: otherDim, device: 'cpu' })).rejects.toThrow(ModelFormatError);
    const unknownMarker = copy(stanford);
    writeFileSync(join(unknownMarker, 'artifact.metadata'), JSON.stringify({ query_token_id: '[unused9]' }));
    await expect(createEncoder({ model: unknownMarker, device: 'cpu' })).rejects.toThrow(/\[unused9\]/);
    const residual = copy(pylate);
    const dense = JSON.parse(readFileSync(join(residual, '1_Dense/config.json'), 'utf8'));
    writeFileSync(join(residual, '1_Dense/config.json'), JSON.stringify({ ...dense, use_residual: true }));
    await expect(createEncoder({ model: residual, device: 'cpu' })).rejects.toThrow(UnsupportedError);
    const badConfig = { ...cfg, m3web_late_interaction: { dim: 24 } };
    expect(() => parseHfConfig(badConfig)).toThrow(ModelFormatError);
  });
});

describe('late interaction by Hub id and as a search step', () => {
  let hub: FakeHub;
  beforeAll(async () => {
    process.env.M3WEB_CACHE_DIR = mkdtempSync(join(tmpdir(), 'm3web-colbert-cache-'));
    const base = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];
    hub = await startFakeHub(
      new Map([
        [
          'answerdotai/colbert-stanford-tiny',
          { files: folderFiles(join(FIXTURES, 'colbert-stanford-tiny'), [...base, 'artifact.metadata']), commit: 'c0ffe01' },
        ],
        [
          'lightonai/colbert-pylate-tiny',
          {
            files: folderFiles(join(FIXTURES, 'colbert-pylate-tiny'), [
              ...base,
              'modules.json',
              'sentence_bert_config.json',
              'config_sentence_transformers.json',
              '1_Dense/config.json',
              '1_Dense/model.safetensors',
            ]),
            commit: 'c0ffe02',
          },
        ],
      ]),
    );
  });
  afterAll(async () => {
    await hub.close();
  });

  it.each([
    ['answerdotai/colbert-stanford-tiny', 'colbert-stanford-tiny'],
    ['lightonai/colbert-pylate-tiny', 'colbert-pylate-tiny'],
  ])('opens %s by Hub id and reranks as the oracle does', async (repo, fixture) => {
    const worst = await worstOf(`hf:${repo}`, read(fixture), { hub: { url: hub.url }, dtype: 'f32' });
    expect(worst).toBeLessThan(1e-4);
  });

  it("reorders a search's first-stage hits by MaxSim", async () => {
    const encoder = await createEncoder({ model: join(FIXTURES, 'bert-tiny'), device: 'cpu' });
    const reranker = await createEncoder({ model: join(FIXTURES, 'colbert-pylate-tiny'), device: 'cpu' });
    const { documents, queries } = read('colbert-pylate-tiny');
    const index = await createIndex({ encoder, name: 'colbert', store: 'memory' });
    try {
      await index.add(documents.map((text, i) => ({ id: `d${i}`, text })));
      const query = queries[0] as string;
      const first = await index.search(query, { k: 8 });
      const hits = await index.search(query, { k: 3, rerank: { reranker, top: 8 } });
      const want = await reranker.rerank(
        query,
        first.map((h) => h.chunk.text),
      );
      expect(hits.map((h) => h.id)).toEqual(want.slice(0, 3).map((r) => first[r.index]?.id));
      expect(hits[0]?.rerankScore).toBeCloseTo(want[0]?.score as number, 6);
    } finally {
      index.close();
      await encoder.dispose();
      await reranker.dispose();
    }
  });
});
