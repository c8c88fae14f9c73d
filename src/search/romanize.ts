/**
 * Latin spellings of Cyrillic, Greek, Devanagari and other Indian-script words, for the lexical
 * ranker to match names and loanwords across scripts ("Берлин" and "Berlin", "Тесла" and
 * "Tesla", "डेनवर" and "Denver"). Cyrillic and Greek letter by letter, as the common
 * English-facing romanisations spell them (BGN/PCGN, ELOT 743, simplified); accents and breves
 * are folded before this (terms.ts), so "й" and "ё" arrive as "и" and "е". Devanagari by
 * syllable, with Hindi's dropped vowels; Bengali, Gurmukhi, Gujarati, Oriya, Tamil, Telugu,
 * Kannada and Malayalam as Devanagari. Spellings that English took from elsewhere ("Шопен",
 * Chopin) or with other vowels ("बर्लिन", barlin) stay unmatched: this recovers names spelled as
 * they sound, not translations. Scripts that write no short vowels (Arabic) or whose names the
 * segmenter splits into syllables (Thai, Chinese) give only their consonants, for sound keys:
 * arabic.ts, syllable-scripts.ts.
 */

// biome-ignore format: a table reads better in rows
const LETTERS: Record<string, string> = {
  // Cyrillic: Russian, Ukrainian, Belarusian, Bulgarian, Serbian, Macedonian.
  а: 'a', б: 'b', в: 'v', г: 'g', д: 'd', е: 'e', ж: 'zh', з: 'z', и: 'i', к: 'k', л: 'l', м: 'm',
  н: 'n', о: 'o', п: 'p', р: 'r', с: 's', т: 't', у: 'u', ф: 'f', х: 'kh', ц: 'ts', ч: 'ch',
  ш: 'sh', щ: 'shch', ъ: '', ы: 'y', ь: '', э: 'e', ю: 'yu', я: 'ya', і: 'i', є: 'ye',
  ґ: 'g', ј: 'j', љ: 'lj', њ: 'nj', ћ: 'c', ђ: 'dj', џ: 'dz', ѕ: 'dz',
  // Greek.
  α: 'a', β: 'v', γ: 'g', δ: 'd', ε: 'e', ζ: 'z', η: 'i', θ: 'th', ι: 'i', κ: 'k', λ: 'l', μ: 'm',
  ν: 'n', ξ: 'x', ο: 'o', π: 'p', ρ: 'r', σ: 's', ς: 's', τ: 't', υ: 'y', φ: 'f', χ: 'ch', ψ: 'ps',
  ω: 'o',
};

/**
 * Two letters for one sound of other languages' names: Greek writes b, d, g and j so ("Μπρόνκος",
 * Broncos; "Ντένβερ", Denver; ELOT 743 reads them so at a word's start, while inside Greek words
 * they say mb, nd, ng, which a key then misses), and Russian j ("Джордж", George). Questions
 * against English paragraphs, BM25 R@1: Greek 45.1% -> 46.5%, Russian 46.0% -> 46.5%; FLORES
 * train and dev sentences (800) to English: Greek 39.5% -> 43.5%, Russian 53.1% -> 53.3%.
 */
const PAIRS: Record<string, string> = { μπ: 'b', ντ: 'd', γκ: 'g', τζ: 'j', дж: 'j' };

const DEVANAGARI = /^\p{Script=Devanagari}+$/u;
const ROMANIZABLE = /^[\p{Script=Cyrillic}\p{Script=Greek}]+$/u;

/**
 * Unicode lays out the other Brahmic scripts of India in blocks of 128 that follow Devanagari's
 * (ISCII's common layout): a letter at the same offset is the same sound ("ব", "ਬ", "બ", "ବ", "ப",
 * "బ", "ಬ", "ബ" are all ब, b), so their words are read as Devanagari. Tamil writes voiced and
 * voiceless stops alike (க for k and g), which a key then reads as the voiceless one.
 */
const INDIC =
  /^[\p{Script=Bengali}\p{Script=Gurmukhi}\p{Script=Gujarati}\p{Script=Oriya}\p{Script=Tamil}\p{Script=Telugu}\p{Script=Kannada}\p{Script=Malayalam}]+$/u;
const DEVANAGARI_BLOCK = 0x900;
const BLOCK = 0x80;

/** Malayalam's chillu letters: a consonant with no vowel, as Devanagari writes it (the letter and a virama). */
const CHILLU: Record<string, string> = { ൺ: 'ण्', ൻ: 'न्', ർ: 'र्', ൽ: 'ल्', ൾ: 'ळ्', ൿ: 'क्' };
/** Length marks (Tamil's, Telugu's, Kannada's, Malayalam's): a vowel's second half, no sound of its own here. */
const LENGTH_MARKS = new Set([0x955, 0x956, 0x957]);

function asDevanagari(word: string): string {
  let out = '';
  for (const ch of word) {
    const code = DEVANAGARI_BLOCK + (((ch.codePointAt(0) as number) - DEVANAGARI_BLOCK) % BLOCK);
    out += CHILLU[ch] ?? (LENGTH_MARKS.has(code) ? '' : String.fromCharCode(code));
  }
  return out;
}

/**
 * The Latin spelling of a folded (lower-case, unaccented) Cyrillic, Greek, Devanagari or other
 * Indian-script word; null for any other word.
 */
