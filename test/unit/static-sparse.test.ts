import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { staticQuerySide } from '../../src/cli/index-docs.js';
import { createEncoder, createIndex } from '../../src/client/client.js';
import { InputError, M3WebError } from '../../src/errors.js';
import { m3web } from '../support/cli.js';
import { readOracleJson } from '../support/oracle-pack.js';
import { rejection } from '../support/rejection.js';
import { expectStaticLikeMemory, writeStaticFolder } from '../support/static-folder.js';
import { serveStatic } from '../support/static-server.js';

// A static index of a SPLADE model (no vectors: its rows are the weights over the vocabulary) and
// of an inference-free one (queries weighed by its table): the folder m3web index --static writes
// ranks as the in-memory index it was written from. BGE-M3's (vectors and weights) is checked in
// index-sparse.test.ts.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');

describe.each([
  ['SPLADE (splade-bert-tiny)', 'splade-bert-tiny'],
  ['inference-free SPLADE (splade-inference-free)', 'splade-inference-free'],
])('a static index of %s', (_, name) => {
  const dir = join(FIXTURES, name);
  const { texts } = readOracleJson<{ texts: string[] }>(join(dir, 'expected.json'));

  it('ranks by the weights, the words and both as the in-memory index; holds no vectors; words alone without an encoder', async () => {
    const encoder = await createEncoder({ model: dir, device: 'cpu' });
    const memory = await createIndex({ encoder, name: `static-${name}`, store: 'memory' });
    try {
      await memory.add(texts.map((text, i) => ({ id: String(i), text })));
      const queries = [texts[0] as string, texts[3] as string, 'President Bush', 'Beijing'];
      const m = await expectStaticLikeMemory(memory, encoder, queries, ['sparse', 'lexical', 'hybrid']);
      expect(m.signature).toMatchObject({ dims: 0, sparse: true });
      expect(m.sizes.rows).toEqual([]);

      const { dir: folder } = await writeStaticFolder(memory, []);
      const { server, url } = await serveStatic(folder);
      try {
        const index = await createIndex({ encoder, url });
        const vector = await rejection(index.search(queries[0] as string, { mode: 'vector' }));
        expect(vector).toBeInstanceOf(InputError);
        expect((vector as Error).message).toMatch(/holds no vectors/);
        expect((await index.stats()).tiers.postings).toBeGreaterThan(0);
        index.close();
        const words = await createIndex({ url });
        expect(await words.search(queries[2] as string)).toEqual(await memory.search(queries[2] as string, { mode: 'lexical' }));
        expect(await rejection(words.search(queries[2] as string, { mode: 'sparse' }))).toBeInstanceOf(InputError);
        words.close();
      } finally {
        server.close();
      }
    } finally {
      memory.close();
      await encoder.dispose();
    }
  });

  it('m3web index --static writes the folder from the model, with no --vector to give', async () => {
    const docs = join(mkdtempSync(join(tmpdir(), 'm3web-static-sparse-')), 'docs.jsonl');
    writeFileSync(docs, texts.map((text, i) => JSON.stringify({ id: String(i), text })).join('\n'));
    const out = join(dirname(docs), 'site');
    const r = await m3web(['index', '--static', '--model', dir, '--docs', docs, '--out', out], '');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/x 0 dims f32, lexical weights, .* \+ \d+ of lexical weights, rows 0\.00 MB in 0 shards/);
    // An inference-free model's folder carries its query side; a SPLADE model's cannot.
    expect(existsSync(join(out, 'query', 'weights.bin'))).toBe(name === 'splade-inference-free');
    const { server, url } = await serveStatic(out);
    const encoder = await createEncoder({ model: dir, device: 'cpu' });
    try {
      const index = await createIndex({ encoder, url });
      expect((await index.search(texts[1] as string, { mode: 'sparse', k: 1 }))[0]?.ranks.sparse).toBe(1);
      index.close();
    } finally {
      server.close();
      await encoder.dispose();
    }
  });
});

describe('a static index of an inference-free SPLADE model, with its query side', () => {
  const dir = join(FIXTURES, 'splade-inference-free');
  const { texts } = readOracleJson<{ texts: string[] }>(join(dir, 'expected.json'));

  it('ranks by the weights and words with no encoder in the page, as the in-memory index does with one', async () => {
    const encoder = await createEncoder({ model: dir, device: 'cpu' });
    const memory = await createIndex({ encoder, name: 'static-query-side', store: 'memory' });
    try {
      await memory.add(texts.map((text, i) => ({ id: String(i), text })));
      const { model } = await encoder.info();
      const query = await staticQuerySide(dir, model);
      const { dir: folder, manifest } = await writeStaticFolder(memory, [], undefined, query);
      expect(manifest.query).toEqual({ prefix: '', maxTokens: model.maxTokens, vocab: 2062 });
      const { server, url } = await serveStatic(folder);
      try {
        const index = await createIndex({ url });
        const queries = [texts[0] as string, texts[5] as string, 'President Bush'];
        for (const q of queries) {
          expect(await index.search(q), q).toEqual(await memory.search(q));
          expect(await index.search(q, { mode: 'sparse' }), q).toEqual(await memory.search(q, { mode: 'sparse' }));
        }
        expect((await index.search(queries[0] as string, { mode: 'sparse' })).length).toBeGreaterThan(0);
        // The query side is fetched once: a later search fetches no more of it.
        const before = (await index.stats()).fetched.requests;
        await index.search(queries[0] as string, { mode: 'sparse' });
        expect((await index.stats()).fetched.requests).toBe(before);
        expect(await rejection(index.search('\u200b', { mode: 'sparse' }))).toBeInstanceOf(InputError);
        index.close();
      } finally {
        server.close();
      }
      // Damaged files are typed errors naming them, never other hits.
      const damaged = async (edit: (dir: string) => void) => {
        const copy = mkdtempSync(join(tmpdir(), 'm3web-static-damaged-'));
        cpSync(folder, copy, { recursive: true });
        edit(copy);
        const served = await serveStatic(copy);
        try {
          const opened = await createIndex({ url: served.url });
          return await rejection(opened.search(texts[0] as string, { mode: 'sparse' }));
        } catch (err) {
          return err;
        } finally {
          served.server.close();
        }
      };
      const shard = join('sparse', '00000.bin');
      const scrambled = await damaged((d) => {
        const bytes = readFileSync(join(d, shard));
        bytes.fill(0x7b, 4, 12);
        writeFileSync(join(d, shard), bytes);
      });
      expect(scrambled).toBeInstanceOf(InputError);
      expect((scrambled as Error).message).toMatch(/sparse\/00000\.bin is not an m3web lexical-weights shard/);
      const short = await damaged((d) => writeFileSync(join(d, 'query', 'weights.bin'), new Uint8Array(8)));
      expect(short).toBeInstanceOf(M3WebError);
      expect((short as Error).message).toMatch(/query\/weights\.bin/);
      const badManifest = await damaged((d) => {
        const m = JSON.parse(readFileSync(join(d, 'index.json'), 'utf8'));
        m.query.vocab = 7;
        writeFileSync(join(d, 'index.json'), JSON.stringify(m));
      });
      expect(badManifest).toBeInstanceOf(InputError);
      expect((badManifest as Error).message).toMatch(/not an m3web static index/);
    } finally {
      memory.close();
      await encoder.dispose();
    }
  });
});
