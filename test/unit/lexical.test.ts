import { describe, expect, it, vi } from 'vitest';
import { withoutArticle } from '../../src/search/arabic.js';
import { codec } from '../../src/search/codec.js';
import { Collection } from '../../src/search/collection.js';
import { highlights } from '../../src/search/highlight.js';
import { LexicalIndex } from '../../src/search/lexical.js';
import { romanize } from '../../src/search/romanize.js';
import { openIndex } from '../../src/search/search-index.js';
import { soundKeys } from '../../src/search/sound-key.js';
import { isWordTerm, terms } from '../../src/search/terms.js';
import { recordingEncoder } from '../support/recording-encoder.js';

/** A word's first sound key: words outside Korean have one at most. */
const soundKey = (word: string) => soundKeys(word)[0] ?? null;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The lexical ranker and rank fusion behind hybrid search, against hand-computed BM25.

const words = (text: string) => terms(text).filter(isWordTerm);

describe('terms', () => {
  it('splits words in scripts without spaces and folds case and Latin accents', () => {
    expect(words('Café CAFÉ naïve')).toEqual(['cafe', 'cafe', 'naive']);
    expect(words('東京は日本の首都です')).toContain('東京');
    expect(words('ภาษาไทยง่ายนิดเดียว').length).toBeGreaterThan(1);
    expect(words('Ёлка, 3.14 и 42!')).toEqual(['елка', '3.14', 'и', '42']);
  });

  it('reads a Latin word joined across an apostrophe as the words on either side, in any text', () => {
    expect(words("Panthers'ın Denver’s l'équipe 100'den")).toEqual([
      'panthers',
      'ın',
      'denver',
      's',
      'l',
      'equipe',
      '100',
      'den',
    ]);
    // Texts the Segmenter splits too (one with Chinese in it).
    expect(words("Denver's 丹佛")).toEqual(['denver', 's', '丹佛']);
    // Other scripts write the apostrophe as a letter: Ukrainian, Hebrew's geresh, a Cyrillic name.
    expect(words("від'ємне ג'ון о'коннор")).toEqual(["від'ємне", "ג'ון", "о'коннор"]);
  });

  it("reads every script's decimal digits as ASCII digits, so numbers match across scripts", () => {
    expect(words('عام ١٩٩٥ و۲۰۲۴')).toEqual(['عام', '1995', 'و2024']);
    expect(words('वर्ष १९४७')).toContain('1947');
    expect(words('พ.ศ. ๒๕๖๐')).toContain('2560');
    expect(words('１２３ 0-9 ၉')).toEqual(['123', '0', '9', '9']);
  });

  it('keeps marks that are vowels in their script', () => {
    const [hindi] = words('किताब');
    expect(hindi).toBe('किताब'.normalize('NFC'));
    expect(words('किताब कताब')).toHaveLength(2);
  });

  it('adds a 4-letter prefix term for longer words, apart from whole words', () => {
    const all = terms('Verteidigung verteidigen vert');
    expect(all.filter((t) => t.startsWith('\u0001'))).toEqual(['\u0001vert', '\u0001vert']);
    expect(all).toContain('vert');
  });

  it('adds the Latin spelling of a Cyrillic, Greek or Devanagari word as a prefix term, so names meet across scripts', () => {
    expect(romanize('тесла')).toBe('tesla');
    expect(romanize('щука')).toBe('shchuka');
    expect(romanize('αθήνα'.normalize('NFD').replace(/\p{M}/gu, ''))).toBe('athina');
    // Hindi: the inherent vowel dropped at the end and between spoken syllables, kept before a final consonant.
    expect(['डेनवर', 'भारत', 'फ़ुटबॉल', 'ब्रोंकोस'].map((w) => romanize(w.normalize('NFC')))).toEqual([
      'denvar',
      'bharat',
      'futbol',
      'bronkos',
    ]);
    // Greek's two-letter b, d, g and j of foreign names, and Russian's j.
    expect(['μπρονκος', 'ντενβερ', 'γκραμι', 'τζορτζ', 'джордж'].map(romanize)).toEqual([
      'bronkos',
      'denver',
      'grami',
      'jorj',
      'jorj',
    ]);
    // India's other Brahmic scripts, read at Devanagari's offsets (Malayalam's chillu ർ as र्).
    const berlin = ['বার্লিন', 'ਬਰਲਿਨ', 'બર્લિન', 'ବର୍ଲିନ', 'பெர்லின்', 'బెర్లిన్', 'ಬರ್ಲಿನ್', 'ബെർലിൻ'];
    expect(berlin.map(romanize)).toEqual(['barlin', 'barlin', 'barlin', 'barlin', 'perlin', 'berlin', 'barlin', 'berlin']);
    expect(berlin.map((w) => soundKey(w))).toEqual(Array(8).fill('brl'));
    expect(romanize('berlin')).toBeNull();
    expect(romanize('москва2')).toBeNull();
    const prefixes = (text: string) => terms(text).filter((t) => t.startsWith('\u0001'));
    expect(prefixes('Берлин')).toEqual(['\u0001берл', '\u0001berl']);
    expect(prefixes('Μαδρίτη')).toEqual(['\u0001μαδρ', '\u0001madr']);
    expect(prefixes('Рим')).toEqual([]);
    const lex = new LexicalIndex(false);
    ['Berlin is the capital of Germany.', 'Paris is the capital of France.', 'Denver is in Colorado.'].forEach((t, row) => {
      lex.add(row, t);
    });
    expect([...lex.top('Где находится Берлин?', 10, null).rows]).toEqual([0]);
    expect([...lex.top('Πού είναι το Παρίσι;', 10, null).rows]).toEqual([1]);
    expect([...lex.top('डेनवर कहाँ है?', 10, null).rows]).toEqual([2]);
  });

  it('adds a sound key (three consonants of the Latin spelling) that cognates and names share across scripts', () => {
    const keys = (text: string) => terms(text).filter((t) => t.startsWith('\u0003'));
    const folded = (word: string) => terms(word)[0] as string;
    expect(['Berlin', 'Берлин', 'برلين', 'Βερολίνο'].map((w) => soundKey(folded(w)))).toEqual(['brl', 'brl', 'brl', 'frl']);
    expect(['defensa', 'defense', 'Verteidigung'].map((w) => soundKey(w))).toEqual(['dfn', 'dfn', null]);
    expect(soundKey('verteidigung')).toBe('frt');
    expect(['Denver', 'Денвер', 'डेनवर'].map((w) => soundKey(folded(w)))).toEqual(['dnf', 'dnf', 'dnf']);
    // Hebrew's consonants, its vowel letters dropped: Berlin, Washington, Tesla.
    expect(['ברלין', 'וושינגטון', 'טסלה'].map((w) => soundKey(w))).toEqual(['brl', 'sng', 'tsl']);
    expect(soundKey('the')).toBeNull();
    expect(soundKey('東京')).toBeNull();
    expect(keys('Paris is nice')).toEqual(['\u0003brs']);
    const lex = new LexicalIndex(false);
    ['La defensa de Denver ganó.', 'Paris is the capital of France.'].forEach((t, row) => {
      lex.add(row, t);
    });
    expect([...lex.top('Denver defense', 10, null).rows]).toEqual([0]);
    expect([...lex.top('ما هي عاصمة باريس', 10, null).rows]).toEqual([1]);
  });

  it('folds Arabic spelling variants, and keys an Arabic word without the article written onto it', () => {
    const folded = (word: string) => terms(word)[0] as string;
    expect(['نُشِرَ', 'نشر', 'أوّل', 'اول', 'مدرسة', 'مدرسه', 'مستشفى', 'مستشفي', 'ـكتـاب'].map(folded)).toEqual([
      'نشر',
      'نشر',
      'اول',
      'اول',
      'مدرسه',
      'مدرسه',
      'مستشفي',
      'مستشفي',
      'كتاب',
    ]);
    expect(['البرونكوس', 'للنورمان', 'والبرونكوس', 'بالبيزنطية'].map((w) => soundKey(folded(w)))).toEqual([
      'brn',
      'nrm',
      'brn',
      'bzn',
    ]);
    expect(['broncos', 'normans', 'byzantine'].map(soundKey)).toEqual(['brn', 'nrm', 'bzn']);
    // Two letters after the article at least: "الف" (a thousand) keeps its own.
    expect(['الف', 'الفن', 'والد', 'والدة'].map(withoutArticle)).toEqual(['الف', 'فن', 'والد', 'دة']);
    const lex = new LexicalIndex(false);
    ['The Broncos beat the Panthers.', 'Paris is the capital of France.'].forEach((t, row) => {
      lex.add(row, t);
    });
    expect([...lex.top('من هزم البرونكوس؟', 10, null).rows]).toEqual([0]);
  });

  it('keeps Vietnamese marks, and finds the words with them from a query typed without', () => {
    const folded = (text: string) => words(text);
    // Tones tell Vietnamese words apart, and folded they would meet English ones ("thế", "the").
    expect(folded('Thế Thủ đô Nội Café')).toEqual(['thế', 'thủ', 'đô', 'nội', 'cafe']);
    expect(terms('Nội')).toContain('\u0004noi');
    expect(terms('noi', false, true)).toContain('\u0004noi');
    expect(terms('nội', false, true)).not.toContain('\u0004noi');
    const lex = new LexicalIndex(false);
    ['Thủ đô của Việt Nam là Hà Nội.', 'The capital of France is Paris.'].forEach((t, row) => {
      lex.add(row, t);
    });
    expect([...lex.top('thu do viet nam', 10, null).rows]).toEqual([0]);
    expect([...lex.top('Thủ đô của Việt Nam', 10, null).rows]).toEqual([0]);
    expect([...lex.top('thế', 10, null).rows]).toEqual([]);
  });

  it('keys j with g and x as ks, as English spells those sounds', () => {
    const folded = (word: string) => terms(word)[0] as string;
    expect(['George', 'جورج', 'general', 'जनरल', 'Saxon', 'Σάξονες'].map((w) => soundKey(folded(w)))).toEqual([
      'grg',
      'grg',
      'gnr',
      'gnr',
      'sks',
      'sks',
    ]);
  });

  it('keys Thai and Chinese names across the syllables the segmenter splits them into', () => {
    const keys = (text: string) =>
      terms(text)
        .filter((t) => t.startsWith('\u0003'))
        .map((t) => t.slice(1));
    // "แพน|เธอ|ร์ส" (Panthers), "เท|สลา" (Tesla), "培|顿" (Peyton), "特斯拉" (Tesla), "格|莱|美" (Grammy).
    expect(keys('แพนเธอร์ส')[0]).toBe(soundKey('panthers'));
    expect(keys('เทสลาร่วมหุ้นกับใคร')[0]).toBe(soundKey('tesla'));
    // Chinese writes English r and l alike: a run with an l is keyed both ways.
    expect(keys('谁与特斯拉合作')).toEqual([soundKey('tesla'), 'tsr']);
    expect(keys('格莱美奖')).toContain(soundKey('grammy'));
    expect(keys('格莱美奖')).toContain('glm');
    // A gap ends a run: "เพย์ตัน แมนนิง" (Peyton Manning) keys each name on its own.
    expect(keys('เพย์ตัน แมนนิง')).toEqual([soundKey('peyton'), soundKey('manning')]);
    // Kanji in Japanese text are read in Japanese, not by these readings; katakana are keyed, with
    // l for r too (Japanese writes both with ラ).
    expect(keys('特斯拉とテスラ')).toEqual(['tsr', 'tsl']);
    expect(keys('ペイトン・マニング')).toEqual([soundKey('peyton'), soundKey('manning')]);
    expect(keys('スーパーボウル')[0]).toBe(soundKey('superbowl'));
    const lex = new LexicalIndex(false);
    ['Tesla worked with Westinghouse.', 'The Panthers lost to the Broncos.', 'Grammy awards.'].forEach((t, row) => {
      lex.add(row, t);
    });
    expect([...lex.top('เทสลาร่วมหุ้นกับใครในปี 1886', 10, null).rows]).toEqual([0]);
    expect([...lex.top('ทีมรับของแพนเธอร์สยอมแพ้ที่คะแนนเท่าไร', 10, null).rows]).toEqual([1]);
    expect([...lex.top('谁在 1886 年与特斯拉合作？', 10, null).rows]).toEqual([0]);
    expect([...lex.top('女神卡卡得过几次格莱美奖？', 10, null).rows]).toEqual([2]);
    expect([...lex.top('テスラは1886年に誰と提携しましたか', 10, null).rows]).toEqual([0]);
    expect([...lex.top('레이디 가가는 그래미상을 몇 번 받았나요?', 10, null).rows]).toEqual([2]);
  });

  it('keys Korean words as hangul spells loanwords, with l for r and f for b too', () => {
    // 테슬라 (Tesla), 캘리포니아 (California: final and initial ㄹ as one l, read with l for r), 로봇 (robot: final ㅅ as t), 런던 (London), 덴버 (Denver).
    expect(soundKeys('테슬라는')).toEqual(['tsl']);
    expect(soundKeys('로봇')).toEqual(['rbt', 'rft', 'lbt', 'lft']);
    expect(soundKeys('런던')).toContain(soundKey('london'));
    expect(soundKeys('캘리포니아')).toContain(soundKey('california'));
    expect(soundKeys('덴버')).toContain(soundKey('denver'));
    expect(soundKeys('나라')).toEqual([]);
  });

  it('with ngrams, adds the character 4-grams of each word, word boundaries included', () => {
    const grams = terms('Défense', true).filter((t) => t.startsWith('\u0002'));
    expect(grams).toEqual([' def', 'defe', 'efen', 'fens', 'ense', 'nse '].map((g) => `\u0002${g}`));
    expect(terms('Défense').some((t) => t.startsWith('\u0002'))).toBe(false);
  });
});

