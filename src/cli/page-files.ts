import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { sectionsFromHtml } from '../search/pages/html-sections.js';
import { sectionsFromMarkdown } from '../search/pages/markdown-sections.js';
import type { SectionOptions } from '../search/pages/sections.js';
import type { IndexDoc } from '../search/types.js';
import { UsageError } from './args.js';

/** How `m3web index --docs` reads a page, by its file's extension. */
const PAGE_READERS: Record<string, (text: string, options: SectionOptions) => IndexDoc[]> = {
  '.md': sectionsFromMarkdown,
  '.markdown': sectionsFromMarkdown,
  '.html': sectionsFromHtml,
  '.htm': sectionsFromHtml,
};

export const isPageFile = (path: string): boolean => extname(path).toLowerCase() in PAGE_READERS;

/** Page files under `dir`, as paths relative to it, in code-unit order; hidden folders and node_modules left out. */
async function pageFiles(dir: string, under = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(join(dir, under), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const path = under ? `${under}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await pageFiles(dir, path)));
    else if (e.isFile() && isPageFile(e.name)) out.push(path);
  }
  return out;
}

/**
 * How a page file's path becomes the address its site serves it at. `path`: as the file is
 * named. `html`: a Markdown page as .html (Jekyll, VitePress). `clean`: no extension
 * (VitePress's cleanUrls, Docusaurus, hosts that drop .html). `folder`: a folder per page
 * (MkDocs, Hugo, Eleventy, Astro). In each, a folder's index page (index.html; for Markdown in
 * the last three also index.md, README.md and Hugo's _index.md) is the folder itself.
 */
export const URL_FORMS = ['path', 'html', 'clean', 'folder'] as const;
export type UrlForm = (typeof URL_FORMS)[number];

const MARKDOWN = /\.(md|markdown)$/i;

/** Where a site serves a page (URL_FORMS): 'guide/' for a folder's index page, './' at the root. */
export function pageUrl(path: string, form: UrlForm = 'path'): string {
  const folderIndex = form === 'path' ? /(^|\/)index\.html?$/i : /(^|\/)(index\.html?|(index|readme|_index)\.(md|markdown))$/i;
  if (folderIndex.test(path)) return path.replace(folderIndex, '$1') || './';
  if (form === 'html') return path.replace(MARKDOWN, '.html');
  if (form === 'clean') return path.replace(MARKDOWN, '').replace(/\.html?$/i, '');
  if (form === 'folder') return `${path.replace(MARKDOWN, '').replace(/\.html?$/i, '')}/`;
  return path;
}

/**
 * The sections of a site's pages as documents: every Markdown and HTML file under `root` (a
 * folder, or one page), each section's url the page's path relative to the folder ('/'-separated,
 * as the site serves it when the folder is its root, in the `urls` form: pageUrl) and the
 * section's anchor.
 */
export async function pageDocs(root: string, urls: UrlForm = 'path'): Promise<{ docs: IndexDoc[]; pages: number }> {
  const folder = (await stat(root)).isDirectory();
  // One page alone is served under its own name.
  const files = folder ? await pageFiles(root) : [basename(root)];
  const docs: IndexDoc[] = [];
  for (const file of files) {
    const read = PAGE_READERS[extname(file).toLowerCase()] as (typeof PAGE_READERS)[string];
    docs.push(...read(await readFile(folder ? join(root, file) : root, 'utf8'), { url: pageUrl(file, urls) }));
  }
  if (docs.length === 0) throw new UsageError(`${root} holds no Markdown (.md) or HTML (.html) page with text to index`);
  return { docs, pages: files.length };
}
