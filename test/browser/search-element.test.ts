import { afterEach, describe, expect, it, vi } from 'vitest';
import { InputError } from '../../src/errors.js';
import { type IndexDoc, sectionsFromHtml, sectionsFromMarkdown } from '../../src/index.js';
import { defineSearchElement, type M3WebSearchElement } from '../../src/ui/index.js';
import { rejection } from '../support/rejection.js';
import { wordsEncoder } from '../support/static-corpus.js';
import { staticFiles } from '../support/static-files.js';

// <m3web-search> over a static folder of a site's pages, in Chromium: words from the first
// keystroke, words and meaning once an encoder is there, links to each section, keyboard choice.

const SITE = 'https://static.example/site/';
const INDEX = `${SITE}search-index/`;

const PAGES = {
  'guide.html':
    '<title>Harbour</title><nav>Home Guide</nav><main><h1>Harbour guide</h1><p>Boats moor at the long pier.</p>' +
    '<h2 id="fees">Fees</h2><p>Mooring costs ten euros a night, paid at the office.</p>' +
    '<h2>Weather</h2><p>Storms come from the west in autumn.</p></main>',
  'tides.md': '# Tides\n\nThe sea rises twice a day.\n\n## Spring tides\n\nAt new and full moon the range is largest.\n',
};

/** The pages' static folder (or that of other documents), served by a fetch stub. */
async function hostSite(
  docs: IndexDoc[] = [
    ...sectionsFromHtml(PAGES['guide.html'], { url: 'guide.html' }),
    ...sectionsFromMarkdown(PAGES['tides.md'], { url: 'tides.md' }),
  ],
  /** Serve the folder as m3web wrote it before word lists (no completion of a word being typed). */
  withoutWordList = false,
  /** Further files of the site, by URL. */
  more: Record<string, string> = {},
): Promise<void> {
  const files = await staticFiles(docs, INDEX);
  for (const [url, text] of Object.entries(more)) files.set(url, new TextEncoder().encode(text));
  if (withoutWordList) {
    const manifest = JSON.parse(new TextDecoder().decode(files.get(`${INDEX}index.json`)));
    delete manifest.sizes.words;
    files.set(`${INDEX}index.json`, new TextEncoder().encode(JSON.stringify(manifest)));
  }
  vi.stubGlobal('fetch', async (url: string) => {
    const body = files.get(url);
    return body ? new Response(body.slice()) : new Response(null, { status: 404 });
  });
}

function mount(index?: string): M3WebSearchElement {
  defineSearchElement();
  const el = document.createElement('m3web-search') as M3WebSearchElement;
  if (index) el.setAttribute('index', index);
  el.setAttribute('placeholder', 'Search the harbour');
  document.body.append(el);
  return el;
}

const part = (el: M3WebSearchElement, name: string) => el.shadowRoot?.querySelector(`[part="${name}"]`) as HTMLElement;
const options = (el: M3WebSearchElement) => [...(el.shadowRoot?.querySelectorAll('li[role="option"]') ?? [])] as HTMLElement[];