describe('BM25', () => {
  const idf = (n: number, df: number) => Math.log(1 + (n - df + 0.5) / (df + 0.5));
  const bm25 = (tf: number, len: number, avg: number) => (tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * len) / avg));

  it('scores rows as Okapi BM25 (k1 1.2, b 0.75) and ranks by it', () => {
    const lex = new LexicalIndex(false);
    ['red cat', 'red red dog', 'blue bee sun'].forEach((t, row) => {
      lex.add(row, t);
    });
    const ranked = lex.top('red', 10, null);
    expect([...ranked.rows]).toEqual([1, 0]);
    const avg = 8 / 3;
    expect(ranked.scores[0]).toBeCloseTo(idf(3, 2) * bm25(2, 3, avg), 5);
    expect(ranked.scores[1]).toBeCloseTo(idf(3, 2) * bm25(1, 2, avg), 5);
    expect(lex.top('green', 10, null).rows.length).toBe(0);
  });

  it('forgets removed rows in scores and statistics, also after a compaction', () => {
    const lex = new LexicalIndex(false);
    ['red cat', 'red red dog', 'blue bee sun'].forEach((t, row) => {
      lex.add(row, t);
    });
    lex.remove(1, 'red red dog');
    const after = lex.top('red', 10, null);
    expect([...after.rows]).toEqual([0]);
    expect(after.scores[0]).toBeCloseTo(idf(2, 1) * bm25(1, 2, 2.5), 5);
    lex.remap(Int32Array.from([0, -1, 1]));
    expect([...lex.top('bee red', 10, null).rows].sort()).toEqual([0, 1]);
    const mask = Uint32Array.of(0b10);
    expect([...lex.top('bee red', 10, mask).rows]).toEqual([1]);
  });

  it('a Collection keeps its lexical rows in step with its vectors through removal and compaction', () => {
    const c = new Collection(codec('f32', 4), null);
    const docs = Array.from({ length: 6 }, (_, i) => ({ id: `d${i}`, chunks: [`a${i} zz`, `b${i}`] }));
    c.append({ docs, words: new Uint32Array(12 * 4), scales: new Float32Array(12).fill(1) });
    c.remove(['d0', 'd1', 'd2', 'd3']);
    const ranked = c.lexical.top('a5 b4', 10, c.mask(undefined));
    expect([...ranked.rows].map((r) => c.at(r).chunk.text).sort()).toEqual(['a5 zz', 'b4']);
  });
});

