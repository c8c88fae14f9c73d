import { type Highlight, type SearchHit, TITLE_SEPARATOR } from '../index.js';

/** Hits of one page, as a site's search shows them: the page once, its matching sections under it. */
export interface PageGroup {
  /** The page's address (`meta.page`), or the hit's id for a document that is no page's section. */
  page: string;
  /** The page's title (`meta.pageTitle`), where the hits are sections of a titled page. */
  title?: string;
  /** The page's hits in rank order; the group stands where its best hit ranked. */
  hits: SearchHit[];
}

/**
 * Hits grouped by the page they are sections of (sectionsFromHtml / sectionsFromMarkdown put the
 * page's address and title in each section's meta), pages in the order of their best hit, so
 * that three sections of one page read as one result with three places in it. A hit of a
 * document that is no page's section is a group of its own.
 */
export function groupByPage(hits: readonly SearchHit[]): PageGroup[] {
  const groups = new Map<string, PageGroup>();
  for (const hit of hits) {
    const page = typeof hit.meta.page === 'string' ? hit.meta.page : null;
    const key = page === null ? `\u0000${hit.id}` : page;
    const group = groups.get(key);
    if (group) {
      group.hits.push(hit);
      continue;
    }
    const title = page !== null && typeof hit.meta.pageTitle === 'string' ? hit.meta.pageTitle : undefined;
    groups.set(key, { page: page ?? hit.id, ...(title ? { title } : {}), hits: [hit] });
  }
  return [...groups.values()];
}

/**
 * What a hit is called under its page's title: its own title less the page's ('Install ›
 * Troubleshooting' under 'Acme guide'), its highlights moved with it; the page's text before its
 * first heading keeps the page's title. Without a title, the hit's id.
 */
export function sectionTitle(hit: SearchHit, pageTitle?: string): { text: string; highlights: Highlight[] } {
  if (!hit.title) return { text: hit.id, highlights: [] };
  const lead = pageTitle ? `${pageTitle}${TITLE_SEPARATOR}` : '';
  if (!lead || !hit.title.text.startsWith(lead)) return hit.title;
  const cut = lead.length;
  return {
    text: hit.title.text.slice(cut),
    highlights: hit.title.highlights.filter(([s]) => s >= cut).map(([s, e]): Highlight => [s - cut, e - cut]),
  };
}
