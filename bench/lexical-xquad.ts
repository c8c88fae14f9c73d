/**
 * BM25 alone on xquad-dev (question -> paragraph R@1, monolingual and against English), through
 * the index's lexical mode with a constant stand-in encoder: lexical options measured in seconds,
 * without a model. `npm run bench -- lexical [DATA_DIR] [--ngrams]` (default data
 * ../shared/data); `m3web eval --search` gives the same lexical figures beside the vectors'.
 */
import { readXquad } from '../src/eval/dev-data.js';
import { openIndex } from '../src/search/index.js';
import type { IndexEncoder, VectorIndex } from '../src/search/types.js';
import type { ModelInfo } from '../src/types.js';

const model: ModelInfo = {
  id: 'constant',
  source: 'bench',
  layers: 1,
  hiddenSize: 4,
  exits: [1],
  dims: [4],
  pooling: 'mean',
  maxTokens: 512,
  quantization: 'f32',
  prefixes: {},
  quality: null,
};
const encoder: IndexEncoder = {
  info: () => ({ model, backend: 'cpu' }),
  async embedDetailed(texts) {
    return {
      vectors: texts.map(() => Float32Array.of(0.5, 0.5, 0.5, 0.5)),
      tokens: texts.map(() => 4),
      truncated: texts.map(() => false),
      layers: texts.map(() => 1),
    };
  },
};

async function paragraphs(texts: readonly string[], ngrams: boolean): Promise<VectorIndex> {
  const index = await openIndex({ encoder, name: 'lexical-xquad', device: 'cpu', ngrams });
  await index.add(texts.map((text, i) => ({ id: String(i), text })));
  return index;
}

export async function main(args: string[]): Promise<number> {
  const ngrams = args.includes('--ngrams');
  const dir = args.find((a) => !a.startsWith('--')) ?? '../shared/data';
  const data = await readXquad(`${dir}/xquad-dev`, undefined);

  const english = await paragraphs((data.get('en') as { paragraphs: string[] }).paragraphs, ngrams);
  const r1 = async (index: VectorIndex, questions: readonly { text: string; paragraph: number }[]) => {
    let hits = 0;
    for (const q of questions) if ((await index.search(q.text, { mode: 'lexical', k: 1 }))[0]?.id === String(q.paragraph)) hits++;
    return (100 * hits) / questions.length;
  };
  const mono: number[] = [];
  const cross: number[] = [];
  console.log(`BM25 R@1 %${ngrams ? ' (ngrams)' : ''}\nlang   mono  cross`);
  for (const [lang, d] of data) {
    const own = lang === 'en' ? english : await paragraphs(d.paragraphs, ngrams);
    const m = await r1(own, d.questions);
    const c = lang === 'en' ? null : await r1(english, d.questions);
    if (own !== english) own.close();
    mono.push(m);
    if (c !== null) cross.push(c);
    console.log(`${lang.padEnd(5)} ${m.toFixed(1).padStart(5)}  ${c === null ? '    -' : c.toFixed(1).padStart(5)}`);
  }
  const mean = (xs: number[]) => (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1).padStart(5);
  console.log(`mean  ${mean(mono)}  ${mean(cross)}`);
  english.close();
  return 0;
}
