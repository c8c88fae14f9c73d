import { type IndexDoc, InputError, sectionsFromHtml, sectionsFromMarkdown } from '../index.js';

/** The files the search panel takes as your own documents. */
export const OWN_DOC_TYPES = '.md,.markdown,.html,.htm,.txt,.jsonl';

/** JSON Lines of documents ({ id, text, title?, meta? }); the index checks each one's fields. */
function jsonLines(text: string, file: string): IndexDoc[] {
  return text.split('\n').flatMap((line, i) => {
    if (!line.trim()) return [];
    try {
      return [JSON.parse(line) as IndexDoc];
    } catch {
      throw new InputError(`${file} line ${i + 1} is not JSON (one document per line: {"id", "text", "title"?, "meta"?})`);
    }
  });
}

/**
 * Picked files as documents: Markdown and HTML pages cut into a document per section (as
 * `m3web index --docs` cuts a site), a text file one document titled by its name, JSON Lines
 * a document per line; other files (a picked folder's images, styles, scripts) are left out. A
 * file picked from a folder is named by its path in it.
 */
export async function docsFromFiles(files: readonly File[]): Promise<{ docs: IndexDoc[]; read: number }> {
  const docs: IndexDoc[] = [];
  const types = OWN_DOC_TYPES.split(',');
  let read = 0;
  for (const file of files) {
    const url = file.webkitRelativePath || file.name;
    const ext = url.slice(url.lastIndexOf('.')).toLowerCase();
    // A folder holds other files too (images, styles): only documents are read.
    if (!types.includes(ext)) continue;
    read++;
    const text = await file.text();
    if (ext === '.md' || ext === '.markdown') docs.push(...sectionsFromMarkdown(text, { url }));
    else if (ext === '.html' || ext === '.htm') docs.push(...sectionsFromHtml(text, { url }));
    else if (ext === '.jsonl') docs.push(...jsonLines(text, url));
    else if (text.trim()) docs.push({ id: url, title: file.name.replace(/\.[^.]*$/, ''), text, meta: { url, page: url } });
  }
  if (docs.length === 0) throw new InputError(`the files hold no text to index (${OWN_DOC_TYPES.replaceAll(',', ', ')})`);
  return { docs, read };
}
