import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEncoder } from '../../src/client/client.js';
import { ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { checkpointFromFiles } from '../../src/index.js';
import { parseManifest } from '../../src/pack/manifest.js';
import { openIndex } from '../../src/search/search-index.js';
import type { SparseVector } from '../../src/types.js';
import { m3web } from '../support/cli.js';
import { readOracleJson, serveFakeHub } from '../support/oracle-pack.js';
import { rejection } from '../support/rejection.js';
import { type OracleWeights, worstCosine, worstOff } from '../support/sparse-oracle.js';

// Inference-free SPLADE (sentence-transformers' Router: queries through SparseStaticEmbedding,
// documents through MLMTransformer + SpladePooling) against test/oracle/make_splade_router.py:
// a query weighs each token id it holds once, by the table; a document is splade-distilbert-tiny's
// SPLADE vector (make_splade.py's float64 forward).

const DIR = join(import.meta.dirname, '../oracle/fixtures/splade-inference-free');
const DOC = 'document_0_MLMTransformer';
const QUERY = 'query_0_SparseStaticEmbedding';

interface Expected {
  texts: string[];
  query_ids: number[][];
  query: OracleWeights[];
  document: OracleWeights[];
  scores: number[][];
}
const expected = readOracleJson<Expected>(join(DIR, 'expected.json'));

/** A copy of the fixture, changed by `edit` (given the copy's path). */
function copyWith(edit: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'm3web-splade-router-'));
  cpSync(DIR, dir, { recursive: true });
  edit(dir);
  return dir;
}

const ids = (v: SparseVector) => [...v.indices];
const routerConfig = (dir: string) => JSON.parse(readFileSync(join(dir, 'router_config.json'), 'utf8'));

