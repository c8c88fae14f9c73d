import { InputError, typeName } from '../../errors.js';
import type { IndexDoc } from '../types.js';
import { decodeEntities } from './entities.js';
import { checkSectionOptions, collapse, type PageInfo, type PageSection, type SectionOptions, sectionDocs } from './sections.js';

const FENCE = /^ {0,3}(\x60{3,}|~{3,})/;
const ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
/** A heading's explicit anchor, `{#id}` at its end (Pandoc, kramdown, MkDocs' attr_list, Hugo). */
const HEADING_ID = /\s*\{#([^\s}]+)[^}]*\}\s*$/;
/** `[label]: url "title"`: a link reference definition, which is not text. */
const REFERENCE = /^ {0,3}\[[^\]]+\]:\s*\S+(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*$/;
/** A table's delimiter row: `|---|:---:|`. */
const TABLE_RULE = /^ {0,3}\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$/;

/** Markdown's inline syntax read as the text a reader sees: links by their text, images by their alt, code and emphasis unmarked, HTML tags dropped. */
function inlineText(line: string): string {
  return decodeEntities(
    line
      .replace(/<!--[\s\S]*?-->/g, '')
      .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/!\[([^\]]*)\]\[[^\]]*\]/g, '$1')
      .replace(/\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)/g, '$1')
      .replace(/\[([^\]]+)\]\[[^\]]*\]/g, '$1')
      .replace(/<((?:https?|mailto):[^>\s]+)>/g, '$1')
      .replace(/<\/?[a-zA-Z][^>]*>/g, '')
      .replace(/(\x60+)(.+?)\1/g, '$2')
      .replace(/(\*\*|__)(?=\S)(.+?)(?<=\S)\1/g, '$2')
      .replace(/(^|[^\w*])\*(?=\S)(.+?)(?<=\S)\*(?!\*)/g, '$1$2')
      .replace(/(^|[^\p{L}\p{N}_])_(?=\S)(.+?)(?<=\S)_(?![\p{L}\p{N}_])/gu, '$1$2')
      .replace(/~~(?=\S)(.+?)(?<=\S)~~/g, '$1')
      .replace(/\\([!-/:-@[-\x60{-~])/g, '$1'),
  );
}

/** A line's block markers left out: quote marks, list bullets and numbers, table pipes. */
const blockText = (line: string) =>
  line
    .replace(/^ {0,3}(?:>\s?)+/, '')
    .replace(/^\s*(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?/, '')
    .replace(/^\s*\||\|\s*$/g, '')
    .replace(/\s\|\s/g, ' ');

/** The front matter's `title` and `lang` (YAML between `---` lines, or TOML between `+++`), and where the body starts. */
function frontMatter(lines: readonly string[]): PageInfo & { body: number } {
  const mark = lines[0]?.trim();
  const end = mark === '---' || mark === '+++' ? lines.findIndex((l, i) => i > 0 && l.trim() === mark) : -1;
  if (end < 0) return { title: '', lang: '', body: 0 };
  const field = (name: string) => {
    for (const l of lines.slice(1, end)) {
      const m = new RegExp(`^${name}\\s*[:=]\\s*(.*)$`).exec(l.trim());
      if (m) return collapse((m[1] as string).replace(/^(["'])(.*)\1$/, '$2'));
    }
    return '';
  };
  return { title: field('title'), lang: field('lang'), body: end + 1 };
}

function markdownSections(markdown: string, depth: number): { page: PageInfo; sections: PageSection[] } {
  const lines = markdown.replace(/\r\n?/g, '\n').split('\n');
  const front = frontMatter(lines);
  const sections: PageSection[] = [{ heading: '', level: 0, anchor: '', blocks: [] }];
  let paragraph: string[] = [];
  let fence: string | null = null;
  const current = () => sections[sections.length - 1] as PageSection;
  const endBlock = () => {
    const text = collapse(paragraph.join(' '));
    if (text) current().blocks.push(text);
    paragraph = [];
  };
  const startSection = (raw: string, level: number) => {
    const id = HEADING_ID.exec(raw);
    const heading = collapse(inlineText(id ? raw.slice(0, id.index) : raw));
    sections.push({ heading, level, anchor: id?.[1] ?? '', blocks: [] });
  };
  let last = '';
  for (const line of lines.slice(front.body)) {
    const previous = last;
    last = line;
    const fenced = FENCE.exec(line);
    if (fence !== null) {
      // Code is text too (names and identifiers are searched for), but never a heading.
      if (fenced && (fenced[1] as string)[0] === fence[0] && (fenced[1] as string).length >= fence.length) {
        fence = null;
        endBlock();
      } else paragraph.push(line);
      continue;
    }
    if (fenced) {
      endBlock();
      fence = fenced[1] as string;
      continue;
    }
    const atx = ATX.exec(line);
    if (atx) {
      endBlock();
      const text = atx[2] ?? '';
      const level = (atx[1] as string).length;
      if (level <= depth) startSection(text, level);
      else current().blocks.push(collapse(inlineText(text)));
      continue;
    }
    const setext = SETEXT.exec(line);
    if (setext && paragraph.length > 0) {
      const level = (setext[1] as string)[0] === '=' ? 1 : 2;
      const text = paragraph.join(' ');
      paragraph = [];
      endBlock();
      if (level <= depth) startSection(text, level);
      else current().blocks.push(collapse(inlineText(text)));
      continue;
    }
    if (line.trim() === '' || REFERENCE.test(line) || TABLE_RULE.test(line) || /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/.test(line)) {
      endBlock();
      continue;
    }
    // A list item, a table row or a quote is a block of its own.
    if (/^\s*(?:[-*+]|\d{1,9}[.)])\s/.test(line) || /^\s*\|/.test(line) || (/^ {0,3}>/.test(line) && !/^ {0,3}>/.test(previous)))
      endBlock();
    paragraph.push(inlineText(blockText(line)));
  }
  endBlock();
  const firstHeading = sections.find((s) => s.heading !== '')?.heading ?? '';
  return { page: { title: front.title || firstHeading, lang: front.lang }, sections };
}

/**
 * A Markdown page's sections as index documents (see sectionDocs): a section per ATX (`#`) or
 * setext heading of levels 1 to `depth`, anchored at its `{#id}` or GitHub's anchor of its
 * text; text without Markdown's syntax (links by their text, images by their alt, emphasis and
 * code unmarked, front matter, link definitions and table rules left out; fenced code kept as
 * text). The page title is the front matter's `title`, else the first heading; its language the front matter's `lang`.
 *
 * @example
 * sectionsFromMarkdown('# Tides\n\nThe sea rises.\n\n## Spring tides {#spring}\n\nAt **full** moon.', { url: 'tides.md' });
 * // [{ id: 'tides.md#tides', title: 'Tides', text: 'The sea rises.', meta: { url: 'tides.md#tides', page: 'tides.md' } },
 * //  { id: 'tides.md#spring', title: 'Tides › Spring tides', text: 'At full moon.', meta: { url: 'tides.md#spring', page: 'tides.md' } }]
 */
export function sectionsFromMarkdown(markdown: string, options: SectionOptions): IndexDoc[] {
  if (typeof markdown !== 'string')
    throw new InputError(`sectionsFromMarkdown: markdown must be a string, got ${typeName(markdown)}`);
  const { url, depth } = checkSectionOptions(options, 'sectionsFromMarkdown');
  const { page, sections } = markdownSections(markdown, depth);
  return sectionDocs(url, page, sections);
}
