import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { docHash } from '../../src/search/doc-hash.js';
import { LexicalIndex, TITLE_WEIGHT } from '../../src/search/lexical.js';
import { openIndex } from '../../src/search/search-index.js';
import type { IndexDoc, SearchHit } from '../../src/search/types.js';
import { recordingEncoder } from '../support/recording-encoder.js';
import { expectStaticLikeMemory } from '../support/static-folder.js';

// Titled documents (IndexDoc.title): each chunk is embedded behind the title, the title's words
// count TITLE_WEIGHT times in each chunk's BM25 terms, hits carry the title with its highlights,
// and a changed title is a changed document.

const marked = (t: { text: string; highlights: [number, number][] }) => t.highlights.map(([s, e]) => t.text.slice(s, e));

const manual = (n: number) =>
  Array.from({ length: n }, (_, i) => `Step ${i + 1} of the procedure turns the dial clockwise and waits.`).join(' ');

describe('titled documents', () => {
  it('embeds every chunk behind its title, stores and returns the chunks without it', async () => {
    const encoder = recordingEncoder();
    // 64 tokens a text: the long manual is cut into several chunks.
    const index = await openIndex({ encoder, name: 'titles-embed', device: 'cpu' });
    await index.add([
      { id: 'manual', title: 'Calibrating the oven', text: manual(12) },
      { id: 'plain', text: 'A note without a title.' },
    ]);
    const passages = encoder.calls.filter((c) => c.kind === 'passage').flatMap((c) => c.texts);
    const titled = passages.filter((t) => t.startsWith('Calibrating the oven\n'));
    expect(titled.length).toBeGreaterThan(2);
    expect(passages).toContain('A note without a title.');
    expect(passages).toHaveLength(titled.length + 1);

    const [hit] = await index.search('dial clockwise', { mode: 'lexical', k: 1 });
    expect(hit?.id).toBe('manual');
    expect(hit?.chunk.text).not.toContain('Calibrating');
    expect(titled).toContain(`Calibrating the oven\n${hit?.chunk.text}`);
    expect(hit?.title).toEqual({ text: 'Calibrating the oven', highlights: [] });
    const [byTitle] = await index.search('oven calibration', { mode: 'lexical', k: 1 });
    expect(byTitle?.id).toBe('manual');
    expect(marked(byTitle?.title as NonNullable<SearchHit['title']>)).toEqual(['Calibrating', 'oven']);
    const [untitled] = await index.search('note', { mode: 'lexical', k: 1 });
    expect(untitled?.id).toBe('plain');
    expect(untitled).not.toHaveProperty('title');
  });

  it('ranks a document titled with the query words above one whose text mentions them as often', async () => {
    const index = await openIndex({ encoder: recordingEncoder(), name: 'titles-rank', device: 'cpu' });
    const body = 'Lighthouses guided ships along the rocky coast for two centuries.';
    await index.add([
      { id: 'mentions', title: 'Coastal history', text: `${body} The keeper kept a logbook.` },
      { id: 'titled', title: 'Keeper logbook', text: `${body} The keeper kept notes.` },
    ]);
    const hits = await index.search('keeper logbook', { mode: 'lexical' });
    expect(hits.map((h) => h.id)).toEqual(['titled', 'mentions']);
    const untitled = await openIndex({ encoder: recordingEncoder(), name: 'titles-rank-2', device: 'cpu' });
    await untitled.add([
      { id: 'mentions', text: `${body} The keeper kept a logbook.` },
      { id: 'titled', text: `${body} The keeper kept notes.` },
    ]);
    // Without the titles the text that names both words wins: the title is what moved it.
    expect((await untitled.search('keeper logbook', { mode: 'lexical' }))[0]?.id).toBe('mentions');
  });

  it('counts a title TITLE_WEIGHT times in every chunk and forgets it on removal', () => {
    const titled = new LexicalIndex(false);
    titled.add(0, 'alpha beta', 'gamma');
    titled.add(1, 'alpha delta');
    const repeated = new LexicalIndex(false);
    repeated.add(0, `alpha beta${' gamma'.repeat(TITLE_WEIGHT)}`);
    repeated.add(1, 'alpha delta');
    for (const q of ['gamma', 'alpha', 'beta gamma delta']) expect(titled.top(q, 2, null)).toEqual(repeated.top(q, 2, null));

    // After a removal the title's terms no longer count: document frequencies as if it never was.
    titled.remove(0, 'alpha beta', 'gamma');
    titled.add(2, 'gamma epsilon');
    const fresh = new LexicalIndex(false);
    fresh.add(1, 'alpha delta');
    fresh.add(2, 'gamma epsilon');
    expect(titled.top('gamma alpha', 3, null)).toEqual(fresh.top('gamma alpha', 3, null));
  });

  it('embeds again a document whose title alone changed; an untitled one hashes as before titles', async () => {
    const encoder = recordingEncoder();
    const index = await openIndex({ encoder, name: 'titles-sync', device: 'cpu' });
    const docs: IndexDoc[] = [
      { id: 'a', title: 'First', text: 'Some text about rivers.' },
      { id: 'b', text: 'Other text about mountains.' },
    ];
    await index.add(docs);
    const passages = () => encoder.calls.filter((c) => c.kind === 'passage').flatMap((c) => c.texts);
    const before = passages().length;
    expect(await index.sync(docs)).toMatchObject({ unchanged: 2, embedded: 0 });
    expect(await index.sync([{ ...(docs[0] as IndexDoc), title: 'Renamed' }, docs[1] as IndexDoc])).toMatchObject({
      updated: 1,
      embedded: 1,
    });
    expect(passages().slice(before)).toEqual(['Renamed\nSome text about rivers.']);
    expect((await index.search('renamed', { mode: 'lexical' }))[0]?.title?.text).toBe('Renamed');
    expect(await index.search('first', { mode: 'lexical' })).toEqual([]);
    // Dropping the title is a change too.
    expect(await index.sync([{ id: 'a', text: 'Some text about rivers.' }, docs[1] as IndexDoc])).toMatchObject({
      embedded: 1,
    });

    expect(await docHash('text', 60, undefined)).toBe(await docHash('text', 60));
    expect(await docHash('text', 60, 'T')).not.toBe(await docHash('text', 60));
    expect(await docHash('B\u0000C', 60, 'A')).not.toBe(await docHash('C', 60, 'A\u0000B'));
  });

  it('cuts a long title to a quarter of the chunk budget for embedding, keeping all its words for BM25', async () => {
    const encoder = recordingEncoder();
    const index = await openIndex({ encoder, name: 'titles-long', device: 'cpu' });
    const title = Array.from({ length: 60 }, (_, i) => `heading${i}`).join(' ');
    await index.add([{ id: 'long', title, text: 'The body of a document with a very long title.' }]);
    const [embedded] = encoder.calls.filter((c) => c.kind === 'passage').flatMap((c) => c.texts);
    const head = (embedded as string).split('\n')[0] as string;
    expect(title.startsWith(head)).toBe(true);
    expect(head.length).toBeLessThan(title.length / 2);
    expect(embedded).toMatch(/\nThe body of a document with a very long title\.$/);
    expect((await index.search('heading59', { mode: 'lexical' }))[0]?.id).toBe('long');
  });

  it('refuses a title that is not a non-empty string', async () => {
    const index = await openIndex({ encoder: recordingEncoder(), name: 'titles-bad', device: 'cpu' });
    for (const title of [42, '', '   ', null, ['a']]) {
      await expect(index.add([{ id: 'x', text: 'text', title } as unknown as IndexDoc])).rejects.toThrow(InputError);
      await expect(index.add([{ id: 'x', text: 'text', title } as unknown as IndexDoc])).rejects.toThrow(/docs\[0\]\.title/);
    }
    expect(index.size).toBe(0);
  });

  it('keeps titles through export and import, and in a static folder, which ranks them as the index does', async () => {
    const encoder = recordingEncoder();
    const index = await openIndex({ encoder, name: 'titles-export', device: 'cpu' });
    await index.add([
      { id: 'oven', title: 'Calibrating the oven', text: manual(8), meta: { section: 'kitchen' } },
      { id: 'dial', title: 'The dial', text: 'Turn it slowly.' },
      { id: 'plain', text: 'An oven manual without a title mentions the dial once.' },
    ]);
    const copy = await openIndex({ encoder, name: 'titles-import', device: 'cpu' });
    await copy.import(await index.export());
    const queries = ['oven', 'dial', 'calibrating the dial', 'procedure clockwise'];
    for (const q of queries) expect(await copy.search(q, { k: 3 })).toEqual(await index.search(q, { k: 3 }));
    expect((await copy.search('calibrating', { mode: 'lexical' }))[0]?.title?.text).toBe('Calibrating the oven');

    const reranked = await index.search('dial', {
      k: 2,
      rerank: {
        reranker: {
          async rerank(_query, documents) {
            expect(documents.some((d) => d.startsWith('The dial\n'))).toBe(true);
            const scored = documents.map((d, i) => ({ index: i, score: d.startsWith('The dial\n') ? 1 : 0, truncated: false }));
            return scored.sort((a, b) => b.score - a.score);
          },
        },
      },
    });
    expect(reranked[0]?.id).toBe('dial');

    const manifest = await expectStaticLikeMemory(index, encoder as never, queries, ['lexical', 'vector', 'hybrid']);
    expect(manifest.docs).toBe(3);
  });
});
