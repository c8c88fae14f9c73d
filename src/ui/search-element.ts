import {
  createEncoder,
  createIndex,
  fetchLexicons,
  type Highlight,
  type IndexEncoder,
  InputError,
  type LexiconData,
  type Meta,
  type SearchHit,
  type SearchOptions,
  UnsupportedError,
  type VectorIndex,
} from '../index.js';
import { groupByPage, type PageGroup, sectionTitle } from './group-hits.js';
import { excerpt, markedNodes } from './marked-text.js';
import { isEditable, parseShortcut, type Shortcut } from './shortcut.js';

/** HTMLElement where there is a DOM; a stand-in elsewhere, so that importing this module in Node or at build time throws nothing. */
const ElementBase = (globalThis.HTMLElement ?? class {}) as typeof HTMLElement;

/** What the box says, for a site in another language than English: `element.messages = { ... }` replaces any of them. */
export interface SearchMessages {
  /** The input's accessible name, and its placeholder where the `placeholder` attribute gives none. */
  label: string;
  /**
   * The status line after a search: `count` hits, ranked by words and meaning (`hybrid`) or by
   * words alone, `why` saying why words alone where a model was asked for ('' otherwise).
   */
  results(count: number, hybrid: boolean, why: string): string;
  /** The status line when a search failed. */
  unavailable(reason: string): string;
  /** Why words alone: the model is still loading. */
  loading: string;
  /** Why words alone: the model failed to load, or does not open the index. */
  modelFailed(reason: string): string;
  /** After the status line, where the query's misspelt words were read as indexed ones (VectorIndex.corrections). */
  corrected(words: string[]): string;
  /** After the status line, where the query's words were also searched as their translations (VectorIndex.translations, the `lexicons` attribute). */
  translated(words: string[]): string;
}

const ENGLISH: SearchMessages = {
  label: 'Search',
  results: (count, hybrid, why) =>
    `${count ? `${count} result${count === 1 ? '' : 's'}` : 'No results'} by ${hybrid ? 'words and meaning' : 'words'}${why ? ` (${why})` : ''}`,
  unavailable: (reason) => `Search is unavailable: ${reason}`,
  loading: 'the model is loading',
  modelFailed: (reason) => `the model could not be used: ${reason}`,
  corrected: (words) => `including results for ${words.map((w) => `“${w}”`).join(', ')}`,
  translated: (words) => `also searched: ${words.map((w) => `“${w}”`).join(', ')}`,
};

/**
 * `<m3web-search index="/search-index/" model="/models/m3-mini/">`: a search box over the folder
 * `m3web index --static` wrote, for a static site. It answers by words from the first keystroke,
 * with nothing of a model fetched for that, the word being typed completed from the folder's word
 * list ("moo" finds "mooring"); it starts loading the model when the box is first focused, and
 * from then on ranks by words and meaning (hybrid). Each hit links to its page and
 * section (`meta.url`, resolved against `base`: by default the folder above the index, where
 * `m3web index --docs site/ --out site/search-index` puts it), titled, its matching words marked.
 *
 * Hits of one page are shown together under its title (groupByPage), each linked to its section;
 * a page with one hit is one line with its whole title.
 *
 * Attributes: `index` (the folder's URL, required), `model` (a pack URL or Hub id; left out, words
 * only), `base`, `placeholder`, `results` (hits shown, default 8), `flat` (no grouping by page),
 * `same-language` (only sections in the page's `<html lang>`, by `meta.lang`: a multilingual
 * site's visitor searches the pages of their language), `shortcut` (a key that focuses the box
 * from anywhere on the page: '/', or 'mod+k' for Ctrl+K / ⌘K), `lexicons` (the URL of a folder of
 * lexicons, public/lexicons: the box fetches those of the visitor's languages, navigator.languages,
 * and of the page's `<html lang>`, English and languages the folder lacks left out, so a visitor
 * asking in their own language finds the site's pages by their words' translations; read when the
 * box opens its index). The `encoder` property takes an
 * encoder of the page's own instead of `model`, the `filter` property a test of each document's
 * meta, the `messages` property what it says (SearchMessages; English by default). Parts for
 * styling: `input`, `status`, `results`, `page`, `page-title`, `hit`, `title`, `snippet`; colours
 * from `--m3web-accent` and `--m3web-mark`. Fires `m3web-hits` ({ query, hits }) after each search.
 */