describe('lexical postings made in idle slices', () => {
  const segment = (ids: number[]) => ({
    docs: ids.map((i) => ({ id: `d${i}`, chunks: [`alpha${i} shared zz`, `beta${i} shared`] })),
    words: new Uint32Array(ids.length * 2 * 4),
    scales: new Float32Array(ids.length * 2).fill(1),
  });
  /** A stop() that ends the slice after n documents. */
  const stopAfter = (n: number) => {
    let left = n;
    return () => --left <= 0;
  };
  /** Each document's BM25 score for `query`, by id: row numbers differ between collections. */
  const scores = (c: Collection, query: string) => {
    const ranked = c.lexical.top(query, 100, c.mask(undefined));
    return Object.fromEntries([...ranked.rows].map((r, i) => [`${c.at(r).id}/${c.at(r).chunk.text}`, ranked.scores[i]]));
  };

  it('follow appends, removals and a compaction between slices, and end equal to postings made at once', () => {
    const warm = new Collection(codec('f32', 4), null, true);
    warm.append(segment([0, 1, 2, 3, 4, 5, 6, 7]));
    expect(warm.warmLexical(stopAfter(3))).toBe(false);
    warm.append(segment([8, 9]));
    // d0 is in the partial postings, d6 still queued.
    warm.remove(['d0', 'd6']);
    expect(warm.warmLexical(stopAfter(2))).toBe(false);
    // 6 of 10 documents gone: the rows are compacted and renumbered mid-way.
    warm.remove(['d1', 'd2', 'd3', 'd7']);
    let slices = 0;
    while (!warm.warmLexical(stopAfter(1))) slices++;
    expect(slices).toBeGreaterThan(0);
    const fresh = new Collection(codec('f32', 4), null, true);
    fresh.append(segment([4, 5, 8, 9]));
    for (const q of ['shared', 'alpha5 beta8 zz', 'alpha0 beta6 alpha3', 'alph', 'beta9']) {
      expect(scores(warm, q)).toEqual(scores(fresh, q));
    }
    expect(Object.keys(scores(warm, 'shared'))).toHaveLength(8);
  });

  it('an index makes them after a write without being searched, unless lexicalWarmup is false', async () => {
    const add = vi.spyOn(LexicalIndex.prototype, 'add');
    const docs = Array.from({ length: 50 }, (_, i) => ({ id: `d${i}`, text: `document ${i} on topic ${i % 7}` }));
    try {
      for (const lexicalWarmup of [true, false]) {
        add.mockClear();
        const index = await openIndex({
          encoder: recordingEncoder(),
          name: `warm-${lexicalWarmup}`,
          device: 'cpu',
          lexicalWarmup,
        });
        await index.add(docs);
        if (lexicalWarmup) for (let t = 0; t < 5000 && add.mock.calls.length < docs.length; t += 25) await sleep(25);
        else await sleep(100);
        expect(add.mock.calls.length).toBe(lexicalWarmup ? docs.length : 0);
        expect((await index.search('document 7', { mode: 'lexical', k: 1 }))[0]?.id).toBe('d7');
        expect(add.mock.calls.length).toBe(docs.length);
        index.close();
      }
    } finally {
      add.mockRestore();
    }
  });

  it('a search before the last slice finishes them; clear() drops the partial ones', () => {
    const c = new Collection(codec('f32', 4), null, false);
    c.append(segment([0, 1, 2, 3]));
    expect(c.warmLexical(stopAfter(1))).toBe(false);
    expect(Object.keys(scores(c, 'shared'))).toHaveLength(8);
    expect(c.warmLexical(stopAfter(1))).toBe(true);
    const d = new Collection(codec('f32', 4), null, false);
    d.append(segment([0, 1]));
    expect(d.warmLexical(stopAfter(1))).toBe(false);
    d.clear();
    d.append(segment([7]));
    expect(Object.keys(scores(d, 'alpha0 alpha7 shared'))).toEqual(['d7/alpha7 shared zz', 'd7/beta7 shared']);
  });
});

