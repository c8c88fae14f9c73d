import { describe, expect, it } from 'vitest';
import { PROXIMITY_WEIGHT, proximityFirst, wordPairs } from '../../src/search/proximity.js';
import { openIndex } from '../../src/search/search-index.js';
import { recordingEncoder } from '../support/recording-encoder.js';

// Neighbouring query words held side by side lift a hit within the k a search returns.

describe('proximity', () => {
  it("pairs a query's neighbouring words, folded, each once", () => {
    expect(wordPairs('New York, new York!')).toEqual(['new york', 'york new']);
    expect(wordPairs('one')).toEqual([]);
  });

  it('reorders the first k by BM25 plus the weight for each pair held, in the chunk or the title; the rest keep their place', async () => {
    const texts: Record<number, { chunk: string; title: string | undefined }> = {
      0: { chunk: 'a new shop in York', title: undefined },
      1: { chunk: 'pizza in New York', title: undefined },
      2: { chunk: 'nothing here', title: 'New York Times' },
      3: { chunk: 'New York again', title: undefined },
    };
    const list = [0, 1, 2, 3].map((row) => ({ id: `d${row}`, row, score: 10 - row }));
    const got = await proximityFirst(wordPairs('new york'), list, 3, async (row) => texts[row] as (typeof texts)[number]);
    expect(got.map((d) => d.id)).toEqual(['d1', 'd2', 'd0', 'd3']);
    expect(got[0]?.score).toBe(9 + PROXIMITY_WEIGHT);
    expect(got[3]?.score).toBe(7);
  });

  it('an index ranks the text holding the words side by side first, in lexical and hybrid search', async () => {
    const index = await openIndex({ encoder: recordingEncoder(), name: 'proximity', device: 'cpu' });
    await index.add([
      // BM25 alone ranks this first: both words twice, in fewer words.
      { id: 'apart', text: 'York has a new shop. York likes new things.' },
      { id: 'together', text: 'We flew to New York for a week of museums, parks, music and food with friends.' },
      { id: 'neither', text: 'Nothing to see here.' },
    ]);
    expect((await index.search('new york', { mode: 'lexical', k: 2 })).map((h) => h.id)).toEqual(['together', 'apart']);
    expect((await index.search('new york', { k: 2 }))[0]?.id).toBe('together');
    index.close();
  });
});