export class M3WebSearchElement extends ElementBase {
  static readonly observedAttributes = ['index', 'model', 'placeholder', 'shortcut'];

  readonly #input = document.createElement('input');
  readonly #status = document.createElement('p');
  readonly #list = document.createElement('ul');
  /** The folder opened for words alone, and, once an encoder is here, for words and meaning. */
  #words: Promise<VectorIndex> | null = null;
  #hybrid: Promise<VectorIndex> | null = null;
  #encoder: IndexEncoder | null = null;
  #loadingModel = false;
  #lexiconsLoaded: Promise<LexiconData[] | undefined> | null = null;
  /** Why searches rank by words alone although a model was asked for ('' while none failed). */
  #wordsOnly = '';
  #active = -1;
  #messages: SearchMessages = ENGLISH;
  #filter: ((meta: Meta) => boolean) | null = null;
  /** The `shortcut` attribute, parsed when it is set (the page's every key press reads it). */
  #shortcut: Shortcut | null = null;
  /** Whether the folder completes a word being typed (one written before word lists refuses it). */
  #completes = true;
  #latest = 0;
  #pause: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = STYLE;
    const input = this.#input;
    input.type = 'search';
    input.autocomplete = 'off';
    input.spellcheck = false;
    input.setAttribute('part', 'input');
    input.setAttribute('role', 'combobox');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-expanded', 'false');
    input.setAttribute('aria-controls', 'hits');

