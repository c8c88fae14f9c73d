import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEncoder, createIndex } from '../../src/client/client.js';
import { InputError, M3WebError } from '../../src/errors.js';
import { openIndex } from '../../src/search/index.js';
import { type FileCache, forgetOtherBuilds } from '../../src/search/static/files.js';
import { parseManifest, VERSION } from '../../src/search/static/format.js';
import type { IndexEncoder, VectorIndex } from '../../src/search/types.js';
import type { ModelInfo } from '../../src/types.js';
import { m3web } from '../support/cli.js';
import { rejection } from '../support/rejection.js';
import { QUERIES, STATIC_DIMS, staticCorpus, wordsEncoder } from '../support/static-corpus.js';
import { writeStaticFolder } from '../support/static-folder.js';
import { serveStatic } from '../support/static-server.js';

// The static tiered index (m3web index --static, createIndex({ url })): a folder served over
// HTTP searched like the in-memory index it was written from, fetching only what a query needs,
// and answering offline from what it has seen.

const ids = (hits: { id: string }[]) => hits.map((h) => h.id);

describe('static index over HTTP', () => {
  const encoder = wordsEncoder();
  let memory: VectorIndex;
  let dir: string;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    memory = await openIndex({ encoder, name: 'static-source', device: 'cpu' });
    await memory.add(staticCorpus(3000));
    ({ dir } = await writeStaticFolder(memory, STATIC_DIMS, 32));
    ({ server, url } = await serveStatic(dir));
  });
  afterAll(() => {
    memory.close();
    server.close();
  });
  /** The same search on the folder served with Range support. */
  const openedSearch = async (q: string) => {
    const index = await openIndex({ encoder, url });
    const hits = await index.search(q);
    index.close();
    return hits;
  };

  it('ranks lexical search exactly as the in-memory index, hits and scores alike', async () => {
    const index = await openIndex({ encoder, url });
    expect(index.size).toBe(3000);
    for (const q of QUERIES) {
      expect(await index.search(q, { mode: 'lexical', k: 10 })).toEqual(await memory.search(q, { mode: 'lexical', k: 10 }));
    }
    const filtered = await index.search(QUERIES[0] as string, { mode: 'lexical', filter: { group: 2 } });
    expect(filtered).toEqual(await memory.search(QUERIES[0] as string, { mode: 'lexical', filter: { group: 2 } }));
    expect(filtered.every((h) => h.meta.group === 2)).toBe(true);
    index.close();
  });

  it('completes a word still being typed (prefix) from its word list, exactly as the in-memory index', async () => {
    const word = (QUERIES[0] as string).split(' ').sort((a, b) => b.length - a.length)[0] as string;
    const typed = word.slice(0, 3);
    const completed = await memory.search(typed, { mode: 'lexical', prefix: true, k: 5 });
    expect(completed.length).toBeGreaterThan(0);
    for (const hit of completed) {
      const marked = hit.chunk.highlights.map(([a, b]) => hit.chunk.text.slice(a, b).toLowerCase());
      expect(marked.some((m) => m.startsWith(typed.toLowerCase()))).toBe(true);
    }
    expect(await rejection(memory.search(typed, { prefix: 'yes' as unknown as boolean }))).toMatchObject({
      code: 'INVALID_INPUT',
    });
    const index = await openIndex({ encoder, url });
    // One letter (its own short list), two, three, a whole word that begins longer ones, a query
    // whose last word is done (a space after it: nothing to complete), and hybrid.
    const queries = [word.slice(0, 1), word.slice(0, 2), typed, `${QUERIES[1]} ${typed}`, word, `${typed} `];
    for (const q of queries) {
      const want = await memory.search(q, { mode: 'lexical', prefix: true, k: 10 });
      expect(await index.search(q, { mode: 'lexical', prefix: true, k: 10 }), q).toEqual(want);
    }
    expect(ids(await index.search(typed, { mode: 'lexical', prefix: true, k: 10 }))).not.toEqual(
      ids(await index.search(typed, { mode: 'lexical', k: 10 })),
    );
    expect(await index.search(typed, { prefix: true, k: 5 })).toEqual(await memory.search(typed, { prefix: true, k: 5 }));
    index.close();

    // A folder written before the word list: prefix is refused, saying why; typos are left as typed.
    const old = mkdtempSync(join(tmpdir(), 'm3web-static-old-'));
    cpSync(dir, old, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(old, 'index.json'), 'utf8'));
    delete manifest.sizes.words;
    writeFileSync(join(old, 'index.json'), JSON.stringify(manifest));
    const served = await serveStatic(old);
    const before = await openIndex({ encoder, url: served.url });
    expect(await rejection(before.search(typed, { mode: 'lexical', prefix: true }))).toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringMatching(/prefix: .*without a word list/),
    });
    expect(await before.search(typed, { mode: 'lexical' })).toEqual(await memory.search(typed, { mode: 'lexical' }));
    // Nor can it correct a typo: it searches as typed.
    const typo = `${word.slice(0, 3)}${word[3] === 'x' ? 'y' : 'x'}${word.slice(4)}`;
    expect(await before.search(typo, { mode: 'lexical' })).toEqual(await memory.search(typo, { mode: 'lexical', typos: false }));
    expect(await before.corrections(typo)).toEqual({});
    before.close();
    served.server.close();
    rmSync(old, { recursive: true, force: true });
  });

  it('reads query syntax exactly as the in-memory index: phrases from the text shards of the rows holding their words', async () => {
    const corpus = staticCorpus(3000);
    const [w1, w2] = (corpus[4] as { text: string }).text.split(' ') as [string, string];
    const other = (corpus[5] as { text: string }).text.split(' ')[0] as string;
    const queries = [`"${w1} ${w2}"`, `"${w1} ${w2}" ${other}`, `${w1} -${w2}`, `${w1} -"${w1} ${w2}"`, `"${w2} ${w1}"`];
    const index = await openIndex({ encoder, url });
    for (const q of queries) {
      const want = await memory.search(q, { mode: 'lexical', k: 10 });
      expect(ids(want), q).not.toEqual(ids(await memory.search(q, { mode: 'lexical', k: 10, syntax: false })));
      expect(await index.search(q, { mode: 'lexical', k: 10 }), q).toEqual(want);
      expect(await index.search(q, { k: 10 }), q).toEqual(await memory.search(q, { k: 10 }));
    }
    const phrased = await index.search(queries[0] as string, { mode: 'lexical', k: 100 });
    expect(phrased.length).toBeGreaterThan(0);
    for (const hit of phrased) expect(hit.chunk.text.toLowerCase()).toContain(`${w1} ${w2}`.toLowerCase());
    index.close();
  });

  it('corrects typos from its word list exactly as the in-memory index', async () => {
    const word = (QUERIES[0] as string).split(' ').sort((a, b) => b.length - a.length)[0] as string;
    const typo = `${word.slice(0, 3)}${word[3] === 'x' ? 'y' : 'x'}${word.slice(4)}`;
    const queries = [typo, `${QUERIES[1]} ${typo}`];
    const index = await openIndex({ encoder, url });
    for (const q of queries) {
      const want = await memory.search(q, { mode: 'lexical', k: 10 });
      expect(ids(want), q).not.toEqual(ids(await memory.search(q, { mode: 'lexical', k: 10, typos: false })));
      expect(await index.search(q, { mode: 'lexical', k: 10 }), q).toEqual(want);
      expect(await index.search(q, { k: 10 }), q).toEqual(await memory.search(q, { k: 10 }));
    }
    // Typed as a search box sends it: a word that begins indexed ones is left to its completions,
    // one that begins none is corrected.
    const long = staticCorpus(3000)
      .flatMap((d) => d.text.split(' '))
      .find((w) => w.length >= 6) as string;
    const begun = long.slice(0, -1);
    expect(ids(await memory.search(begun, { mode: 'lexical', prefix: true, k: 10 }))).not.toEqual(
      ids(await memory.search(begun, { mode: 'lexical', k: 10 })),
    );
    const swapped = `${begun.slice(0, 2)}${begun[3]}${begun[2]}${begun.slice(4)}`;
    for (const q of [typo, begun, `${QUERIES[1]} ${begun}`, `x${begun.slice(1)}`, swapped]) {
      const want = await memory.search(q, { mode: 'lexical', prefix: true, k: 10 });
      expect(await index.search(q, { mode: 'lexical', prefix: true, k: 10 }), q).toEqual(want);
    }
    expect(await index.corrections(typo)).toEqual(await memory.corrections(typo));
    expect(Object.values(await index.corrections(typo)).flat()).toContain(word);
    expect(await index.corrections(begun, { prefix: true })).toEqual(await memory.corrections(begun, { prefix: true }));
    const [hit] = await index.search(typo, { mode: 'lexical' });
    expect(hit?.chunk.highlights.map(([a, b]) => hit.chunk.text.slice(a, b).toLowerCase())).toContain(word);
    index.close();
  });

  it('finds >= 98% of the exact vector top-10, and hybrid fuses both rankers', async () => {
    const index = await openIndex({ encoder, url });
    let found = 0;
    for (const q of QUERIES) {
      const exact = ids(await memory.search(q, { mode: 'vector', exact: true }));
      const got = ids(await index.search(q, { mode: 'vector' }));
      found += got.filter((id) => exact.includes(id)).length;
    }
    expect(found / (QUERIES.length * 10)).toBeGreaterThanOrEqual(0.98);
    const hybrid = await index.search(QUERIES[1] as string, { k: 5, filter: { group: 1 } });
    expect(hybrid).toHaveLength(5);
    expect(hybrid.every((h) => h.meta.group === 1 && (h.ranks.vector ?? h.ranks.lexical) !== undefined)).toBe(true);
    expect(hybrid.some((h) => h.ranks.vector !== undefined && h.ranks.lexical !== undefined)).toBe(true);
    const [best] = await memory.search(QUERIES[1] as string, { k: 1, filter: { group: 1 }, mode: 'lexical' });
    expect(ids(hybrid)).toContain(best?.id);
    // By scores with the vectors weighing nothing: BM25 over its best, in BM25's order.
    const words = await index.search(QUERIES[1] as string, { k: 5, mode: 'lexical' });
    const byScores = await index.search(QUERIES[1] as string, {
      k: 5,
      fusion: { method: 'scores', weights: { vector: 0, lexical: 1 } },
    });
    const rounded = (hits: { id: string; score: number }[], over = 1) =>
      hits.map((h) => `${h.id} ${(h.score / over).toFixed(12)}`);
    expect(rounded(byScores)).toEqual(rounded(words, words[0]?.score));
    index.close();
  });

  it('fetches the coarse tier once, then only the rows and shards a query needs, and reports the bytes', async () => {
    // A server of its own: files are cached by URL, and this test counts what is fetched.
    const requests: string[] = [];
    const own = await serveStatic(dir, { onRequest: (p) => requests.push(p) });
    const index = await openIndex({ encoder, url: own.url });
    const stats = await index.stats();
    expect(stats.tiers.coarse).toBeLessThan(stats.tiers.rows / 2);
    expect(stats.fetched.bytes).toBe(stats.tiers.coarse);
    await index.search(QUERIES[2] as string, { mode: 'vector' });
    const first = (await index.stats()).lastSearch;
    // 200 candidates' rows (516 bytes each at 128 f32 dims) and the hits' text shards.
    expect(first.bytes).toBeLessThan(200 * 516 + 10 * 4096);
    expect(first.requests).toBe(requests.length - 3);
    await index.search(QUERIES[2] as string, { mode: 'vector' });
    expect((await index.stats()).lastSearch).toEqual({ requests: 0, bytes: 0 });
    index.close();
    own.server.close();
  });

  it('reads rows from a host that ignores Range requests too', async () => {
    const own = await serveStatic(dir, { ignoreRange: true });
    const index = await openIndex({ encoder, url: own.url });
    for (const q of QUERIES.slice(0, 3)) expect(await index.search(q)).toEqual(await openedSearch(q));
    index.close();
    own.server.close();
  });

  it('is read-only: every write rejects with an InputError', async () => {
    const index = await openIndex({ encoder, url });
    const doc = { id: 'x', text: 'new' };
    for (const call of [
      index.add([doc]),
      index.upsert([doc]),
      index.sync([doc]),
      index.remove(['d1']),
      index.clear(),
      index.import(new Uint8Array(4)),
      index.export(),
    ]) {
      const err = await rejection(call);
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(/read-only/);
    }
    index.close();
  });

  it('answers offline from what it fetched; an unseen shard is a NETWORK error', async () => {
    const own = await serveStatic(dir);
    const index = await openIndex({ encoder, url: own.url });
    const seen = await index.search(QUERIES[3] as string, { mode: 'vector' });
    await new Promise((done) => own.server.close(done));
    expect(await index.search(QUERIES[3] as string, { mode: 'vector' })).toEqual(seen);
    const reopened = await openIndex({ encoder, url: own.url });
    expect(await reopened.search(QUERIES[3] as string, { mode: 'vector' })).toEqual(seen);
    const err = await rejection(reopened.search(QUERIES[4] as string, { mode: 'lexical' }));
    expect(err).toBeInstanceOf(M3WebError);
    expect((err as M3WebError).code).toBe('NETWORK');
    index.close();
    reopened.close();
  });

  it('sees a folder rebuilt at the same URL at once, never mixing its files with the old build', async () => {
    const small = await openIndex({ encoder, name: 'static-small', device: 'cpu' });
    await small.add(staticCorpus(50));
    const { dir: folder } = await writeStaticFolder(small, STATIC_DIMS, 32);
    const own = await serveStatic(folder);
    const before = await openIndex({ encoder, url: own.url });
    expect(ids(await before.search(QUERIES[0] as string, { mode: 'lexical', k: 3 }))).toEqual(
      ids(await small.search(QUERIES[0] as string, { mode: 'lexical', k: 3 })),
    );
    await small.sync(staticCorpus(80).slice(40));
    const { dir: rebuilt } = await writeStaticFolder(small, STATIC_DIMS, 32);
    rmSync(folder, { recursive: true });
    renameSync(rebuilt, folder);
    const after = await openIndex({ encoder, url: own.url });
    expect(after.size).toBe(40);
    expect(await after.search(QUERIES[0] as string, { mode: 'lexical' })).toEqual(
      await small.search(QUERIES[0] as string, { mode: 'lexical' }),
    );
    for (const i of [before, after, small]) i.close();
    own.server.close();
  });

  it('refuses another model with an InputError naming both', async () => {
    const base = encoder.info() as { model: ModelInfo; backend: 'cpu' };
    const other: IndexEncoder = {
      embedDetailed: encoder.embedDetailed,
      info: () => ({ ...base, model: { ...base.model, id: 'other' } }),
    };
    const err = await rejection(openIndex({ encoder: other, url }));
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/"words-128".*"other"/);
  });

  it('opened without an encoder, ranks by words (by default) as the in-memory index does, and refuses vectors', async () => {
    const index = await createIndex({ url });
    expect(index.size).toBe(3000);
    for (const q of QUERIES.slice(0, 3))
      expect(await index.search(q, { k: 10 })).toEqual(await memory.search(q, { mode: 'lexical', k: 10 }));
    for (const mode of ['vector', 'hybrid'] as const) {
      const err = await rejection(index.search(QUERIES[0] as string, { mode }));
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(new RegExp(`mode '${mode}'.*opened without an encoder`));
    }
    // Bad options are still refused as with an encoder.
    expect(await rejection(index.search(QUERIES[0] as string, 'lexical' as never))).toBeInstanceOf(InputError);
    expect(await rejection(openIndex({ encoder: {} as IndexEncoder, url }))).toBeInstanceOf(InputError);
    index.close();
  });
});