describe('prefix: a word still being typed', () => {
  const lex = new LexicalIndex(false);
  ['Berlin is big', 'Bern is small', 'the berry', 'Berlin and Bern', 'nothing here'].forEach((t, row) => {
    lex.add(row, t);
  });

  it('stands for the indexed words it begins, the most frequent first, only at the end of the query', () => {
    expect(lex.completions('ber', 16)).toEqual(['berlin', 'bern', 'berry']);
    expect(lex.completions('ber', 2)).toEqual(['berlin', 'bern']);
    expect(lex.completions('bern', 16)).toEqual([]);
    expect(lex.top('ber', 10, null).rows.length).toBe(0);
    expect([...lex.top('ber', 10, null, true).rows].sort()).toEqual([0, 1, 2, 3]);
    expect([...lex.top('berl', 10, null, true).rows].sort()).toEqual([0, 3]);
    // A finished word (a space after it) completes nothing.
    expect(lex.top('ber ', 10, null, true).rows.length).toBe(0);
    expect([...lex.top('big ber', 10, null, true).rows].sort()).toEqual([0, 1, 2, 3]);
  });

  it('follows the index: added words complete at once, removed rows no longer', () => {
    const grown = new LexicalIndex(false);
    grown.add(0, 'alpha');
    expect(grown.completions('al', 16)).toEqual(['alpha']);
    grown.add(1, 'alps alpine');
    expect(grown.completions('al', 16)).toEqual(['alpha', 'alpine', 'alps']);
    grown.remove(0, 'alpha');
    expect(grown.completions('al', 16)).toEqual(['alpine', 'alps']);
    expect(highlights('al', 'the alpine alps', { prefix: true })).toEqual([
      [4, 10],
      [11, 15],
    ]);
    expect(highlights('al', 'the alpine alps')).toEqual([]);
  });
});

