/**
 * Latin letters for words in Thai, Chinese, Japanese katakana and Korean hangul, for sound keys
 * that meet names across scripts ("เทสลา", "特斯拉", "テスラ", "테슬라" and "Tesla" share "tsl").
 * The Segmenter's dictionaries do not hold most foreign names, so it splits them into syllables
 * ("เท|สลา") or characters ("培|顿"): sound-key.ts reads a key across the words that follow one
 * another without a gap. Korean is written with spaces: a word is keyed on its own.
 */

/**
 * Thai consonants as English spellings of loanwords use them: initial values, aspirated stops as
 * the plain letter English writes (พ for p, ท for t), จ as j, อ silent (a vowel carrier). A letter
 * under the silencing mark (์) is kept: Thai keeps the English spelling's "r" there ("แพนเธอร์ส").
 */
// biome-ignore format: a table reads better in rows
const THAI: Record<string, string> = {
  ก: 'k', ข: 'kh', ฃ: 'kh', ค: 'kh', ฅ: 'kh', ฆ: 'kh', ง: 'ng', จ: 'j', ฉ: 'ch', ช: 'ch', ซ: 's', ฌ: 'ch',
  ญ: 'y', ฎ: 'd', ฏ: 't', ฐ: 'th', ฑ: 'th', ฒ: 'th', ณ: 'n', ด: 'd', ต: 't', ถ: 'th', ท: 'th', ธ: 'th',
  น: 'n', บ: 'b', ป: 'p', ผ: 'p', ฝ: 'f', พ: 'p', ฟ: 'f', ภ: 'p', ม: 'm', ย: 'y', ร: 'r', ล: 'l', ว: 'w',
  ศ: 's', ษ: 's', ส: 's', ห: 'h', ฬ: 'l', อ: '', ฮ: 'h', ฤ: 'r', ฦ: 'l',
};

/**
 * Mandarin readings (pinyin without tones) of the characters Chinese writes foreign names with
 * (the Xinhua News Agency's transliteration table), common characters of other words left out.
 * Pinyin x, q and c are written as the English sounds they stand for in names: s, ch, ts.
 */
const HAN_READINGS = `阿a 埃ai 艾ai 爱ai 安an 昂ang 奥ao 澳ao 巴ba 拜bai 班ban 邦bang 保bao 鲍bao 贝bei 本ben 比bi 彼bi
宾bin 波bo 博bo 伯bo 布bu 查cha 察cha 楚chu 茨ci 策ce 岑cen 达da 戴dai 丹dan 道dao 德de 登deng 邓deng 迪di 蒂di
丁ding 东dong 杜du 顿dun 敦dun 厄e 俄e 恩en 尔er 法fa 凡fan 范fan 菲fei 费fei 斐fei 芬fen 丰feng 冯feng 佛fo 弗fu
福fu 夫fu 伏fu 富fu 盖gai 甘gan 冈gang 高gao 戈ge 哥ge 格ge 根gen 贡gong 古gu 瓜gua 圭gui 哈ha 海hai 汉han 罕han
豪hao 赫he 荷he 黑hei 亨heng 洪hong 胡hu 华hua 怀huai 惠hui 霍huo 基ji 吉ji 济ji 加jia 贾jia 杰jie 捷jie 金jin
津jin 喀ka 卡ka 凯kai 坎kan 康kang 考kao 柯ke 科ke 克ke 肯ken 孔kong 库ku 夸kua 奎kui 昆kun 拉la 腊la 莱lai 赖lai
兰lan 朗lang 劳lao 勒le 雷lei 蕾lei 冷leng 里li 利li 莉li 丽li 黎li 连lian 列lie 林lin 琳lin 凌ling 留liu 龙long
隆long 卢lu 鲁lu 路lu 露lu 伦lun 仑lun 罗luo 洛luo 马ma 玛ma 迈mai 麦mai 曼man 芒mang 毛mao 梅mei 美mei 门men
蒙meng 孟meng 米mi 密mi 莫mo 墨mo 默mo 姆mu 穆mu 纳na 娜na 奈nai 南nan 瑙nao 内nei 尼ni 妮ni 宁ning 纽niu 努nu
诺nuo 欧ou 帕pa 潘pan 庞pang 佩pei 培pei 彭peng 皮pi 珀po 普pu 浦pu 埔pu 奇qi 齐qi 乔qiao 切qie 钦qin 琴qin
琼qiong 丘qiu 瑞rui 萨sa 塞sai 赛sai 桑sang 瑟se 森sen 沙sha 莎sha 尚shang 绍shao 舍she 圣sheng 施shi 什shi 史shi
舒shu 斯si 司si 松song 苏su 索suo 塔ta 泰tai 坦tan 汤tang 唐tang 陶tao 特te 藤teng 提ti 廷ting 图tu 托tuo 瓦wa
万wan 旺wang 威wei 韦wei 维wei 温wen 沃wo 乌wu 伍wu 西xi 希xi 锡xi 夏xia 肖xiao 谢xie 辛xin 欣xin 休xiu 修xiu
雅ya 亚ya 扬yang 杨yang 耶ye 伊yi 依yi 因yin 英ying 尤you 约yue 泽ze 扎zha 詹zhan 珍zhen 朱zhu 兹zi 宗zong 祖zu
佐zuo`;

