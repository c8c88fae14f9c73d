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

/** Where a site serves a page: its path, a folder's index.html as the folder itself ('guide/', './' at the root). */
export const pageUrl = (path: string): string => path.replace(/(^|\/)index\.html?$/i, '$1') || './';

/**
 * The sections of a site's pages as documents: every Markdown and HTML file under `root` (a
 * folder, or one page), each section's url the page's path relative to the folder ('/'-separated,
 * as the site serves it when the folder is its root: pageUrl) and the section's anchor.
 */
export async function pageDocs(root: string): Promise<{ docs: IndexDoc[]; pages: number }> {
  const folder = (await stat(root)).isDirectory();
  // One page alone is served under its own name.
  const files = folder ? await pageFiles(root) : [basename(root)];
  const docs: IndexDoc[] = [];
  for (const file of files) {
    const read = PAGE_READERS[extname(file).toLowerCase()] as (typeof PAGE_READERS)[string];
    docs.push(...read(await readFile(folder ? join(root, file) : root, 'utf8'), { url: pageUrl(file) }));
  }
  if (docs.length === 0) throw new UsageError(`${root} holds no Markdown (.md) or HTML (.html) page with text to index`);
  return { docs, pages: files.length };
}
