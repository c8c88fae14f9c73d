import { describe, expect, it } from 'vitest';
import { openIndex } from '../../src/search/search-index.js';
import type { IndexDoc, IndexEncoder } from '../../src/search/types.js';
import type { EmbedOptions, EmbedResult } from '../../src/types.js';
import { modelInfo } from '../support/model-info.js';

// Incremental indexing: upsert and sync embed only what changed, by content hash; a model
// republished under the same id (another weights fingerprint) is not mixed with the old one.

function countingEncoder(fingerprint?: string): IndexEncoder & { embedded: string[] } {
  const embedded: string[] = [];
  const model = modelInfo({ id: 'counting', ...(fingerprint ? { fingerprint } : {}) });
  return {
    embedded,
    info: () => ({ model, backend: 'cpu' }),
    async embedDetailed(texts: string[], options?: EmbedOptions): Promise<EmbedResult> {
      if (options?.kind === 'passage') embedded.push(...texts);
      const vectors = texts.map((t) => {
        const v = Float32Array.from({ length: 8 }, (_, i) => Math.sin((t.length + 1) * (i + 1)) + 1e-3);
        const n = Math.hypot(...v);
        return v.map((x) => x / n);
      });
      return { vectors, tokens: texts.map(() => 4), truncated: texts.map(() => false), layers: texts.map(() => 2) };
    },
  };
}

const corpus = (n: number, edit = (i: number) => `document number ${i} about topic ${i % 17}`): IndexDoc[] =>
  Array.from({ length: n }, (_, i) => ({ id: `d${i}`, text: edit(i), meta: { group: i % 5 } }));

describe('sync and upsert', () => {
  it('sync on 10,000 documents with 1% changed re-embeds only the changed ones', async () => {
    const encoder = countingEncoder();
    const index = await openIndex({ encoder, name: 'sync', device: 'cpu' });
    expect(await index.sync(corpus(10_000))).toEqual({ added: 10_000, updated: 0, removed: 0, unchanged: 0, embedded: 10_000 });
    encoder.embedded.length = 0;
    const next = corpus(10_000, (i) =>
      i % 100 === 7 ? `rewritten document ${i}` : `document number ${i} about topic ${i % 17}`,
    );
    expect(await index.sync(next)).toEqual({ added: 0, updated: 100, removed: 0, unchanged: 9_900, embedded: 100 });
    expect(encoder.embedded).toHaveLength(100);
    expect(encoder.embedded.every((t) => t.startsWith('rewritten'))).toBe(true);
    const hits = await index.search('rewritten document 107', { k: 1, mode: 'lexical' });
    expect(hits[0]?.id).toBe('d107');
  });

  it('sync adds, updates meta without embedding, and removes what is not given', async () => {
    const encoder = countingEncoder();
    const index = await openIndex({ encoder, name: 'sync-2', device: 'cpu' });
    await index.add(corpus(5));
    encoder.embedded.length = 0;
    const docs = corpus(5).slice(1);
    (docs[0] as IndexDoc).meta = { group: 'moved' };
    docs.push({ id: 'new', text: 'a new document' });
    expect(await index.sync(docs)).toEqual({ added: 1, updated: 1, removed: 1, unchanged: 3, embedded: 1 });
    expect(encoder.embedded).toEqual(['a new document']);
    expect(index.size).toBe(5);
    const [hit] = await index.search('document number 1', { k: 1, mode: 'lexical', filter: { group: 'moved' } });
    expect(hit?.id).toBe('d1');
    expect(await index.sync([])).toMatchObject({ removed: 5 });
    expect(index.size).toBe(0);
  });

  it('upsert of unchanged text embeds nothing; changed text is embedded again', async () => {
    const encoder = countingEncoder();
    const index = await openIndex({ encoder, name: 'upsert', device: 'cpu' });
    await index.add(corpus(3));
    encoder.embedded.length = 0;
    await index.upsert(corpus(3));
    expect(encoder.embedded).toEqual([]);
    await index.upsert([{ id: 'd2', text: 'changed text', meta: { group: 2 } }]);
    expect(encoder.embedded).toEqual(['changed text']);
    expect(index.size).toBe(3);
  });

  it('an index built with other weights under the same id needs a rebuild, and says so', async () => {
    const built = await openIndex({ encoder: countingEncoder('aaaa1111'), name: 'weights', device: 'cpu' });
    await built.add(corpus(3));
    const data = await built.export();
    const other = await openIndex({ encoder: countingEncoder('bbbb2222'), name: 'weights-2', device: 'cpu' });
    await expect(other.import(data)).rejects.toThrow(/weights aaaa1111.*weights bbbb2222/);
    expect(other.needsRebuild).toBe(false);
  });
});