describe('highlights', () => {
  const marked = (query: string, text: string, common?: (t: string) => boolean) =>
    highlights(query, text, { common }).map(([a, b]) => text.slice(a, b));

  it("marks the chunk's words that share a folded form or a prefix with a query word, in order", () => {
    expect(marked('Cafe verteidigung', 'Das Café und die Verteidigungen, nicht die Burg.')).toEqual(['Café', 'Verteidigungen']);
    // A Cyrillic word meets its Latin spelling's prefix; a Chinese query is split by the Segmenter.
    expect(marked('Berlin', 'Он живёт в Берлине.')).toEqual(['Берлине']);
    expect(marked('北京', '我住在北京。')).toEqual(['北京']);
    // Offsets are UTF-16 code units, past surrogate pairs too.
    const text = '😋 naïve Zoë';
    expect(highlights('zoe', text)).toEqual([[text.indexOf('Zoë'), text.length]]);
    // A sound key alone does not mark: "defense" and "defensa" share one, not a prefix of four.
    expect(marked('defensa', 'the defense')).toEqual(['defense']);
    expect(marked('dfns', 'the defense')).toEqual([]);
    expect(marked('', 'anything')).toEqual([]);
    // Vietnamese typed without its marks marks the words with them.
    expect(marked('ha noi', 'Thủ đô là Hà Nội.')).toEqual(['Hà', 'Nội']);
    // A Turkish case ending or a possessive leaves the name it follows marked alone.
    expect(marked('Denver', "Denver'ın savunması, Denver's defence")).toEqual(['Denver', 'Denver']);
  });

  it("leaves common words unmarked where the index's counts say so", () => {
    const lex = new LexicalIndex(false);
    const rows = Array.from({ length: 30 }, (_, i) => `the report ${i} on ${i % 3 === 0 ? 'rivers' : 'lakes'}`);
    rows.forEach((t, row) => {
      lex.add(row, t);
    });
    expect(lex.isCommon('the')).toBe(true);
    expect(lex.isCommon('rivers')).toBe(false);
    const common = (t: string) => lex.isCommon(t);
    expect(marked('the rivers', 'the report 3 on rivers', common)).toEqual(['rivers']);
    // Too few rows to tell: nothing is common.
    const small = new LexicalIndex(false);
    small.add(0, 'the end');
    expect(small.isCommon('the')).toBe(false);
  });
});
