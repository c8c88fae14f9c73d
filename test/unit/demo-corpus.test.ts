import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createEncoder, createIndex } from '../../src/client/client.js';
import { CORPUS_DOCS, CORPUS_INDEX, CORPUS_MODEL, corpusDocs } from '../../src/demo/corpus/build.js';
import { CORPUS_LANGUAGES } from '../../src/demo/corpus/languages.js';

/**
 * The playground imports a precomputed index instead of embedding 2,376 sentences on a visitor's
 * device. It must hold vectors of the model the site ships: after retraining, rerun
 * `npm run demo:corpus` or this fails.
 */
describe('the playground corpus export', { timeout: 120_000 }, () => {
  it('holds every corpus sentence, embedded by the bundled model', async () => {
    const docs = await corpusDocs();
    expect(docs).toHaveLength(99 * Object.keys(CORPUS_LANGUAGES).length);
    // The JSON-lines copy other models embed on the page: the same documents.
    const lines = readFileSync(CORPUS_DOCS, 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l))).toEqual(docs);
    const encoder = await createEncoder({ model: CORPUS_MODEL, device: 'cpu' });
    try {
      const index = await createIndex({ encoder, name: 'corpus', vector: 'int8', symmetric: true });
      await index.import(new Uint8Array(readFileSync(CORPUS_INDEX)));
      expect(index.size).toBe(docs.length);
      for (const doc of [docs[0], docs[500], docs[1200], docs.at(-1)]) {
        const [hit] = await index.search(doc?.text as string, { k: 1, exact: true, mode: 'vector' });
        expect(hit?.id).toBe(doc?.id);
        expect(hit?.meta).toEqual(doc?.meta);
        expect(hit?.score).toBeGreaterThan(0.98);
      }
      index.close();
    } finally {
      await encoder.dispose();
    }
  });
});