export function romanize(word: string): string | null {
  if (DEVANAGARI.test(word)) return romanizeDevanagari(word);
  if (INDIC.test(word)) return romanizeDevanagari(asDevanagari(word));
  if (!ROMANIZABLE.test(word)) return null;
  let out = '';
  // Both alphabets are in the Basic Multilingual Plane: a letter is one UTF-16 unit.
  for (let i = 0; i < word.length; i++) {
    const pair = PAIRS[word.slice(i, i + 2)];
    if (pair !== undefined) {
      out += pair;
      i++;
      continue;
    }
    const latin = LETTERS[word[i] as string];
    if (latin === undefined) return null;
    out += latin;
  }
  return out;
}

// biome-ignore format: a table reads better in rows
const DEVANAGARI_CONSONANTS: Record<string, string> = {
  क: 'k', ख: 'kh', ग: 'g', घ: 'gh', ङ: 'n', च: 'ch', छ: 'chh', ज: 'j', झ: 'jh', ञ: 'n', ट: 't',
  ठ: 'th', ड: 'd', ढ: 'dh', ण: 'n', त: 't', थ: 'th', द: 'd', ध: 'dh', न: 'n', प: 'p', फ: 'ph',
  ब: 'b', भ: 'bh', म: 'm', य: 'y', र: 'r', ल: 'l', व: 'v', श: 'sh', ष: 'sh', स: 's', ह: 'h',
  // Letters of the southern scripts at Devanagari's offsets: Tamil's ன, ற, ள, ழ.
  ऩ: 'n', ऱ: 'r', ळ: 'l', ऴ: 'l',
};
/** With a nukta, the consonants of Persian, Arabic and English loanwords. */
const NUKTA: Record<string, string> = { क: 'q', ख: 'kh', ग: 'g', ज: 'z', ड: 'r', ढ: 'rh', फ: 'f' };
// biome-ignore format: a table reads better in rows
const DEVANAGARI_VOWELS: Record<string, string> = {
  अ: 'a', आ: 'a', इ: 'i', ई: 'i', उ: 'u', ऊ: 'u', ऋ: 'ri', ए: 'e', ऐ: 'ai', ओ: 'o', औ: 'au', ऑ: 'o',
  'ा': 'a', 'ि': 'i', 'ी': 'i', 'ु': 'u', 'ू': 'u', 'ृ': 'ri', 'े': 'e', 'ै': 'ai', 'ो': 'o', 'ौ': 'au', 'ॉ': 'o',
  // The southern scripts' short e and o, at Devanagari's offsets.
  ऎ: 'e', ऒ: 'o', 'ॆ': 'e', 'ॊ': 'o',
};
const VIRAMA = '्';
const NUKTA_SIGN = '़';
/** Vowel signs (matras) start here; the independent vowel letters come before. */
const VOWEL_SIGNS = 0x93e;
const NASALS: Record<string, string> = { 'ं': 'n', 'ँ': 'n', 'ः': 'h' };

interface Syllable {
  /** The consonant letter ('' for a vowel letter) and its Latin spelling. */
  letter: string;
  latin: string;
  /** The written vowel; null: the inherent "a"; '': none (a virama). */
  vowel: string | null;
  /** Anusvara, chandrabindu, visarga. */
  after: string;
}

function devanagariSyllables(word: string): Syllable[] | null {
  const syllables: Syllable[] = [];
  for (const ch of word) {
    const last = syllables.at(-1);
    const open = last !== undefined && last.letter !== '' && last.vowel === null;
    const consonant = DEVANAGARI_CONSONANTS[ch];
    const vowel = DEVANAGARI_VOWELS[ch];
    if (consonant !== undefined) syllables.push({ letter: ch, latin: consonant, vowel: null, after: '' });
    else if (ch === NUKTA_SIGN && open && NUKTA[last.letter] !== undefined) last.latin = NUKTA[last.letter] as string;
    else if (ch === VIRAMA && open) last.vowel = '';
    else if (vowel !== undefined && open && (ch.codePointAt(0) as number) >= VOWEL_SIGNS) last.vowel = vowel;
    else if (vowel !== undefined && (ch.codePointAt(0) as number) < VOWEL_SIGNS)
      syllables.push({ letter: '', latin: '', vowel, after: '' });
    else if (NASALS[ch] !== undefined && last) last.after += NASALS[ch];
    else return null;
  }
  return syllables;
}

/** A following syllable keeps a vowel: a written one, or an inherent one not at the word's end. */
const speaks = (s: Syllable, last: boolean) => s.vowel !== '' && !(s.vowel === null && last);

/**
 * Hindi spelling in Latin letters. A consonant carries an inherent "a" unless a vowel sign or a
 * virama follows; Hindi drops it at the end of a word, and after a spoken vowel before a
 * consonant that keeps one ("डेनवर": den-var, not de-na-va-ra), as Latin spellings of its names do.
 */
function romanizeDevanagari(word: string): string | null {
  const syllables = devanagariSyllables(word);
  if (syllables === null) return null;
  let out = '';
  let spoken = false;
  syllables.forEach((s, i) => {
    const next = syllables[i + 1];
    const dropped =
      s.vowel === null &&
      i > 0 &&
      (next === undefined || (spoken && next.letter !== '' && speaks(next, i + 1 === syllables.length - 1)));
    const vowel = dropped ? '' : (s.vowel ?? 'a');
    spoken = vowel !== '';
    out += s.latin + vowel + s.after;
  });
  return out;
}
