/**
 * Word translations for the lexical ranker's cross-lingual search (src/search/lexicon.ts): for
 * each language, its words with the English words they translate, learned from open parallel
 * text by IBM Model 1 (Brown et al. 1993) in both directions, a pair kept where both directions
 * agree (the geometric mean of t(en | word) and t(word | en) at least MIN_SCORE, at most
 * MAX_TRANSLATIONS a word, best first).
 *
 * Parallel text, none of it from a dev set: FLORES-200 train (SIB-200's 701 sentences in every
 * language), STS-B multi-mt train (its 11,498 sentences, machine-translated into ten languages),
 * and CLDR's aligned names (emoji names and keywords, territories, languages, months, weekdays,
 * date fields, time-zone cities: "Warschau", "华沙" and "Warsaw" are one city). Words are folded
 * as the ranker folds them (terms.ts foldedWords), so a lexicon must be rebuilt when folding
 * changes (its `format`).
 *
 * `npx tsx training/build_lexicons.ts [DATA_DIR] [--out DIR]` (default ../shared/data and
 * public/lexicons; the CLDR packages are fetched with `npm pack` into training/work/cldr).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCsv } from '../src/eval/dev-data.js';
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

function rowOf(table: Map<string, Map<string, number>>, key: string): Map<string, number> {
  let row = table.get(key);
  if (!row) {
    row = new Map();
    table.set(key, row);
  }
  return row;
}

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

function lexicon(pairs: readonly Pair[], names: readonly Pair[]): Record<string, string[]> {
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
  return out;
}

function main(args: string[]): void {
  const outAt = args.indexOf('--out');
  const out = outAt >= 0 ? (args[outAt + 1] as string) : 'public/lexicons';
  const data = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--out') ?? '../shared/data';
  const cldr = cldrPackages();
  mkdirSync(out, { recursive: true });
  for (const [lang, code] of Object.entries(LANGUAGES)) {
    const t0 = performance.now();
    const pairs = [...floresPairs(data, code), ...stsPairs(data, lang)];
    const names = cldrPairs(cldr, lang);
    const lexiconData: LexiconData = {
      format: LEXICON_FORMAT,
      language: lang,
      to: 'en',
      words: lexicon(pairs, names),
    };
    writeFileSync(join(out, `${lang}.json`), `${JSON.stringify(lexiconData)}\n`);
    const n = Object.keys(lexiconData.words).length;
    console.log(
      `${lang}: ${pairs.length} sentence pairs, ${names.length} CLDR names -> ${n} words (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
  }
}

main(process.argv.slice(2));
