import { InputError, typeName } from '../../errors.js';
import type { IndexDoc } from '../types.js';
import { decodeEntities } from './entities.js';
import { checkSectionOptions, collapse, type PageInfo, type PageSection, type SectionOptions, sectionDocs } from './sections.js';

/**
 * Elements whose content is not the page's text: code and styles, and a site's chrome around
 * the content (navigation, header, footer, sidebars, forms), which repeats on every page and
 * would make every page match the site's menu words.
 */
const SKIPPED = new Set([
  'script',
  'style',
  'noscript',
  'template',
  'svg',
  'math',
  'iframe',
  'object',
  'canvas',
  'nav',
  'header',
  'footer',
  'aside',
  'form',
  'button',
  'select',
  'textarea',
  'dialog',
]);
/** Elements with no end tag. */
const VOID = new Set([
  'area',
  'base',
  'br',
  'col',
  'embed',
  'hr',
  'img',
  'input',
  'link',
  'meta',
  'param',
  'source',
  'track',
  'wbr',
]);
/** Elements that end a block of text (a line in the section's text); inline ones run on. */
const BLOCK = new Set([
  'address',
  'article',
  'blockquote',
  'br',
  'dd',
  'details',
  'div',
  'dl',
  'dt',
  'figcaption',
  'figure',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
  'li',
  'main',
  'ol',
  'p',
  'pre',
  'section',
  'summary',
  'table',
  'tr',
  'ul',
]);

/** What marks an element, and its subtree, as left out of the index: the attribute Pagefind's users know, and m3web's own. */
const IGNORE_ATTRS = /\sdata-(?:m3web|pagefind)-ignore\b|\shidden(?:\s|=|$)/i;

const TOKEN =
  /<!--[\s\S]*?(?:-->|$)|<!\[CDATA\[[\s\S]*?(?:\]\]>|$)|<[!?][^>]*>?|<(\/?)([a-zA-Z][a-zA-Z0-9:-]*)((?:"[^"]*"|'[^']*'|[^'">])*)>|[^<]+|</g;

const attr = (attrs: string, name: string): string => {
  const m = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s"'>]+))`, 'i').exec(attrs);
  return m ? decodeEntities(m[1] ?? m[2] ?? m[3] ?? '').trim() : '';
};

/** A start tag marking the element that holds the page's content (Pagefind's attribute, or m3web's own). */
const BODY_MARK =
  /<([a-zA-Z][a-zA-Z0-9-]*)\s(?:"[^"]*"|'[^']*'|[^'">])*?\bdata-(?:m3web|pagefind)-body\b(?:"[^"]*"|'[^']*'|[^'">])*>/i;

/** The content of the element marked `data-m3web-body` (or `data-pagefind-body`), to its matching end tag; null where none is marked. */
function markedContent(html: string): string | null {
  const start = BODY_MARK.exec(html);
  if (!start) return null;
  const name = (start[1] as string).toLowerCase();
  const from = start.index + start[0].length;
  let open = 1;
  for (const m of html.slice(from).matchAll(TOKEN)) {
    if (m[2]?.toLowerCase() !== name || (m[3] ?? '').trimEnd().endsWith('/')) continue;
    open += m[1] ? -1 : 1;
    if (open === 0) return html.slice(from, from + (m.index as number));
  }
  return html.slice(from);
}

/** The element `name`'s content: from its first start tag to its last end tag (nesting of one kind is rare enough). */
function inner(html: string, name: string): string | null {
  const start = new RegExp(`<${name}(?:\\s(?:"[^"]*"|'[^']*'|[^'">])*)?>`, 'i').exec(html);
  if (!start) return null;
  const from = start.index + start[0].length;
  const end = html.toLowerCase().lastIndexOf(`</${name}>`);
  return html.slice(from, end >= from ? end : undefined);
}

/**
 * A page's sections from its HTML, read without a DOM (pages, workers and Node alike): the
 * content of the element marked `data-m3web-body` (or Pagefind's `data-pagefind-body`), else of
 * `<main>` where the page has one, else of `<body>`; a section per `<h1>`-`<h{depth}>`,
 * anchored at the heading's id (or that of an `<a id | name>` inside it); text from the blocks,
 * whitespace collapsed outside `<pre>`; script, style, navigation, header, footer, sidebars,
 * forms and elements marked `data-m3web-ignore` (or Pagefind's `data-pagefind-ignore`, or
 * `hidden`) left out. The page title is its first `<h1>` (as Pagefind takes it: `<title>` tends to
 * carry the site's name too), else `<title>`; its language `<html lang>`.
 */
