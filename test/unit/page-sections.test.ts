import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pageDocs, pageUrl, type UrlForm } from '../../src/cli/page-files.js';
import { InputError, sectionsFromHtml, sectionsFromMarkdown } from '../../src/index.js';
import { decodeEntities } from '../../src/search/pages/entities.js';
import { anchorOf } from '../../src/search/pages/sections.js';
import { openIndex } from '../../src/search/search-index.js';
import { recordingEncoder } from '../support/recording-encoder.js';

// A site's pages as documents: one per section, titled "Page › Heading", linking to its anchor.

const HTML = `<!doctype html><html><head><title>Install &middot; Acme Docs</title><style>h2{color:red}</style></head>
<body><header><nav><a href="/">Home</a> <a href="/docs">Docs</a></nav></header>
<main><h1>Install</h1><p>Acme runs on <b>Linux</b> and mac&shy;OS.</p>
<h2 id="req">Requirements</h2><ul><li>Node 20</li><li>4&nbsp;GB RAM</li></ul>
<div data-pagefind-ignore><p>Ad: <div>buy</div> more</p></div><p hidden>Secret</p>
<h2><a name="apt"></a>With apt <small>(Debian)</small></h2><pre><code>apt-get install acme
acme --version</code></pre><table><tr><th>OS</th><th>Package</th></tr><tr><td>Debian</td><td>acme</td></tr></table>
<h3>Troubleshooting</h3><h4>Errors</h4><p>See the log.<br>Or &#x1F600; ask.</p><script>var x = "<h2>no</h2>";</script>
<h2>Requirements</h2><p>Again.</p><!-- <h2>Commented</h2> --></main><footer>© 2026 Acme</footer></body></html>`;

const MARKDOWN = `---
title: "Getting started"
layout: page
---
Intro with a [link](https://x.y/a_(b)) and ![logo](l.png) and \`code\` and **bold** and snake_case_word.

# Getting started

## Install {#setup}
Run:
\`\`\`sh
# not a heading
npm i m3web
\`\`\`
| a | b |
|---|---|
| 1 | 2 |

Setext heading
--------------
- item *one*
- [x] item two
> quoted _text_

[ref]: https://example.com
#### Deep heading
deep text
## Ünïcode Heading!
text &amp; more
## Empty
### Empty
Under the second.
`;

const doc = (url: string, anchor: string, title: string, text: string, lang?: string) => {
  const id = anchor ? `${url}#${anchor}` : url;
  const pageTitle = title.split(' › ')[0];
  return { id, title, text, meta: { url: id, page: url, pageTitle, ...(lang ? { lang } : {}) } };
};