describe('static index manifest', () => {
  it('refuses a folder written for other terms (an older format) with the command that rewrites it', () => {
    const manifest = (version: number) => new TextEncoder().encode(JSON.stringify({ format: 'm3web-static', version }));
    for (const version of [1, VERSION + 1]) {
      const err = (() => {
        try {
          parseManifest(manifest(version), 'https://h/a/index.json');
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(
        new RegExp(`format version ${version}, this m3web reads ${VERSION}.*m3web index --static`),
      );
    }
  });
});

describe('static index cache', () => {
  it("forgets a folder's files from other builds, and nothing else", async () => {
    const entries = new Map<string, Uint8Array>(
      [
        'old https://h/a/rows/00001.bin@3',
        'old https://h/a/coarse.bin',
        'new https://h/a/coarse.bin',
        'old https://h/a/sub/coarse.bin',
        'manifest https://h/a/index.json',
        'old https://h/b/coarse.bin',
      ].map((k) => [k, new Uint8Array(1)]),
    );
    const cache: FileCache = {
      get: async (k) => entries.get(k),
      set: async (es) => {
        for (const [k, v] of es) entries.set(k, v);
      },
      keys: async () => [...entries.keys()],
      delete: async (ks) => {
        for (const k of ks) entries.delete(k);
      },
    };
    await forgetOtherBuilds(cache, 'https://h/a/', 'new');
    expect([...entries.keys()]).toEqual([
      'new https://h/a/coarse.bin',
      'old https://h/a/sub/coarse.bin',
      'manifest https://h/a/index.json',
      'old https://h/b/coarse.bin',
    ]);
  });
});

describe('m3web index --static', { timeout: 120_000 }, () => {
  it('exits 2 for --no-ngrams without --static', async () => {
    const r = await m3web(['index', '--model', 'x', '--docs', 'd', '--out', 'o', '--no-ngrams'], '');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--no-ngrams needs --static/);
  });

  it('writes a folder that createIndex({ url }) searches through the engine, and prints tier sizes', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'm3web-static-cli-'));
    const docsFile = join(tmp, 'docs.jsonl');
    const texts = [
      'The cat sleeps on the sofa.',
      'Der Hund bellt im Garten.',
      'Rain is expected tomorrow.',
      'A cat chases the dog.',
    ];
    writeFileSync(docsFile, texts.map((text, i) => `${JSON.stringify({ id: `t${i}`, text, meta: { n: i } })}\n`).join(''));
    const out = join(tmp, 'site-index');
    const r = await m3web(
      ['index', '--static', '--model', 'test/oracle/fixtures/bert-tiny', '--docs', docsFile, '--out', out],
      '',
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/wrote .*site-index \(4 documents, .*coarse tier [\d.]+ MB .*postings [\d.]+ MB in \d+ shards/);
    expect(JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')).docs).toBe(4);
    const { server, url } = await serveStatic(out);
    const encoder = await createEncoder({ model: 'test/oracle/fixtures/bert-tiny', device: 'cpu' });
    try {
      const index = await createIndex({ encoder, url });
      expect(index.size).toBe(4);
      const [hit] = await index.search('cat sofa', { k: 1, mode: 'lexical' });
      expect(hit).toMatchObject({ id: 't0', meta: { n: 0 }, chunk: { index: 0, text: texts[0] } });
      const [vector] = await index.search(texts[1] as string, { k: 1, mode: 'vector' });
      expect(vector?.id).toBe('t1');
      expect((await index.stats()).fetched.bytes).toBeGreaterThan(0);
      expect(await rejection(index.add([{ id: 'x', text: 'y' }]))).toBeInstanceOf(InputError);
      index.close();
    } finally {
      await encoder.dispose();
      server.close();
    }
  });
});
