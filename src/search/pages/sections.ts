import { InputError, typeName } from '../../errors.js';
import type { IndexDoc } from '../types.js';

/**
 * Documents from a site's pages: one per section (the text under a heading, down to the next
 * heading of that level or above), as site search shows them (Pagefind's sub-results): a hit
 * links to the section's anchor, and its title says the page and the heading.
 */
export interface SectionOptions {
  /** The page's address (a path such as 'docs/install.html'): each section's id and meta.url are it and the section's anchor. */
  url: string;
  /** Headings of levels 1 to `depth` start a section (default 3); deeper ones stay in their section's text. */
  depth?: number;
}

/** One heading's section of a page, parsed. */
export interface PageSection {
  /** The heading's text ('' for the text before the first heading). */
  heading: string;
  /** The heading's level, 1 to 6 (0 for the text before the first heading). */
  level: number;
  /** The heading's own anchor (an id in the page), or '' to derive one from its text. */
  anchor: string;
  /** The section's blocks (paragraphs, list items, ...), each whitespace-collapsed. */
  blocks: string[];
}

const DEFAULT_DEPTH = 3;

export function checkSectionOptions(options: unknown, where: string): Required<SectionOptions> {
  if (typeof options !== 'object' || options === null)
    throw new InputError(`${where}: options must be { url, depth? }, got ${typeName(options)}`);
  const o = options as Partial<SectionOptions>;
  if (typeof o.url !== 'string' || o.url.trim() === '')
    throw new InputError(`${where}: url must be a non-empty string (the page's address), got ${JSON.stringify(o.url)}`);
  const depth = o.depth ?? DEFAULT_DEPTH;
  if (!Number.isInteger(depth) || depth < 1 || depth > 6)
    throw new InputError(`${where}: depth must be an integer from 1 to 6, got ${JSON.stringify(o.depth)}`);
  return { url: o.url, depth };
}

/** Runs of whitespace as one space, trimmed. */
export const collapse = (text: string): string => text.replace(/\s+/gu, ' ').trim();

/**
 * GitHub's anchor for a heading: lower case, punctuation dropped (letters, marks, digits, '-' and
 * '_' of any script kept), spaces as '-'; a repeat gets -1, -2, ... as GitHub and most site
 * generators number them.
 */
export function anchorOf(heading: string, used: Map<string, number>): string {
  const base = heading
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\s_-]/gu, '')
    .trim()
    .replace(/\s/gu, '-');
  const n = used.get(base) ?? 0;
  used.set(base, n + 1);
  return n === 0 ? base : `${base}-${n}`;
}

/** What a page says of itself: its title, and its language where it names one (a BCP 47 tag). */
export interface PageInfo {
  title: string;
  lang: string;
}

/** Between the page's title and a section's headings in a section's title. */
export const TITLE_SEPARATOR = ' › ';

/**
 * The page's sections as documents: `{ id: 'url#anchor', title: 'Page › Heading', text, meta: {
 * url, page, pageTitle?, lang? } }` (`page` the page's address, `pageTitle` its title, so that a
 * search box can group hits by page); a section under a higher one is titled by both ('Page › Install ›
 * Troubleshooting'), so its title says where it sits; the text before the first heading is the
 * page's own (id and url the page's), and sections with no text of their own are left out (a
 * heading followed at once by a deeper one). A heading that repeats the page title (the page's h1)
 * is not said twice. `lang`, where the page names its language, lets a multilingual site filter
 * hits by it.
 */
export function sectionDocs(url: string, page: PageInfo, sections: readonly PageSection[]): IndexDoc[] {
  const pageTitle = page.title;
  const meta = { page: url, ...(pageTitle ? { pageTitle } : {}), ...(page.lang ? { lang: page.lang } : {}) };
  const used = new Map<string, number>();
  const docs: IndexDoc[] = [];
  /** The headings the section sits under, its own last. */
  const path: PageSection[] = [];
  for (const s of sections) {
    while (path.length && (path[path.length - 1] as PageSection).level >= s.level) path.pop();
    if (s.heading !== '') path.push(s);
    const anchor = s.heading === '' ? '' : s.anchor || anchorOf(s.heading, used);
    if (s.anchor) used.set(s.anchor, (used.get(s.anchor) ?? 0) + 1);
    const text = s.blocks.filter((b) => b !== '').join('\n');
    if (text === '') continue;
    const title = [pageTitle, ...path.map((h) => h.heading).filter((h) => h !== pageTitle)].filter(Boolean).join(TITLE_SEPARATOR);
    const id = anchor ? `${url}#${anchor}` : url;
    docs.push({ id, text, ...(title ? { title } : {}), meta: { url: id, ...meta } });
  }
  // Two sections with one anchor (an id repeated in the page) would be one document twice.
  const seen = new Map<string, number>();
  for (const d of docs) {
    const n = seen.get(d.id) ?? 0;
    seen.set(d.id, n + 1);
    if (n > 0) d.id = `${d.id}~${n}`;
  }
  return docs;
}
