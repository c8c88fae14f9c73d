import { readdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { readLexicons } from '../../src/eval/lexicon-files.js';
import { openIndex } from '../../src/search/index.js';
import { queryWeights } from '../../src/search/lexical.js';
import { fetchLexicons, LEXICON_FORMAT, Lexicon, type LexiconData } from '../../src/search/lexicon.js';
import { recordingEncoder } from '../support/recording-encoder.js';
import { rejection } from '../support/rejection.js';
import { writeStaticFolder } from '../support/static-folder.js';
import { serveStatic } from '../support/static-server.js';

// Query translation: a query's words also look for the words lexicons pair them with, both ways,
// so questions find pages in another language by their content words.

const lexicon = (language: string, words: Record<string, string[]>): LexiconData => ({
  format: LEXICON_FORMAT,
  language,
  to: 'en',
  words,
});
const GERMAN = lexicon('de', { regen: ['rain'], spiel: ['game', 'match'], wie: ['how'] });
const SPANISH = lexicon('es', { lluvia: ['rain'], partido: ['game', 'match'] });
const DOCS = [
  { id: 'game', text: 'The Panthers won the game; Norman intercepted two balls.' },
  { id: 'weather', text: 'Rain in Denver all week, and snow in the mountains.' },
  { id: 'partido', text: 'El partido terminó con dos balones interceptados.' },
];
const LEXICONS = join(import.meta.dirname, '..', '..', 'public', 'lexicons');

describe('lexicons', () => {
  it("translate a query's words both ways, each translation once, none the query holds", () => {
    const both = new Lexicon([GERMAN, SPANISH]);
    const none = () => false;
    expect(both.translations('Wie viel Regen?', none)).toEqual(['how', 'rain']);
    expect(both.translations('rain', none)).toEqual(['regen', 'lluvia']);
    expect(both.translations('game Spiel', none)).toEqual(['partido', 'match']);
    expect(both.translations('Schnee', none)).toEqual([]);
    expect(both.translatable('Wie viel Regen?')).toEqual(['wie', 'regen']);
    // A hand-made lexicon's words are folded as the query's are.
    expect(new Lexicon([lexicon('de', { Bälle: ['Balls'] })]).translations('balle', none)).toEqual(['balls']);
  });

  it("leave alone the words the indexed texts hold: they are in the pages' language already", () => {
    const both = new Lexicon([GERMAN, SPANISH]);
    expect(both.translations('Wie viel Regen?', (w) => w === 'regen')).toEqual(['how']);
    expect(both.translations('rain Spiel', (w) => w === 'rain')).toEqual(['game', 'match']);
  });

  it('translate a word the lexicons lack by the nearest forms they hold, cutting three letters or half the word', () => {
    const russian = new Lexicon([
      lexicon('ru', { карьера: ['career'], карьерный: ['careerist'], очки: ['points'], защита: ['defence'] }),
      lexicon('ar', { فريق: ['team'], مباراة: ['match'] }),
      lexicon('th', { ประเทศไทย: ['thailand'] }),
      lexicon('tr', { kaydetmek: ['record'] }),
    ]);
    const none = () => false;
    // The two shortest forms beginning with the longest stem the word gives.
    expect(russian.translations('карьеру', none)).toEqual(['career', 'careerist']);
    expect(russian.translations('защиты', none)).toEqual(['defence']);
    expect(russian.translations('kaydetmiştir', none)).toEqual(['record']);
    expect(russian.translations('kaydettiklerimizden', none)).toEqual([]);
    expect(russian.translatable('карьеру защиты')).toEqual(['карьеру', 'защиты']);
    // The article is not an inflection's end: it is read off the front.
    expect(russian.translations('الفريق', none)).toEqual(['team']);
    expect(russian.translations('المباراتين', none)).toEqual(['match']);
    // A file's word with the article is read without it too: the bare word and its other forms find it,
    // and an English word looks for the bare word, which every form of it holds.
    const withArticle = new Lexicon([lexicon('ar', { الدفاع: ['defence'] })]);
    expect(withArticle.translations('دفاع', none)).toEqual(['defence']);
    expect(withArticle.translations('للدفاع', none)).toEqual(['defence']);
    expect(withArticle.translations('defence', none)).toEqual(['دفاع']);
    // A one-letter proclitic ("and", "with") is read off a word the lexicons lack where the rest is
    // theirs and keeps three letters; a word they hold is never cut ("وزير", minister, not "زير").
    const clitics = new Lexicon([
      lexicon('ar', { فريق: ['team'], فوز: ['victory'], وزير: ['minister'], زير: ['pot'], زر: ['button'] }),
    ]);
    expect(clitics.translations('وفريق', none)).toEqual(['team']);
    expect(clitics.translations('بفوز', none)).toEqual(['victory']);
    expect(clitics.translations('وزير', none)).toEqual(['minister']);
    expect(clitics.translations('وزر', none)).toEqual([]);
    // Four letters stay: "очков" would need "очк"; a word in a script without spaces is a dictionary's word, whole.
    expect(russian.translations('очков', none)).toEqual([]);
    expect(russian.translations('ประเทศ', none)).toEqual([]);
    // An exact entry wins over its longer relatives; a word the pages hold is not looked up.
    expect(russian.translations('защита', none)).toEqual(['defence']);
    expect(russian.translations('карьеру', (w) => w === 'карьеру')).toEqual([]);
  });

  it('translate two words the lexicon holds as one (Vietnamese syllables) before each alone', () => {
    const vietnamese = new Lexicon([
      lexicon('vi', { 'trận đấu': ['match'], đấu: ['fight'], trận: ['battle'], thua: ['lose'], 'chiến thắng': ['win'] }),
    ]);
    const none = () => false;
    expect(vietnamese.byWord('thua trận đấu nào', none)).toEqual({ thua: ['lose'], 'trận đấu': ['match'] });
    expect(vietnamese.translatable('thua trận đấu nào')).toEqual(['thua', 'trận', 'đấu']);
    // The words of a pair are looked up in the pages (held) though neither has a translation alone.
    expect(vietnamese.translatable('chiến thắng')).toEqual(['chiến', 'thắng']);
    // A word the pages hold is theirs: the pair is not read, its other word alone is.
    expect(vietnamese.byWord('trận đấu', (w) => w === 'trận')).toEqual({ đấu: ['fight'] });
    expect(vietnamese.byWord('trận đấu', (w) => w === 'đấu')).toEqual({ trận: ['battle'] });
    // English looks for the pair's words.
    expect(vietnamese.translations('match', none)).toEqual(['trận đấu']);
  });

  it("weigh a translation's terms half a query word's, and never the query's own terms", () => {
    const weights = queryWeights('Regen regen', false, [], ['rain', 'regen']);
    expect(weights.get('regen')).toBe(2);
    expect(weights.get('rain')).toBe(0.5);
  });

  it('refuse what is not a lexicon with an InputError naming it', () => {
    const refused = (v: unknown) => {
      try {
        new Lexicon(v);
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused(GERMAN)).toMatch(/lexicons must be an array/);
    expect(refused([GERMAN, 'de'])).toMatch(/lexicons\[1\] must be a lexicon file's object \(fetchLexicons\), got string/);
    expect(refused([{ ...GERMAN, format: 0 }])).toMatch(/format 0; this version reads format 1 .*build_lexicons/);
    expect(refused([{ ...GERMAN, language: undefined }])).toMatch(/must name its language/);
    expect(refused([{ ...GERMAN, words: [] }])).toMatch(/\(de\) must hold words/);
    expect(refused([lexicon('de', { spiel: 'game' as unknown as string[] })])).toMatch(/translations of "spiel"/);
    expect(refused([lexicon('de', { spiel: [1 as unknown as string] })])).toMatch(/translations of "spiel"/);
  });

  it('let an index find pages in other languages, ranked and highlighted, unless translate is false', async () => {
    const index = await openIndex({ encoder: recordingEncoder(), name: 'lexicons', device: 'cpu', lexicons: [GERMAN, SPANISH] });
    await index.add(DOCS);
    const german = await index.search('Regen in Denver?', { mode: 'lexical' });
    expect(german.map((h) => h.id)).toEqual(['weather']);
    const weather = german[0];
    expect(weather?.chunk.highlights.map(([a, b]) => weather.chunk.text.slice(a, b))).toEqual(['Rain', 'in', 'Denver', 'in']);
    const untranslated = await index.search('Regen in Denver?', { mode: 'lexical', translate: false });
    expect(untranslated[0]?.score).toBeLessThan(weather?.score as number);
    expect((await index.search('Regen', { mode: 'lexical', translate: false })).map((h) => h.id)).toEqual([]);
    expect((await index.search('match', { mode: 'lexical' })).map((h) => h.id)).toEqual(['partido']);
    // What a search box can say it also searched: per query word no page holds.
    expect(await index.translations('Wie viel Regen in Denver?')).toEqual({ wie: ['how'], regen: ['rain'] });
    expect(await index.translations('"Regen" rain')).toEqual({});
    await expect(index.translations(7 as unknown as string)).rejects.toThrow(/translations: query must be a string/);
    const plain = await openIndex({ encoder: recordingEncoder(), name: 'no-lexicons', device: 'cpu' });
    await plain.add(DOCS);
    expect(await plain.translations('Regen')).toEqual({});
    plain.close();
    expect((await index.search('Spiel', { mode: 'hybrid' })).map((h) => h.id)).toContain('game');
    await expect(index.search('Spiel', { translate: 'yes' as unknown as boolean })).rejects.toThrow(
      /translate must be a boolean, got string/,
    );
    index.close();
    await expect(openIndex({ encoder: recordingEncoder(), name: 'x', lexicons: [{}] as LexiconData[] })).rejects.toThrow(
      InputError,
    );
  });

  describe('in a static folder', () => {
    let server: Server | undefined;
    afterAll(() => server?.close());

    it('translate as the in-memory index does, hits and scores alike', async () => {
      const memory = await openIndex({
        encoder: recordingEncoder(),
        name: 'lexicons-static',
        device: 'cpu',
        lexicons: [SPANISH],
      });
      await memory.add(DOCS);
      const { dir } = await writeStaticFolder(memory, [8]);
      let url: string;
      ({ server, url } = await serveStatic(dir));
      const folder = await openIndex({ url, lexicons: [SPANISH] });
      for (const q of ['lluvia', 'partido', 'rain']) {
        expect(await folder.search(q, { mode: 'lexical' })).toEqual(await memory.search(q, { mode: 'lexical' }));
        expect(await folder.translations(q)).toEqual(await memory.translations(q));
      }
      expect(await folder.translations('lluvia')).toEqual({ lluvia: ['rain'] });
      expect((await folder.search('lluvia', { mode: 'lexical' })).map((h) => h.id)).toEqual(['weather']);
      const bare = await openIndex({ url });
      expect((await bare.search('lluvia', { mode: 'lexical' })).map((h) => h.id)).toEqual([]);
      expect(await bare.translations('lluvia')).toEqual({});
      for (const index of [memory, folder, bare]) index.close();
    });
  });

  it('are fetched by language, with an InputError naming one the folder lacks', async () => {
    const { server, url } = await serveStatic(LEXICONS);
    try {
      const [de] = await fetchLexicons(url, ['de']);
      expect(de?.language).toBe('de');
      const missing = await rejection(fetchLexicons(url, ['de', 'xx']));
      expect(missing).toBeInstanceOf(InputError);
      expect((missing as Error).message).toMatch(/no lexicon for "xx" at .*xx\.json \(HTTP 404\)/);
    } finally {
      server.close();
    }
    await expect(readLexicons(LEXICONS, ['xx'])).rejects.toThrow(/no lexicon xx\.json/);
  });

  it('shipped in public/lexicons are read by the index and translate what CLDR and FLORES name', async () => {
    const all = await readLexicons(LEXICONS);
    expect(all.map((l) => `${l.language}.json`)).toEqual(readdirSync(LEXICONS).filter((f) => f.endsWith('.json')));
    expect(all.length).toBeGreaterThanOrEqual(30);
    const translate = (language: string, query: string) =>
      new Lexicon(all.filter((l) => l.language === language)).translations(query, () => false);
    expect(translate('de', 'Deutschland')).toContain('germany');
    expect(translate('zh', '华沙')).toContain('warsaw');
    expect(translate('es', 'septiembre')).toContain('september');
    expect(translate('ru', 'Германия')).toContain('germany');
    expect(translate('fr', 'germany')).toContain('allemagne');
    // Dictionaries: CC-CEDICT (simplified and traditional headwords) and WikDict's Greek.
    expect(translate('zh', '防守')).toContain('defend');
    expect(translate('zh', '冠軍')).toContain('champion');
    expect(translate('el', 'άμυνα')).toContain('defence');
    // A sense's synonyms one by one ("main; principal"), a two-word sense by its head ("political party").
    expect(translate('zh', '主要')).toContain('main');
    expect(translate('zh', '政党')).toContain('party');
    // Arabic words are paired without the article, each form's counts pooled ("الجيش", "للجيش", "جيش").
    expect(translate('ar', 'جيش')).toContain('army');
    expect(translate('ar', 'والجيش')).toContain('army');
    // Vietnamese two-syllable words, paired as one.
    expect(translate('vi', 'bán đảo')).toContain('peninsula');
    // Firefox's translations: words that FLORES, LibreOffice and CLDR left unpaired.
    expect(translate('th', 'ขาย')).toContain('sell');
    // In the lexicons of other scripts, no ASCII words: English that translators left as it was.
    for (const { language, words } of all.filter((l) => ['ar', 'el', 'hi', 'ja', 'ko', 'ru', 'th', 'zh'].includes(l.language)))
      expect(
        Object.keys(words).filter((w) => /^[ -~]+$/.test(w)),
        language,
      ).toEqual([]);
  });
});
