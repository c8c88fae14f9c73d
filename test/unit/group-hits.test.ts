import { describe, expect, it } from 'vitest';
import type { Meta, SearchHit } from '../../src/index.js';
import { groupByPage, sectionTitle } from '../../src/ui/group-hits.js';

const hit = (id: string, meta: Meta, title?: SearchHit['title']): SearchHit => ({
  id,
  score: 1,
  ranks: { lexical: 1 },
  meta,
  chunk: { index: 0, text: 't', highlights: [] },
  ...(title ? { title } : {}),
});

describe('hits grouped by page', () => {
  it('puts a page where its best hit ranked, its sections in rank order; other documents alone', () => {
    const hits = [
      hit('a.html#x', { page: 'a.html', pageTitle: 'A' }),
      hit('doc-1', {}),
      hit('b.html#y', { page: 'b.html' }),
      hit('a.html', { page: 'a.html', pageTitle: 'A' }),
      hit('doc-2', { page: 7 }),
      hit('b.html#z', { page: 'b.html' }),
    ];
    expect(groupByPage(hits).map((g) => [g.page, g.title, g.hits.map((h) => h.id)])).toEqual([
      ['a.html', 'A', ['a.html#x', 'a.html']],
      ['doc-1', undefined, ['doc-1']],
      ['b.html', undefined, ['b.html#y', 'b.html#z']],
      ['doc-2', undefined, ['doc-2']],
    ]);
    // A document whose id is some page's address is still not that page's section.
    expect(groupByPage([hit('a.html', {}), hit('x', { page: 'a.html' })])).toHaveLength(2);
  });

  it('titles a section under its page without the page, its marks moved with it', () => {
    const h = hit(
      'a#i',
      {},
      {
        text: 'Acme guide › Install › Apt',
        highlights: [
          [0, 4],
          [13, 20],
          [23, 26],
        ],
      },
    );
    expect(sectionTitle(h, 'Acme guide')).toEqual({
      text: 'Install › Apt',
      highlights: [
        [0, 7],
        [10, 13],
      ],
    });
    expect(sectionTitle(h)).toEqual(h.title);
    expect(sectionTitle(h, 'Other')).toEqual(h.title);
    // The page's own text before its first heading: the page's title.
    const intro = hit('a', {}, { text: 'Acme guide', highlights: [[0, 4]] });
    expect(sectionTitle(intro, 'Acme guide')).toEqual(intro.title);
    expect(sectionTitle(hit('plain', {}), 'Acme guide')).toEqual({ text: 'plain', highlights: [] });
  });
});