describe('inference-free SPLADE (a Router: a table for queries, the masked LM for documents)', () => {
  it('weighs queries by the table, with no special tokens, and documents by the model, as the oracle', async () => {
    const enc = await createEncoder({ model: DIR, device: 'cpu' });
    try {
      expect((await enc.info()).model).toMatchObject({ sparseOnly: true, staticQuery: true, exits: [2] });
      const queries = await enc.embedSparse(expected.texts, { kind: 'query' });
      expect(queries.map(ids)).toEqual(expected.query.map((q) => q.indices));
      // The table's f32 values themselves: the oracle wrote them from the same float32 table.
      expect(worstOff(queries, expected.query)).toBeLessThan(1e-6);
      const detailed = await enc.embedDetailed(expected.texts, { kind: 'query', sparse: true });
      expect(detailed.tokens).toEqual(expected.query_ids.map((q) => q.length));
      // Documents, and text without a kind (the Router's default route), go through the model.
      for (const kind of ['passage', undefined] as const) {
        const docs = await enc.embedSparse(expected.texts, kind ? { kind } : {});
        expect(worstOff(docs, expected.document)).toBeLessThan(2e-5);
      }
      await expect(enc.embedSparse(['\u200b'], { kind: 'query' })).rejects.toThrow(/no character the model's tokenizer reads/);
    } finally {
      await enc.dispose();
    }
  });

  it('an index over it ranks documents for a query by the dot product of the two routes', async () => {
    const enc = await createEncoder({ model: DIR, device: 'cpu' });
    try {
      const index = await openIndex({ encoder: enc, name: 'splade-router-index', device: 'cpu' });
      await index.add(expected.texts.map((text, i) => ({ id: String(i), text })));
      for (const q of [0, 4, 9]) {
        const hits = await index.search(expected.texts[q] as string, { mode: 'sparse', k: expected.texts.length });
        const row = expected.scores[q] as number[];
        // Documents sharing no weighed id with the query score 0 and are not hits.
        const order = row
          .map((s, d) => [s, d] as const)
          .filter(([s]) => s > 0)
          .sort((a, b) => b[0] - a[0]);
        expect(hits.map((h) => Number(h.id))).toEqual(order.map(([, d]) => d));
        for (const h of hits) expect(h.score).toBeCloseTo(row[Number(h.id)] as number, 3);
      }
      index.close();
    } finally {
      await enc.dispose();
    }
  });

  it('converts to a pack that keeps the query table beside the head, in every weight format', async () => {
    for (const quant of ['f32', 'q8'] as const) {
      const out = mkdtempSync(join(tmpdir(), `m3web-splade-router-pack-${quant}-`));
      const r = await m3web(['convert', DIR, '--out', out, '--quant', quant, '--name', 'splade-router'], '');
      expect(r.code, r.stderr).toBe(0);
      const manifest = parseManifest(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')));
      const head = manifest.shards.find((s) => s.kind === 'head');
      expect(head?.tensors.map((t) => t.name)).toContain('mlm.query_weights');
      expect(manifest.config.m3web_splade).toMatchObject({ static_query: true, activation_function: 'log1p_relu' });
      const enc = await createEncoder({ model: out, device: 'cpu' });
      try {
        expect((await enc.info()).model.staticQuery).toBe(true);
        expect(worstOff(await enc.embedSparse(expected.texts, { kind: 'query' }), expected.query)).toBeLessThan(1e-6);
        const docs = await enc.embedSparse(expected.texts, { kind: 'passage' });
        if (quant === 'f32') expect(worstOff(docs, expected.document)).toBeLessThan(2e-5);
        else expect(worstCosine(docs, expected.document)).toBeGreaterThan(0.99);
      } finally {
        await enc.dispose();
      }
    }
  });

  it('m3web embed --sparse --kind query weighs by the table; without --kind by the model', async () => {
    const texts = expected.texts.slice(0, 4);
    const stdin = `${texts.map((t) => JSON.stringify(t)).join('\n')}\n`;
    const read = (stdout: string) =>
      stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as OracleWeights)
        .map((l) => ({ indices: Uint32Array.from(l.indices), values: Float32Array.from(l.values) }));
    const query = await m3web(['embed', '--model', DIR, '--sparse', '--kind', 'query'], stdin);
    expect(query.code, query.stderr).toBe(0);
    expect(worstOff(read(query.stdout), expected.query.slice(0, 4))).toBeLessThan(1e-6);
    const doc = await m3web(['embed', '--model', DIR, '--sparse'], stdin);
    expect(doc.code, doc.stderr).toBe(0);
    expect(worstOff(read(doc.stdout), expected.document.slice(0, 4))).toBeLessThan(2e-5);
  });

  it("reads the masked LM from the root where its module folder has no config.json (older repositories' layout)", async () => {
    const dir = copyWith((d) => {
      for (const f of readdirSync(join(d, DOC))) renameSync(join(d, DOC, f), join(d, f));
      rmSync(join(d, DOC), { recursive: true });
    });
    const enc = await createEncoder({ model: dir, device: 'cpu' });
    try {
      expect(worstOff(await enc.embedSparse(expected.texts, { kind: 'query' }), expected.query)).toBeLessThan(1e-6);
      expect(worstOff(await enc.embedSparse(expected.texts), expected.document)).toBeLessThan(2e-5);
    } finally {
      await enc.dispose();
    }
  });

  it('refuses other routings, a missing or misshapen query table, naming what is wrong', async () => {
    const dense = copyWith((d) => {
      const c = routerConfig(d);
      c.types = { query_0_Transformer: 'sentence_transformers.models.Transformer', ...c.types };
      c.structure.query = ['query_0_Transformer'];
      writeFileSync(join(d, 'router_config.json'), JSON.stringify(c));
    });
    await expect(createEncoder({ model: dense, device: 'cpu' })).rejects.toThrow(UnsupportedError);
    await expect(createEncoder({ model: dense, device: 'cpu' })).rejects.toThrow(/"query" route is .*Transformer/);
    const noConfig = copyWith((d) => rmSync(join(d, 'router_config.json')));
    await expect(createEncoder({ model: noConfig, device: 'cpu' })).rejects.toThrow(/router_config.json is missing/);
    const noTable = copyWith((d) => rmSync(join(d, QUERY, 'model.safetensors')));
    await expect(createEncoder({ model: noTable, device: 'cpu' })).rejects.toThrow(ModelFormatError);
    await expect(createEncoder({ model: noTable, device: 'cpu' })).rejects.toThrow(
      /query_0_SparseStaticEmbedding\/model.safetensors/,
    );
    const wide = copyWith((d) => {
      const f32 = new Float32Array(5000).fill(1);
      const header = new TextEncoder().encode(
        JSON.stringify({ weight: { dtype: 'F32', shape: [5000], data_offsets: [0, f32.byteLength] } }),
      );
      const size = new Uint8Array(8);
      new DataView(size.buffer).setBigUint64(0, BigInt(header.length), true);
      writeFileSync(join(d, QUERY, 'model.safetensors'), Buffer.concat([size, header, new Uint8Array(f32.buffer)]));
    });
    await expect(createEncoder({ model: wide, device: 'cpu' })).rejects.toThrow(
      /one value per token id \(at most 2062\), got \[5000\]/,
    );
  });

  it("refuses OpenSearch's own layout (a masked LM and an idf.json, no sentence-transformers files) rather than read it as an embedder", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'm3web-splade-idf-'));
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'])
      cpSync(join(DIR, DOC, f), join(dir, f));
    // Without the idf.json the same files open as the masked LM's mean-pooled states, as before.
    const plain = await createEncoder({ model: dir, device: 'cpu' });
    await plain.dispose();
    writeFileSync(join(dir, 'idf.json'), JSON.stringify({ the: 1.5, '[CLS]': 0 }));
    const err = await rejection(createEncoder({ model: dir, device: 'cpu' }));
    expect(err).toBeInstanceOf(UnsupportedError);
    expect((err as Error).message).toMatch(/idf\.json: an inference-free sparse encoder in OpenSearch's own layout/);
  });

  it('dropped files (checkpointFromFiles) find the masked LM in its module folder and the table beside it', async () => {
    const files: File[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else {
          const file = new File([readFileSync(path)], name);
          Object.defineProperty(file, 'webkitRelativePath', { value: `model/${relative(DIR, path)}` });
          files.push(file);
        }
      }
    };
    walk(DIR);
    const ckpt = await checkpointFromFiles(files);
    expect((ckpt.config as { architectures: string[] }).architectures).toEqual(['DistilBertForMaskedLM']);
    expect(ckpt.sentenceTransformers?.splade?.queryWeights?.shape('weight')).toEqual([2062]);
  });

  const hub = serveFakeHub('splade-router', () => {
    const files = new Map<string, Uint8Array>();
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name !== 'expected.json') files.set(relative(DIR, path), new Uint8Array(readFileSync(path)));
      }
    };
    walk(DIR);
    return new Map([['opensearch-project/opensearch-neural-sparse-encoding-doc-v3-distill', { commit: 'c3d4', files }]]);
  });

  it('hf:opensearch-project/...-doc-v3-distill (the fake hub in its layout) converts with both routes', async () => {
    const enc = await createEncoder({
      model: 'hf:opensearch-project/opensearch-neural-sparse-encoding-doc-v3-distill',
      hub: { url: hub.url },
      device: 'cpu',
      dtype: 'f32',
    });
    try {
      expect(worstOff(await enc.embedSparse(expected.texts, { kind: 'query' }), expected.query)).toBeLessThan(1e-6);
      expect(worstOff(await enc.embedSparse(expected.texts), expected.document)).toBeLessThan(2e-5);
    } finally {
      await enc.dispose();
    }
  });
});