function htmlSections(html: string, depth: number): { page: PageInfo; sections: PageSection[] } {
  const titleTag = inner(html, 'title');
  const content = markedContent(html) ?? inner(html, 'main') ?? inner(html, 'body') ?? html;
  const sections: PageSection[] = [{ heading: '', level: 0, anchor: '', blocks: [] }];
  let line = '';
  let pre = 0;
  let skipping: { name: string; depth: number } | null = null;
  let heading: { level: number; text: string; anchor: string } | null = null;
  let h1 = '';
  const current = () => sections[sections.length - 1] as PageSection;
  const endBlock = () => {
    const text = pre ? line.replace(/^\n+|\s+$/g, '') : collapse(line);
    if (text) current().blocks.push(text);
    line = '';
  };
  for (const m of content.matchAll(TOKEN)) {
    const [token, slash, rawName, attrs = ''] = m;
    const name = rawName?.toLowerCase();
    if (skipping) {
      if (name === skipping.name && !VOID.has(name)) skipping.depth += slash ? -1 : attrs.trimEnd().endsWith('/') ? 0 : 1;
      if (skipping.depth === 0) skipping = null;
      continue;
    }
    if (name === undefined) {
      if (token.startsWith('<!') || token.startsWith('<?')) continue;
      const text = decodeEntities(token);
      if (heading) heading.text += text;
      else line += text;
      continue;
    }
    if (!slash && (SKIPPED.has(name) || IGNORE_ATTRS.test(attrs)) && !VOID.has(name)) {
      if (!attrs.trimEnd().endsWith('/')) skipping = { name, depth: 1 };
      continue;
    }
    const level = /^h([1-6])$/.exec(name);
    if (level && Number(level[1]) <= depth) {
      if (!slash) {
        endBlock();
        heading = { level: Number(level[1]), text: '', anchor: attr(attrs, 'id') };
      } else if (heading) {
        const text = collapse(heading.text);
        if (heading.level === 1 && !h1) h1 = text;
        sections.push({ heading: text, level: heading.level, anchor: heading.anchor, blocks: [] });
        heading = null;
      }
      continue;
    }
    if (heading) {
      if (name === 'a' && !slash && !heading.anchor) heading.anchor = attr(attrs, 'id') || attr(attrs, 'name');
      continue;
    }
    if (name === 'pre') {
      endBlock();
      pre += slash ? -1 : 1;
      pre = Math.max(0, pre);
      continue;
    }
    if (BLOCK.has(name)) endBlock();
    // Table cells run on in their row's line, apart.
    else if (name === 'td' || name === 'th') line += ' ';
  }
  endBlock();
  const tagTitle = titleTag === null ? '' : collapse(decodeEntities(titleTag.replace(/<[^>]*>/g, '')));
  const lang = /<html\s(?:"[^"]*"|'[^']*'|[^'">])*>/i.exec(html);
  return { page: { title: h1 || tagTitle, lang: lang ? attr(lang[0].slice(5, -1), 'lang') : '' }, sections };
}

/**
 * A page's sections as index documents (see sectionDocs): for a site's built pages (what
 * `m3web index --docs site/` reads) or a page indexing its own.
 *
 * @example
 * sectionsFromHtml('<h1>Install</h1><p>Run it.</p><h2 id="apt">With apt</h2><p>apt-get install acme</p>', { url: 'install.html' });
 * // [{ id: 'install.html#install', title: 'Install', text: 'Run it.', meta: { url: 'install.html#install', page: 'install.html' } },
 * //  { id: 'install.html#apt', title: 'Install › With apt', text: 'apt-get install acme', meta: { url: 'install.html#apt', page: 'install.html' } }]
 * await index.add(sectionsFromHtml(document.documentElement.outerHTML, { url: location.pathname }));
 */
export function sectionsFromHtml(html: string, options: SectionOptions): IndexDoc[] {
  if (typeof html !== 'string') throw new InputError(`sectionsFromHtml: html must be a string, got ${typeName(html)}`);
  const { url, depth } = checkSectionOptions(options, 'sectionsFromHtml');
  const { page, sections } = htmlSections(html, depth);
  return sectionDocs(url, page, sections);
}