describe('<m3web-search>', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    document.body.replaceChildren();
  });

  it('answers by words with no model, each hit titled, marked and linked to its section', async () => {
    await hostSite();
    const el = mount(INDEX);
    expect((part(el, 'input') as HTMLInputElement).placeholder).toBe('Search the harbour');
    const hits = await el.search('mooring fees');
    expect(hits[0]?.id).toBe('guide.html#fees');
    // 'mooring' shares a 4-gram with 'spring': the tides page ranks between the guide's two sections.
    expect(hits.map((h) => h.id)).toEqual(['guide.html#fees', 'tides.md#spring-tides', 'guide.html#harbour-guide']);
    // Two sections of one page: the page once, titled, and its sections under it, where its best ranked.
    const page = part(el, 'page');
    expect(page.getAttribute('role')).toBe('group');
    expect(part(el, 'page-title').textContent).toBe('Harbour guide');
    expect(page.getAttribute('aria-labelledby')).toBe(part(el, 'page-title').id);
    const [first, second] = options(el);
    expect(first?.closest('[part="page"]')).toBe(page);
    const link = first?.querySelector('a') as HTMLAnchorElement;
    // Links resolve against the folder above the index, where the pages are.
    expect(link.href).toBe(`${SITE}guide.html#fees`);
    expect(link.textContent).toBe('Fees');
    expect([...link.querySelectorAll('mark')].map((m) => m.textContent)).toEqual(['Fees']);
    // The page's own text before its first h2 goes by the page's title.
    expect(second?.querySelector('a')?.textContent).toBe('Harbour guide');
    expect(second?.querySelector('a')?.href).toBe(`${SITE}guide.html#harbour-guide`);
    expect(options(el)[2]?.querySelector('a')?.textContent).toBe('Tides › Spring tides');
    expect(options(el)[2]?.closest('[part="page"]')).toBeNull();
    expect([...(first?.querySelectorAll('[part="snippet"] mark') ?? [])].map((m) => m.textContent)).toEqual(['Mooring']);
    expect(part(el, 'status').textContent).toMatch(/^\d+ results? by words$/);
    expect(part(el, 'input').getAttribute('aria-expanded')).toBe('true');

    // Typing searches after a pause and says so with an event.
    const heard = new Promise<{ query: string; hits: unknown[] }>((resolve) =>
      el.addEventListener('m3web-hits', (e) => resolve((e as CustomEvent).detail), { once: true }),
    );
    const input = part(el, 'input') as HTMLInputElement;
    input.value = 'full moon';
    input.dispatchEvent(new Event('input'));
    expect((await heard).query).toBe('full moon');
    // One section of a page: one line with its whole title.
    expect(options(el)[0]?.querySelector('a')?.href).toBe(`${SITE}tides.md#spring-tides`);
    expect(options(el)[0]?.querySelector('a')?.textContent).toBe('Tides › Spring tides');
    expect(options(el)[0]?.closest('[part="page"]')).toBeNull();

    // Arrow keys choose a hit for assistive technology; Escape clears.
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown' }));
    expect(input.getAttribute('aria-activedescendant')).toBe('hit-0');
    expect(options(el)[0]?.getAttribute('aria-selected')).toBe('true');
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowUp' }));
    expect(input.getAttribute('aria-activedescendant')).toBe(options(el).at(-1)?.id);
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }));
    expect(input.value).toBe('');
    expect(options(el)).toEqual([]);
    expect(input.getAttribute('aria-expanded')).toBe('false');

    // Grouped hits are chosen one by one; `flat` lists every hit on its own line.
    await el.search('mooring fees');
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowUp' }));
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowUp' }));
    expect(input.getAttribute('aria-activedescendant')).toBe('hit-1');
    expect(options(el)[1]?.getAttribute('aria-selected')).toBe('true');
    expect(options(el)[1]?.closest('[part="page"]')).not.toBeNull();
    el.setAttribute('flat', '');
    await el.search('mooring fees');
    expect(part(el, 'page')).toBeNull();
    expect(options(el).map((o) => o.querySelector('a')?.textContent)).toEqual([
      'Harbour guide › Fees',
      'Tides › Spring tides',
      'Harbour guide',
    ]);
  });

  it('completes the word being typed, and takes a space after it as the word done', async () => {
    await hostSite();
    const el = mount(INDEX);
    const typing = await el.search('moo');
    expect(typing.map((h) => h.id)).toContain('guide.html#fees');
    const fees = options(el).find((o) => o.querySelector('a')?.href.endsWith('#fees'));
    expect([...(fees?.querySelectorAll('[part="snippet"] mark') ?? [])].map((m) => m.textContent)).toEqual(['Mooring']);
    // "moo " is a finished word, which no page holds (its sound key still meets "moor" and "moon"): nothing marked.
    const done = await el.search('moo ');
    expect(done.flatMap((h) => h.chunk.highlights)).toEqual([]);
    expect(options(el).flatMap((o) => [...o.querySelectorAll('mark')])).toEqual([]);

    // A typo: read as the indexed word nearest it, marked, and said so.
    const misspelt = await el.search('moorign');
    expect(misspelt.map((h) => h.id)).toContain('guide.html#fees');
    expect(part(el, 'status').textContent).toMatch(/results? by words; including results for “mooring”$/);
    // A folder written before word lists: whole words only, no error.
    el.remove();
    await hostSite(undefined, true);
    const older = mount(INDEX);
    expect((await older.search('mooring')).map((h) => h.id)).toContain('guide.html#fees');
    expect(part(older, 'status').textContent).toMatch(/results? by words$/);
    await older.search('moorign');
    expect(part(older, 'status').textContent).toMatch(/results? by words$/);
  });

  it('ranks by words and meaning once it has an encoder', async () => {
    await hostSite();
    const el = mount(INDEX);
    expect((await el.search('storms autumn'))[0]?.ranks).toEqual({ lexical: 1 });
    el.encoder = wordsEncoder();
    const hits = await el.search('storms autumn');
    expect(hits[0]?.id).toBe('guide.html#weather');
    expect(hits[0]?.ranks.vector).toBe(1);
    expect(part(el, 'status').textContent).toMatch(/results? by words and meaning$/);
    expect(await el.search('   ')).toEqual([]);
    expect(options(el)).toEqual([]);
    // An encoder of another model than the folder's: words alone, and the status says why.
    const other = wordsEncoder();
    const info = await other.info();
    const mismatched = { ...other, info: () => ({ ...info, model: { ...info.model, id: 'another-model' } }) };
    el.encoder = mismatched;
    expect((await el.search('storms autumn'))[0]?.ranks).toEqual({ lexical: 1 });
    expect(part(el, 'status').textContent).toMatch(/results? by words \(the model could not be used: .*another-model/);
    // A German site's box.
    el.messages = {
      label: 'Suche',
      results: (n, hybrid, why) => `${n} Treffer (${hybrid ? 'Wörter und Bedeutung' : 'Wörter'})${why ? ` – ${why}` : ''}`,
      modelFailed: () => 'Modell passt nicht',
    };
    el.removeAttribute('placeholder');
    expect((part(el, 'input') as HTMLInputElement).placeholder).toBe('Suche');
    expect(part(el, 'input').getAttribute('aria-label')).toBe('Suche');
    el.encoder = mismatched;
    await el.search('storms autumn');
    expect(part(el, 'status').textContent).toBe('1 Treffer (Wörter) – Modell passt nicht');
  });

  it("keeps to the page's language with same-language, and to what the filter keeps", async () => {
    const docs = [
      ...sectionsFromHtml('<html lang="en"><main><h1>Harbour</h1><p>Ferries leave at noon.</p></main>', {
        url: 'en/harbour.html',
      }),
      ...sectionsFromHtml('<html lang="de-DE"><main><h1>Hafen</h1><p>Ferries fahren mittags.</p></main>', {
        url: 'de/hafen.html',
      }),
      // A page that names no language is everyone's.
      ...sectionsFromMarkdown('# Timetable\n\nFerries every hour.\n', { url: 'timetable.md' }),
    ];
    await hostSite(docs);
    const el = mount(INDEX);
    const found = async () => (await el.search('ferries')).map((h) => h.meta.page).sort();
    expect(await found()).toEqual(['de/hafen.html', 'en/harbour.html', 'timetable.md']);
    const pageLang = document.documentElement.lang;
    try {
      document.documentElement.lang = 'de-CH';
      el.setAttribute('same-language', '');
      expect(await found()).toEqual(['de/hafen.html', 'timetable.md']);
      el.filter = (meta) => String(meta.page).endsWith('.md');
      expect(await found()).toEqual(['timetable.md']);
      el.removeAttribute('same-language');
      el.filter = (meta) => String(meta.url).startsWith('en/');
      expect(await found()).toEqual(['en/harbour.html']);
      // A page without a language of its own: same-language keeps everything.
      document.documentElement.lang = '';
      el.setAttribute('same-language', '');
      el.filter = null;
      expect(await found()).toHaveLength(3);
      expect(() => {
        el.filter = { lang: 'de' } as never;
      }).toThrow(InputError);
    } finally {
      document.documentElement.lang = pageLang;
    }
  });

  it("finds pages by the translations of the words of a visitor asking in the page's language (lexicons)", async () => {
    const de = { format: 1, language: 'de', to: 'en', words: { herbst: ['autumn'] } };
    await hostSite(undefined, false, { [`${SITE}lexicons/de.json`]: JSON.stringify(de) });
    const pageLang = document.documentElement.lang;
    const boxes = [true, false].map((translating) => {
      const el = document.createElement('m3web-search') as M3WebSearchElement;
      el.setAttribute('index', INDEX);
      if (translating) el.setAttribute('lexicons', `${SITE}lexicons/`);
      return el;
    });
    try {
      document.documentElement.lang = 'de-AT';
      defineSearchElement();
      document.body.append(...boxes);
      const [translating, plain] = boxes as [M3WebSearchElement, M3WebSearchElement];
      // The visitor's other languages (en-US here, or whatever the browser says) have no lexicon in the folder: skipped.
      expect((await translating.search('Herbst')).map((h) => h.id)).toEqual(['guide.html#weather']);
      expect(options(translating)[0]?.querySelector('mark')?.textContent).toBe('autumn');
      expect(part(translating, 'status').textContent).toMatch(/results? by words; also searched: “autumn”$/);
      expect(await plain.search('Herbst')).toEqual([]);
    } finally {
      document.documentElement.lang = pageLang;
    }
  });

  it('focuses from anywhere on the page by its shortcut, but not while the visitor types elsewhere', async () => {
    await hostSite();
    const el = mount(INDEX);
    const input = part(el, 'input') as HTMLInputElement;
    const press = (target: EventTarget, key: string, init: KeyboardEventInit = {}) =>
      target.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, composed: true, cancelable: true, ...init }));
    const focused = () => el.shadowRoot?.activeElement === input;
    press(document.body, '/');
    expect(focused()).toBe(false);

    el.setAttribute('shortcut', '/');
    expect(input.getAttribute('aria-keyshortcuts')).toBe('/');
    const field = document.createElement('input');
    document.body.append(field);
    field.focus();
    press(field, '/');
    expect(focused()).toBe(false);
    press(document.body, '/', { ctrlKey: true });
    expect(focused()).toBe(false);
    press(document.body, '/');
    expect(focused()).toBe(true);

    field.focus();
    el.setAttribute('shortcut', 'mod+k');
    expect(input.getAttribute('aria-keyshortcuts')).toBe('Control+K Meta+K');
    press(field, 'k');
    expect(focused()).toBe(false);
    press(field, 'K', { metaKey: true });
    expect(focused()).toBe(true);

    // Gone from the page, it listens no more.
    field.focus();
    el.remove();
    press(field, 'k', { ctrlKey: true });
    expect(document.activeElement).toBe(field);
  });

  it('says what is wrong without an index or with an unreachable one, and follows a new index attribute', async () => {
    const bare = mount();
    expect(await rejection(bare.search('x'))).toBeInstanceOf(InputError);
    expect(part(bare, 'status').textContent).toMatch(/^Search is unavailable: <m3web-search> needs an index attribute/);
    await hostSite();
    const el = mount('https://static.example/none/');
    await rejection(el.search('fees'));
    expect(part(el, 'status').textContent).toMatch(/^Search is unavailable: .*none/);
    el.setAttribute('index', INDEX);
    expect((await el.search('fees'))[0]?.id).toBe('guide.html#fees');
  });
});
