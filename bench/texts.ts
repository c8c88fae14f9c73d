/**
 * Benchmark inputs: texts that tokenize to exactly N tokens (specials included) under a model's
 * tokenizer.json, so every runtime times the same shapes. Both runtimes tokenize with
 * @huggingface/tokenizers, so a text is the same length for both.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import type { CasePlan } from './measure.js';

/** Written for this benchmark (no licence strings attached), mixing scripts like real traffic. */
const POOL = [
  'The library closes early on public holidays, so check the calendar before you go.',
  'Die Bahn fährt heute wegen Bauarbeiten nur bis zum Hauptbahnhof.',
  'Le marché du samedi propose des fromages, du pain frais et des fleurs de saison.',
  'El concierto empieza a las nueve, pero conviene llegar media hora antes.',
  'Каждое утро он пьёт чай и читает новости перед работой.',
  '東京の地下鉄は朝のラッシュ時にとても混雑します。',
  '这个城市的公园在春天开满了樱花。',
  'مكتبة المدينة مفتوحة حتى الساعة الثامنة مساءً.',
  'हमारी ट्रेन दस मिनट देर से पहुँचेगी।',
  'A good recipe for bread needs only flour, water, salt and patience.',
  'O museu de arte moderna recebe milhares de visitantes por mês.',
  'Yarın hava yağmurlu olacak, şemsiyeni yanına almayı unutma.',
];

class BenchTexts {
  private readonly tokenizer: Tokenizer;

  constructor(tokenizerJson: unknown, tokenizerConfig: unknown) {
    this.tokenizer = new Tokenizer(tokenizerJson as object, (tokenizerConfig ?? {}) as object);
  }

  count(text: string): number {
    return this.tokenizer.encode(text).ids.length;
  }

  /**
   * A text of exactly `tokens` tokens: whole words of the pool, starting `from` words in or, where
   * a word adds several tokens and overshoots, at the first later word that fits; and that word.
   */
  private fit(tokens: number, from: number): { text: string; start: number } {
    const words = POOL.join(' ').split(' ');
    for (let start = from; start < from + words.length; start++) {
      const parts: string[] = [];
      for (let i = start; ; i++) {
        parts.push(words[i % words.length] as string);
        const n = this.count(parts.join(' '));
        if (n === tokens) return { text: parts.join(' '), start };
        if (n > tokens) break;
      }
    }
    throw new Error(`no text of exactly ${tokens} tokens found (from word ${from})`);
  }

  text(tokens: number): string {
    return this.fit(tokens, 0).text;
  }

  /**
   * `n` different texts of `tokens` tokens each: each starts past the previous one's first word
   * (starting every text at word i would give one text wherever words 0..i overshoot alike).
   */
  batch(n: number, tokens: number): string[] {
    const out: string[] = [];
    let from = 0;
    while (out.length < n) {
      const { text, start } = this.fit(tokens, from);
      out.push(text);
      from = start + 1;
    }
    return out;
  }
}

/** Texts of exact token counts under the Hugging Face folder's tokenizer. */
export async function benchTexts(
  hfDir: string,
): Promise<{ text(tokens: number): string; batch(n: number, tokens: number): string[] }> {
  const read = async (name: string) => JSON.parse(await readFile(join(hfDir, name), 'utf8'));
  return new BenchTexts(await read('tokenizer.json'), await read('tokenizer_config.json'));
}

/**
 * The cases both comparisons time, with texts from the Hugging Face folder's tokenizer: one text
 * of 16 and one of 128 tokens, and `batch` texts of 128. Fast cases take up to 20 runs in 10 s.
 */
export async function casePlan(hfDir: string, o: { batch: number; runs: number; quick: boolean }): Promise<CasePlan> {
  const texts = await benchTexts(hfDir);
  return {
    short: texts.text(16),
    long: texts.text(128),
    batch: texts.batch(o.batch, 128),
    batchTokens: o.batch * 128,
    minRuns: o.runs,
    maxRuns: o.quick ? o.runs : Math.max(o.runs, 20),
    budgetMs: o.quick ? 0 : 10_000,
  };
}