const HAN = new Map(
  HAN_READINGS.split(/\s+/).map((entry) => {
    const reading = entry
      .slice(1)
      .replace(/^x/, 's')
      .replace(/^q/, 'ch')
      .replace(/^c(?!h)/, 'ts');
    return [entry[0] as string, reading] as const;
  }),
);

/**
 * Katakana, the script Japanese writes foreign names with, in Hepburn romanisation; the long
 * vowel mark and the small tsu (a doubled consonant) add no letter.
 */
const KANA_READINGS = `アa イi ウu エe オo カka キki クku ケke コko ガga ギgi グgu ゲge ゴgo サsa シshi スsu セse ソso
ザza ジji ズzu ゼze ゾzo タta チchi ツtsu テte トto ダda ヂji ヅzu デde ドdo ナna ニni ヌnu ネne ノno ハha ヒhi
フfu ヘhe ホho バba ビbi ブbu ベbe ボbo パpa ピpi プpu ペpe ポpo マma ミmi ムmu メme モmo ヤya ユyu ヨyo ラra
リri ルru レre ロro ワwa ヰwi ヱwe ヲwo ンn ヴvu ァa ィi ゥu ェe ォo ャya ュyu ョyo ヮwa ヵka ヶke ッ ー`;

const KANA = new Map(KANA_READINGS.split(/\s+/).map((entry) => [entry[0] as string, entry.slice(1)] as const));

/**
 * Hangul syllables' consonants, as Korean spells loanwords: initial ㅇ silent, final ㅅ as the
 * "t" it says ("로봇", robot). A final ㄹ then an initial ㄹ ("테슬라", Tesla) reads "lr", which
 * the key's l-for-r reading makes one l.
 */
// biome-ignore format: tables read better in rows
const HANGUL_INITIALS = ['g', 'kk', 'n', 'd', 'tt', 'r', 'm', 'b', 'pp', 's', 'ss', '', 'j', 'jj', 'ch', 'k', 't', 'p', 'h'];
// biome-ignore format: tables read better in rows
const HANGUL_FINALS = ['', 'k', 'k', 'ks', 'n', 'nj', 'n', 't', 'l', 'lk', 'lm', 'lb', 'l', 'lt', 'lp', 'l', 'm', 'b', 'bs', 't', 't', 'ng', 't', 't', 'k', 't', 'p', 't'];
const HANGUL_FIRST = 0xac00;
const HANGUL_LAST = 0xd7a3;

function hangulLatin(word: string): string | null {
  let latin = '';
  for (const ch of word) {
    const code = (ch.codePointAt(0) as number) - HANGUL_FIRST;
    if (code < 0 || code > HANGUL_LAST - HANGUL_FIRST) return null;
    latin += `${HANGUL_INITIALS[Math.floor(code / 588)]}a${HANGUL_FINALS[code % 28]}`;
  }
  return latin;
}

const THAI_WORD = /^\p{Script=Thai}+$/u;
const HAN_WORD = /^\p{Script=Han}+$/u;
/** With the long vowel mark (ー), which Unicode gives to both kana scripts. */
const KANA_WORD = /^\p{Script_Extensions=Katakana}+$/u;

/** How a syllable script writes a name's sounds: Thai letter by letter, the others a syllable a character. */
export type Syllabary = 'thai' | 'han' | 'kana' | 'hangul';

/**
 * Sounds English tells apart and a script writes with one letter, as (letter in its spelling,
 * the other English letter): Chinese writes r with l (罗, 拉), Japanese l with r (ラ), Korean
 * both with ㄹ (read r where it starts a syllable: 런던, London) and v and f with b and p (ㅂ, ㅍ). A key
 * with those letters is also made with the other.
 */
export const MERGED_SOUNDS: Record<Syllabary, readonly (readonly [string, string])[]> = {
  thai: [],
  han: [['l', 'r']],
  kana: [['r', 'l']],
  hangul: [
    ['r', 'l'],
    ['b', 'f'],
  ],
};

export interface Spelled {
  latin: string;
  script: Syllabary;
}

/**
 * A Thai, Chinese, katakana or hangul word's Latin letters and its script; null for a word in
 * another script, and for a Chinese word with a character outside the table (a word of the
 * language, not a name).
 */
export function syllableLatin(word: string): Spelled | null {
  let latin = '';
  if (THAI_WORD.test(word)) {
    // A loop, not Array.from: every syllable of a Thai text is spelled on each index load, and
    // Array.from's array made Thai texts' terms 15% slower to make.
    for (const ch of word) latin += THAI[ch] ?? '';
    return { latin, script: 'thai' };
  }
  const readings = HAN_WORD.test(word) ? HAN : KANA_WORD.test(word) ? KANA : null;
  if (readings === null) {
    const hangul = hangulLatin(word);
    return hangul === null ? null : { latin: hangul, script: 'hangul' };
  }
  for (const ch of word) {
    const reading = readings.get(ch);
    if (reading === undefined) return null;
    latin += reading;
  }
  return { latin, script: readings === HAN ? 'han' : 'kana' };
}