    this.#status.setAttribute('part', 'status');
    this.#status.setAttribute('role', 'status');
    this.#list.id = 'hits';
    this.#list.setAttribute('part', 'results');
    this.#list.setAttribute('role', 'listbox');
    root.append(style, input, this.#status, this.#list);
    input.addEventListener('input', () => {
      clearTimeout(this.#pause);
      // A failed search says so in the status line.
      this.#pause = setTimeout(() => this.search(input.value).catch(() => {}), TYPING_PAUSE_MS);
    });
    input.addEventListener('focus', () => this.#loadModel(), { once: true });
    input.addEventListener('keydown', (e) => this.#key(e));
  }

  /** An encoder of the page's own (createEncoder's), instead of the `model` attribute: searches rank by words and meaning once it is set. */
  get encoder(): IndexEncoder | null {
    return this.#encoder;
  }

  set encoder(encoder: IndexEncoder | null) {
    this.#encoder = encoder;
    this.#wordsOnly = '';
    closeLater(this.#hybrid);
    this.#hybrid = encoder ? this.#openIndex(encoder) : null;
  }

  /**
   * Which documents the box searches: a test of each document's meta, as a search's function
   * filter (`(meta) => String(meta.url).startsWith('blog/')`); null (the default) searches all.
   */
  get filter(): ((meta: Meta) => boolean) | null {
    return this.#filter;
  }

  set filter(filter: ((meta: Meta) => boolean) | null) {
    if (filter !== null && typeof filter !== 'function')
      throw new InputError(`<m3web-search>'s filter must be a function of a document's meta, or null; got ${typeof filter}`);
    this.#filter = filter;
  }

  /** What the box says (SearchMessages): the given ones replace the English defaults. */
  get messages(): SearchMessages {
    return this.#messages;
  }

  set messages(messages: Partial<SearchMessages>) {
    this.#messages = { ...ENGLISH, ...messages };
    this.#label();
  }

  connectedCallback(): void {
    this.#label();
    this.#words ??= this.#openIndex();
    document.addEventListener('keydown', this.#onPageKey);
  }

  disconnectedCallback(): void {
    clearTimeout(this.#pause);
    document.removeEventListener('keydown', this.#onPageKey);
  }

  attributeChangedCallback(name: string): void {
    if (name === 'placeholder' || name === 'shortcut') this.#label();
    if (name !== 'index' || !this.isConnected) return;
    closeLater(this.#words);
    this.#completes = true;
    this.#words = this.#openIndex();
    if (this.#encoder) this.encoder = this.#encoder;
  }

  /** Searches `query` and shows its hits (what typing does, after a pause); resolves to them, or rejects with the error the status line shows. */
  async search(query: string): Promise<SearchHit[]> {
    const ticket = ++this.#latest;
    const q = query.trim();
    if (!q) {
      this.#show([], '');
      return [];
    }
    const k = Math.max(1, Number(this.getAttribute('results')) || DEFAULT_RESULTS);
    try {
      const hybrid =
        this.#hybrid &&
        (await this.#hybrid.catch((err: Error) => {
          this.#wordsOnly = this.#messages.modelFailed(err.message);
          return null;
        }));
      const index = hybrid ?? (await this.#opened());
      const filter = this.#searchFilter();
      // The query as typed, less leading space: a space after its last word says that word is done.
      const typed = query.trimStart();
      const hits = await this.#find(index, typed, { k, ...(filter ? { filter } : {}) });
      const [corrected, translated] = (
        await Promise.all([index.corrections(typed, { prefix: this.#completes }), index.translations(typed)])
      ).map((byWord) => [...new Set(Object.values(byWord).flat())]) as [string[], string[]];
      if (ticket !== this.#latest) return hits;
      const why = hybrid ? '' : this.#loadingModel ? this.#messages.loading : this.#wordsOnly;
      const notes = [
        this.#messages.results(hits.length, hybrid !== null, why),
        ...(corrected.length ? [this.#messages.corrected(corrected)] : []),
        ...(translated.length ? [this.#messages.translated(translated)] : []),
      ];
      this.#show(hits, notes.join('; '));
      this.dispatchEvent(new CustomEvent('m3web-hits', { detail: { query: q, hits } }));
      return hits;
    } catch (err) {
      if (ticket === this.#latest) this.#show([], this.#messages.unavailable((err as Error).message));
      throw err;
    }
  }

  /** Searches with the last word completed as it is typed, where the folder can (SearchOptions.prefix). */
  async #find(index: VectorIndex, query: string, options: SearchOptions): Promise<SearchHit[]> {
    if (this.#completes) {
      try {
        return await index.search(query, { ...options, prefix: true });
      } catch (err) {
        if (!(err instanceof UnsupportedError)) throw err;
        this.#completes = false;
      }
    }
    return index.search(query, options);
  }

  /** The `filter` property and, with `same-language`, the page's language (documents that name none kept). */
  #searchFilter(): ((meta: Meta) => boolean) | null {
    const own = this.#filter;
    const lang = this.hasAttribute('same-language') ? primaryLanguage(document.documentElement.lang) : '';
    if (!lang) return own;
    const sameLanguage = (meta: Meta) => typeof meta.lang !== 'string' || primaryLanguage(meta.lang) === lang;
    return own ? (meta) => sameLanguage(meta) && own(meta) : sameLanguage;
  }

  #label(): void {
    this.#input.setAttribute('aria-label', this.#messages.label);
    this.#input.placeholder = this.getAttribute('placeholder') ?? this.#messages.label;
    this.#shortcut = parseShortcut(this.getAttribute('shortcut'));
    if (this.#shortcut) this.#input.setAttribute('aria-keyshortcuts', this.#shortcut.aria);
    else this.#input.removeAttribute('aria-keyshortcuts');
  }

  /** The `shortcut` key, pressed anywhere on the page but in a text field, focuses the box (as a docs site's '/' or Ctrl+K does). */
  readonly #onPageKey = (e: KeyboardEvent): void => {
    const shortcut = this.#shortcut;
    if (!shortcut || e.defaultPrevented || !shortcut.matches(e)) return;
    // Typing '/' into a field of the page is text, not a shortcut; Ctrl+K from a field still jumps.
    if (!shortcut.mod && isEditable(e.composedPath()[0])) return;
    e.preventDefault();
    this.#input.focus();
    this.#input.select();
  };

  #url(): string {
    return this.getAttribute('index') ?? '';
  }

  /** The `index` attribute's folder, with `encoder` where there is one, and the visitor's lexicons; null without an index attribute. */
  #openIndex(encoder?: IndexEncoder): Promise<VectorIndex> | null {
    const url = this.#url();
    if (!url) return null;
    return this.#lexicons().then((lexicons) =>
      createIndex({ url, ...(encoder ? { encoder } : {}), ...(lexicons ? { lexicons } : {}) }),
    );
  }

  /** The lexicons of the visitor's and the page's languages that the `lexicons` attribute's folder has (its doc comment above). */
  #lexicons(): Promise<LexiconData[] | undefined> {
    const folder = this.getAttribute('lexicons');
    if (!folder) return Promise.resolve(undefined);
    const languages = new Set(
      [...navigator.languages, document.documentElement.lang].map((tag) => tag.split('-')[0]?.toLowerCase() ?? ''),
    );
    languages.delete('en');
    languages.delete('');
    const base = new URL(folder, document.baseURI).href;
    this.#lexiconsLoaded ??= Promise.allSettled([...languages].map((l) => fetchLexicons(base, [l]))).then((fetched) =>
      fetched.flatMap((f) => (f.status === 'fulfilled' ? f.value : [])),
    );
    return this.#lexiconsLoaded;
  }

  #opened(): Promise<VectorIndex> {
    if (!this.#words) throw new InputError('<m3web-search> needs an index attribute: the URL of an m3web index --static folder');
    return this.#words;
  }

  /** Starts loading the `model` attribute's model (on first focus: a visitor who never searches downloads nothing). */
  #loadModel(): void {
    const model = this.getAttribute('model');
    if (!model || this.#encoder) return;
    this.#loadingModel = true;
    createEncoder({ model, progressive: true })
      .then((encoder) => {
        this.encoder = encoder;
      })
      .catch((err: Error) => {
        this.#wordsOnly = this.#messages.modelFailed(err.message);
        this.#status.textContent = this.#wordsOnly;
      })
      .finally(() => {
        this.#loadingModel = false;
      });
  }

  #show(hits: readonly SearchHit[], status: string): void {
    this.#status.textContent = status;
    this.#active = -1;
    this.#input.removeAttribute('aria-activedescendant');
    this.#input.setAttribute('aria-expanded', String(hits.length > 0));
    const base = new URL(this.getAttribute('base') ?? '../', new URL(this.#url(), document.baseURI));
    let n = 0;
    const option = (hit: SearchHit, title: { text: string; highlights: readonly Highlight[] }) => {
      const li = document.createElement('li');
      li.id = `hit-${n++}`;
      li.setAttribute('role', 'option');
      li.setAttribute('part', 'hit');
      const link = document.createElement('a');
      link.href = new URL(String(hit.meta.url ?? hit.id), base).href;
      link.setAttribute('part', 'title');
      link.append(...markedNodes(title.text, title.highlights));
      const snippet = document.createElement('span');
      snippet.setAttribute('part', 'snippet');
      snippet.append(...excerpt(hit.chunk.text, hit.chunk.highlights));
      li.append(link, snippet);
      return li;
    };
    const groups = this.hasAttribute('flat') ? hits.map((hit): PageGroup => ({ page: hit.id, hits: [hit] })) : groupByPage(hits);
    this.#list.replaceChildren(
      ...groups.flatMap((group, g) => {
        const [first] = group.hits as [SearchHit];
        // One section of a page reads best as one line with its whole title.
        if (!group.title || group.hits.length === 1) return group.hits.map((hit) => option(hit, sectionTitle(hit)));
        const li = document.createElement('li');
        li.setAttribute('role', 'group');
        li.setAttribute('part', 'page');
        li.setAttribute('aria-labelledby', `page-${g}`);
        const heading = document.createElement('span');
        heading.id = `page-${g}`;
        heading.setAttribute('part', 'page-title');
        const marks = (first.title?.highlights ?? []).filter(([, end]) => end <= (group.title as string).length);
        heading.append(...markedNodes(group.title, marks));
        const sections = document.createElement('ul');
        sections.setAttribute('role', 'none');
        sections.append(...group.hits.map((hit) => option(hit, sectionTitle(hit, group.title))));
        li.append(heading, sections);
        return [li];
      }),
    );
  }

  #key(e: KeyboardEvent): void {
    const options = this.#list.querySelectorAll('[role="option"]');
    if (e.key === 'Escape') {
      this.#input.value = '';
      this.#latest++;
      this.#show([], '');
      return;
    }
    if (e.key === 'Enter' && this.#active >= 0) {
      e.preventDefault();
      options[this.#active]?.querySelector('a')?.click();
      return;
    }
    if ((e.key !== 'ArrowDown' && e.key !== 'ArrowUp') || options.length === 0) return;
    e.preventDefault();
    options[this.#active]?.setAttribute('aria-selected', 'false');
    const n = options.length;
    const down = e.key === 'ArrowDown';
    // From no choice, down is the first hit and up the last; either way the choice wraps around.
    this.#active = this.#active < 0 ? (down ? 0 : n - 1) : (this.#active + (down ? 1 : n - 1)) % n;
    const option = options[this.#active] as HTMLElement;
    option.setAttribute('aria-selected', 'true');
    option.scrollIntoView({ block: 'nearest' });
    this.#input.setAttribute('aria-activedescendant', option.id);
  }
}

/** A language tag's primary subtag, lower case ('de-CH' -> 'de'), so that a Swiss page finds German sections. */
const primaryLanguage = (tag: string): string => (tag.split('-')[0] ?? '').trim().toLowerCase();

/** Closes an index the element no longer searches, once it has opened (one that failed to open needs nothing). */
const closeLater = (index: Promise<VectorIndex> | null) => void index?.then((i) => i.close()).catch(() => {});

const DEFAULT_RESULTS = 8;
/** How long typing pauses before a search runs. */
const TYPING_PAUSE_MS = 120;
const STYLE = `
:host { display: block; position: relative; font: inherit; --m3web-accent: #1a56db; --m3web-mark: #fdeeb0; }
input { box-sizing: border-box; width: 100%; font: inherit; padding: 0.5em 0.75em; border: 1px solid #8b949e; border-radius: 0.4em; }
input:focus { outline: 2px solid var(--m3web-accent); outline-offset: 1px; }
p { margin: 0.3em 0; font-size: 0.85em; color: #57606a; }
p:empty { display: none; }
ul { list-style: none; margin: 0; padding: 0; }
li { padding: 0.4em 0.5em; border-radius: 0.3em; }
li[role="group"] { padding: 0.4em 0 0; }
li[role="group"] > span { display: block; padding: 0 0.5em; font-weight: 600; }
li[role="group"] li { padding-left: 1.25em; }
li[aria-selected="true"] { background: color-mix(in srgb, var(--m3web-accent) 12%, transparent); }
a { display: block; color: var(--m3web-accent); font-weight: 600; text-decoration: none; }
a:hover { text-decoration: underline; }
span { display: block; font-size: 0.9em; }
mark { background: var(--m3web-mark); color: inherit; border-radius: 0.15em; }
`;

/** Defines `<m3web-search>` (once: a later call, or a page that defined it already, changes nothing; without a DOM, nothing). */
export function defineSearchElement(name = 'm3web-search'): void {
  if (typeof customElements !== 'undefined' && !customElements.get(name))
    customElements.define(name, class extends M3WebSearchElement {});
}
