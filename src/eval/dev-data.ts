import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelFormatError } from '../errors.js';

/** FLORES-200 dev sentences per language, row i of every language translating row i of English. */
export type FloresDev = Map<string, string[]>;

export interface StsDev {
  a: string[];
  b: string[];
  score: number[];
}

export const ENGLISH = 'eng_Latn';

/** RFC 4180 CSV (quoted fields with doubled quotes), as the STS-B files use. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field || row.length) rows.push([...row, field]);
  return rows.filter((r) => r.length > 1 || r[0] !== '');
}

/** Reads `<dir>/<lang>.tsv` files (index_id, category, text) and aligns them on index_id. */
export async function readFloresDev(dir: string, langs?: readonly string[]): Promise<FloresDev> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.tsv')).sort();
  const wanted = new Set(langs ?? files.map((f) => f.slice(0, -4)));
  wanted.add(ENGLISH);
  const byLang = new Map<string, Map<string, string>>();
  for (const f of files) {
    const lang = f.slice(0, -4);
    if (!wanted.has(lang)) continue;
    const rows = new Map<string, string>();
    for (const line of (await readFile(join(dir, f), 'utf8')).split('\n').slice(1)) {
      const [id, , text] = line.split('\t');
      if (id && text !== undefined) rows.set(id, text.trim());
    }
    byLang.set(lang, rows);
  }
  const english = byLang.get(ENGLISH);
  if (!english) throw new ModelFormatError(`${dir} has no ${ENGLISH}.tsv`);
  const ids = [...english.keys()].sort();
  const out: FloresDev = new Map();
  for (const [lang, rows] of byLang) {
    if (!ids.every((id) => rows.has(id))) throw new ModelFormatError(`${dir}/${lang}.tsv is not aligned with ${ENGLISH}.tsv`);
    out.set(
      lang,
      ids.map((id) => rows.get(id) as string),
    );
  }
  return out;
}

/** Reads `stsb-<lang>-dev.csv` files (sentence1, sentence2, score 0..5). */
export async function readStsDev(dir: string, langs?: readonly string[]): Promise<Map<string, StsDev>> {
  const out = new Map<string, StsDev>();
  for (const f of (await readdir(dir)).sort()) {
    const m = /^stsb-([a-z]+)-dev\.csv$/.exec(f);
    if (!m || (langs && !langs.includes(m[1] as string))) continue;
    const rows = parseCsv(await readFile(join(dir, f), 'utf8'));
    out.set(m[1] as string, {
      a: rows.map((r) => r[0] as string),
      b: rows.map((r) => r[1] as string),
      score: rows.map((r) => Number(r[2])),
    });
  }
  return out;
}

/** One language of xquad-dev: paragraphs, and questions naming the paragraph that answers them. */
export interface XquadLang {
  paragraphs: string[];
  /** Each paragraph's Wikipedia article title, as XQuAD keeps it (English in every language; underscores read as spaces). */
  titles: string[];
  questions: { text: string; paragraph: number }[];
}

/**
 * Reads `xquad.<lang>.json` files (SQuAD JSON). Paragraphs and questions are in the same order in
 * every language, so paragraph i of one language translates paragraph i of English.
 */
export async function readXquad(dir: string, langs?: readonly string[]): Promise<Map<string, XquadLang>> {
  const out = new Map<string, XquadLang>();
  for (const f of (await readdir(dir)).sort()) {
    const m = /^xquad\.([a-z]+)\.json$/.exec(f);
    if (!m || (langs && !langs.includes(m[1] as string) && m[1] !== 'en')) continue;
    const raw = JSON.parse(await readFile(join(dir, f), 'utf8')) as {
      data?: { title?: string; paragraphs?: { context: string; qas: { question: string }[] }[] }[];
    };
    const lang: XquadLang = { paragraphs: [], titles: [], questions: [] };
    for (const article of raw.data ?? []) {
      for (const p of article.paragraphs ?? []) {
        for (const q of p.qas) lang.questions.push({ text: q.question.trim(), paragraph: lang.paragraphs.length });
        lang.paragraphs.push(p.context.trim());
        lang.titles.push((article.title ?? '').replaceAll('_', ' ').trim());
      }
    }
    if (lang.paragraphs.length === 0) throw new ModelFormatError(`${dir}/${f} holds no paragraphs (SQuAD JSON expected)`);
    out.set(m[1] as string, lang);
  }
  const en = out.get('en');
  if (!en) throw new ModelFormatError(`${dir} has no xquad.en.json`);
  for (const [lang, d] of out) {
    if (d.paragraphs.length !== en.paragraphs.length || d.questions.length !== en.questions.length)
      throw new ModelFormatError(`${dir}/xquad.${lang}.json is not aligned with xquad.en.json`);
  }
  return out;
}
