import type { IndexDoc, IndexEncoder } from '../../src/search/types.js';
import type { EmbedOptions, EmbedResult, ModelInfo } from '../../src/types.js';
import { rng } from './random.js';

// A corpus and encoder for static index tests (Node and browser): texts on 40 topics of made-up
// words, embedded as bags of words, so vectors of one topic lie near each other.

export const STATIC_DIMS = [32, 64, 128];
const WIDTH = 128;

function hash(s: string): number {
  let h = 2166136261;
  for (const ch of s) h = Math.imul(h ^ (ch.codePointAt(0) as number), 16777619);
  return h >>> 0;
}

/** Bag-of-words vectors: the sum of a fixed random vector per word, early dims larger (Matryoshka-like). */
export function wordsEncoder(): IndexEncoder {
  const model: ModelInfo = {
    id: 'words-128',
    source: 'test',
    layers: 2,
    hiddenSize: WIDTH,
    exits: [2],
    dims: STATIC_DIMS,
    pooling: 'mean',
    maxTokens: 512,
    quantization: 'f32',
    prefixes: {},
    quality: null,
  };
  const cache = new Map<string, Float32Array>();
  const wordVector = (w: string) => {
    let v = cache.get(w);
    if (!v) {
      const next = rng(hash(w));
      v = Float32Array.from({ length: WIDTH }, (_, i) => (next() - 0.5) / Math.sqrt(i + 1));
      cache.set(w, v);
    }
    return v;
  };
  return {
    info: () => ({ model, backend: 'cpu' }),
    async embedDetailed(texts: string[], options?: EmbedOptions): Promise<EmbedResult> {
      const dims = options?.dims ?? WIDTH;
      const vectors = texts.map((t) => {
        const v = new Float32Array(dims);
        for (const w of t.toLowerCase().match(/\p{L}+/gu) ?? []) {
          const wv = wordVector(w);
          for (let i = 0; i < dims; i++) v[i] = (v[i] as number) + (wv[i] as number);
        }
        const n = Math.hypot(...v) || 1;
        return v.map((x) => x / n);
      });
      return { vectors, tokens: texts.map(() => 8), truncated: texts.map(() => false), layers: texts.map(() => 2) };
    },
  };
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'su', 'ta', 'ri', 'po', 've', 'du', 'sha', 'gor'];
const VOCAB = Array.from({ length: 600 }, (_, i) => {
  let w = '';
  for (let n = i + SYLLABLES.length; n > 0; n = Math.floor(n / SYLLABLES.length)) w += SYLLABLES[n % SYLLABLES.length];
  return w;
});
const TOPICS = 40;

/** Text on a topic: most words from the topic's own slice of the vocabulary, some common ones. */
function topicText(next: () => number, topic: number, words: number): string {
  return Array.from({ length: words }, () =>
    next() < 0.7 ? VOCAB[topic * 15 + Math.floor(next() * 15)] : VOCAB[Math.floor(next() ** 3 * VOCAB.length)],
  ).join(' ');
}

/** Texts on 40 topics; every fifth titled with two words of its topic (drawn apart, so the texts are those of an untitled corpus). */
export function staticCorpus(n: number): IndexDoc[] {
  const next = rng(7);
  const titles = rng(13);
  return Array.from({ length: n }, (_, i) => ({
    id: `d${i}`,
    text: topicText(next, i % TOPICS, 6 + Math.floor(next() * 20)),
    ...(i % 5 === 0 ? { title: topicText(titles, i % TOPICS, 2) } : {}),
    meta: { group: i % 3 },
  }));
}

export const QUERIES = (() => {
  const next = rng(11);
  return Array.from({ length: 30 }, (_, i) => topicText(next, (i * 7) % TOPICS, 2 + (i % 3)));
})();

/** Queries of the inference-free SPLADE static folder the global setup writes (test/generated/static/splade-inference-free). */
export const SPLADE_QUERIES = ['brown fox', 'Der faule Hund'];