describe('sections of pages', () => {
  it('reads an HTML page: main content only, a document per h1-h3, anchored at ids or at the heading text', () => {
    const url = 'docs/install.html';
    expect(sectionsFromHtml(HTML, { url })).toEqual([
      doc(url, 'install', 'Install', 'Acme runs on Linux and macOS.'),
      doc(url, 'req', 'Install › Requirements', 'Node 20\n4\u00a0GB RAM'.replace('\u00a0', ' ')),
      doc(url, 'apt', 'Install › With apt (Debian)', 'apt-get install acme\nacme --version\nOS Package\nDebian acme'),
      doc(url, 'troubleshooting', 'Install › With apt (Debian) › Troubleshooting', 'Errors\nSee the log.\nOr 😀 ask.'),
      doc(url, 'requirements', 'Install › Requirements', 'Again.'),
    ]);
    // depth 1: only h1 starts a section; the other headings are text.
    const [whole, ...rest] = sectionsFromHtml(HTML, { url, depth: 1 });
    expect(rest).toEqual([]);
    expect(whole?.text).toMatch(/^Acme runs on Linux and macOS\.\nRequirements\nNode 20\n/);
    // A marked content element wins over <main>, nested elements of its kind included.
    const marked =
      '<main><h1>Site</h1><div class="x" data-pagefind-body><h2>Inside</h2><div><p>Deep.</p></div><p>After.</p></div><p>Outside.</p></main>';
    // Nor a page title there (the h1 is outside it, no <title>): the meta says none.
    const inside = doc('m.html', 'inside', 'Inside', 'Deep.\nAfter.');
    expect(sectionsFromHtml(marked, { url: 'm.html' })).toEqual([{ ...inside, meta: { url: inside.id, page: 'm.html' } }]);
    // No <main>: the body, less its chrome; no <h1>: the <title>; the page's language in each section's meta.
    const bare =
      '<html class="x" lang="de-CH"><title>T &amp; U</title><body><nav>menu</nav><p>Body text.</p><h2 id="x">Part</h2><p>More.</p></body></html>';
    expect(sectionsFromHtml(bare, { url: 'b.html' })).toEqual([
      doc('b.html', '', 'T & U', 'Body text.', 'de-CH'),
      doc('b.html', 'x', 'T & U › Part', 'More.', 'de-CH'),
    ]);
  });

  it('reads a Markdown page: front matter title, ATX and setext headings, {#id}, the syntax left out', () => {
    const url = 'start.md';
    expect(sectionsFromMarkdown(MARKDOWN, { url })).toEqual([
      doc(url, '', 'Getting started', 'Intro with a link and logo and code and bold and snake_case_word.'),
      doc(url, 'setup', 'Getting started › Install', 'Run:\n# not a heading npm i m3web\na b\n1 2'),
      doc(url, 'setext-heading', 'Getting started › Setext heading', 'item one\nitem two\nquoted text\nDeep heading\ndeep text'),
      doc(url, 'ünïcode-heading', 'Getting started › Ünïcode Heading!', 'text & more'),
      doc(url, 'empty-1', 'Getting started › Empty › Empty', 'Under the second.'),
    ]);
    expect(sectionsFromMarkdown('+++\ntitle = "Über"\nlang = "de"\n+++\nText.', { url: 'u.md' })).toEqual([
      doc('u.md', '', 'Über', 'Text.', 'de'),
    ]);
    // No front matter: the first heading is the page's title.
    expect(sectionsFromMarkdown('# Title\nText.\n## Part\nMore.', { url: 'p.md' })).toEqual([
      doc('p.md', 'title', 'Title', 'Text.'),
      doc('p.md', 'part', 'Title › Part', 'More.'),
    ]);
    expect(sectionsFromMarkdown('# Only a heading\n', { url: 'e.md' })).toEqual([]);
  });

  it('makes GitHub anchors, numbering repeats, and reads character references', () => {
    const used = new Map<string, number>();
    expect(
      ['Hello, World!', 'Hello World', 'hello world', 'C++ & Rust', 'Größe  der Dinge'].map((h) => anchorOf(h, used)),
    ).toEqual(['hello-world', 'hello-world-1', 'hello-world-2', 'c--rust', 'größe--der-dinge']);
    expect(decodeEntities('a &amp; b &lt;c&gt; &#233;&#xE9; &bogus; &#0; &#xD800; &nbsp;')).toBe(
      'a & b <c> éé &bogus; &#0; &#xD800; \u00a0',
    );
  });

  it('refuses what is not a page and options without a url', () => {
    expect(() => sectionsFromHtml(42 as unknown as string, { url: 'a' })).toThrow(InputError);
    expect(() => sectionsFromMarkdown('# x\ny', {} as { url: string })).toThrow(/url must be a non-empty string/);
    expect(() => sectionsFromMarkdown('# x\ny', { url: 'a', depth: 7 })).toThrow(/depth must be an integer from 1 to 6/);
    expect(() => sectionsFromHtml('<p>x</p>', null as unknown as { url: string })).toThrow(InputError);
  });

  it('reads a folder of pages for m3web index; an index of them finds a section by its page and heading', async () => {
    const site = mkdtempSync(join(tmpdir(), 'm3web-site-'));
    mkdirSync(join(site, 'docs'));
    mkdirSync(join(site, '.git'));
    mkdirSync(join(site, 'node_modules'));
    writeFileSync(join(site, 'docs', 'install.html'), HTML);
    writeFileSync(join(site, 'start.md'), MARKDOWN);
    writeFileSync(join(site, 'notes.txt'), 'not a page');
    writeFileSync(join(site, '.git', 'x.md'), '# hidden\ntext');
    writeFileSync(join(site, 'node_modules', 'y.md'), '# module\ntext');
    const { docs, pages } = await pageDocs(site);
    expect(pages).toBe(2);
    expect(docs.map((d) => d.id)).toEqual([
      ...sectionsFromHtml(HTML, { url: 'docs/install.html' }).map((d) => d.id),
      ...sectionsFromMarkdown(MARKDOWN, { url: 'start.md' }).map((d) => d.id),
    ]);
    expect((await pageDocs(join(site, 'start.md'))).docs[0]?.id).toBe('start.md');
    const paths = [
      'index.html',
      'guide/index.html',
      'guide/INDEX.HTM',
      'guide/reindex.html',
      'a.md',
      'g/README.md',
      'g/i.markdown',
      'g/x.html',
    ];
    const urls = (form: UrlForm) => paths.map((p) => pageUrl(p, form));
    expect(urls('path')).toEqual([
      './',
      'guide/',
      'guide/',
      'guide/reindex.html',
      'a.md',
      'g/README.md',
      'g/i.markdown',
      'g/x.html',
    ]);
    expect(urls('html')).toEqual(['./', 'guide/', 'guide/', 'guide/reindex.html', 'a.html', 'g/', 'g/i.html', 'g/x.html']);
    expect(urls('clean')).toEqual(['./', 'guide/', 'guide/', 'guide/reindex', 'a', 'g/', 'g/i', 'g/x']);
    expect(urls('folder')).toEqual(['./', 'guide/', 'guide/', 'guide/reindex/', 'a/', 'g/', 'g/i/', 'g/x/']);
    expect(['_index.md', 'docs/_index.md', 'docs/index.md'].map((p) => pageUrl(p, 'folder'))).toEqual(['./', 'docs/', 'docs/']);
    expect((await pageDocs(site, 'folder')).docs.map((d) => d.meta?.url)).toContain('start/#setup');
    mkdirSync(join(site, 'assets'));
    writeFileSync(join(site, 'assets', 'a.css'), 'p {}');
    writeFileSync(join(site, 'assets', 'blank.md'), '# Heading alone\n');
    await expect(pageDocs(join(site, 'assets'))).rejects.toThrow(/holds no Markdown \(\.md\) or HTML \(\.html\) page with text/);

    const index = await openIndex({ encoder: recordingEncoder(), name: 'pages', device: 'cpu' });
    await index.add(docs);
    const [hit] = await index.search('install on debian', { mode: 'lexical' });
    expect(hit?.meta.url).toBe('docs/install.html#apt');
    expect(hit?.title?.text).toBe('Install › With apt (Debian)');
  });
});
