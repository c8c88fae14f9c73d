import { type Encoder, sparseScore } from '../index.js';
import { $ } from './dom.js';
import { scoresOnly } from './rerank-box.js';

export const SAMPLE_SENTENCES = [
  'The weather is lovely today.',
  'Das Wetter ist heute herrlich.',
  "Il fait un temps magnifique aujourd'hui.",
  '今日はとても良い天気です。',
  'Where is the nearest train station?',
  '¿Dónde está la estación de tren más cercana?',
  'The committee approved the budget.',
];

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/**
 * Every pair's score (cosine, or a reranker's relevance of the column's text to the row's) as
 * a table whose cells shade from white (0) to blue (`full`: 1, or a late-interaction model's
 * largest MaxSim, a sum over the query's tokens).
 */
function heatmap(texts: string[], scores: number[][], what: string, full = 1): HTMLTableElement {
  const table = document.createElement('table');
  table.className = 'heatmap';
  texts.forEach((text, i) => {
    const row = table.insertRow();
    const head = document.createElement('th');
    head.textContent = text;
    head.title = text;
    row.append(head);
    (scores[i] as number[]).forEach((s, j) => {
      const cell = row.insertCell();
      cell.textContent = s.toFixed(2);
      const shade = Math.max(0, Math.min(1, s / full));
      cell.style.background = `rgba(25, 103, 210, ${shade.toFixed(2)})`;
      cell.style.color = shade > 0.55 ? '#fff' : '#1d232a';
      cell.title = `${texts[i]}\n${texts[j]}\n${what} ${s.toFixed(4)}`;
    });
  });
  return table;
}

/** The task adapter a model made for similarity runs (jina-embeddings-v3's), where it has one. */
const SIMILARITY_TASK = 'text-matching';

/**
 * The compare panel: embeds each line and shows every pair's cosine at the chosen shape (on a
 * model with task adapters, under its similarity adapter; a cross-encoder scores each row's text
 * against every line instead). Returns what to call when a deeper exit has arrived: an answer that
 * came from a shallower exit than asked (a progressive start still downloading) is embedded again.
 */
export async function setupComparePanel(encoder: Encoder, shape: () => { layers: number; dims: number }): Promise<() => void> {
  let shallow = false;
  const { model } = await encoder.info();
  const task = model.tasks?.includes(SIMILARITY_TASK) ? SIMILARITY_TASK : undefined;
  const input = $('compare-input') as HTMLTextAreaElement;
  const button = $('compare-run') as HTMLButtonElement;
  input.value = SAMPLE_SENTENCES.join('\n');
  const run = async () => {
    const texts = input.value
      .split('\n')
      .map((t) => t.trim())
      .filter(Boolean);
    if (texts.length === 0) {
      $('compare-time').textContent = 'Type at least one sentence, one per line.';
      return;
    }
    button.disabled = true;
    try {
      const { layers, dims } = shape();
      const started = performance.now();
      if (scoresOnly(model)) {
        const scores = await Promise.all(
          texts.map(async (query) => {
            const row = new Array<number>(texts.length);
            for (const hit of await encoder.rerank(query, texts, { layers })) row[hit.index] = hit.score;
            return row;
          }),
        );
        const ms = performance.now() - started;
        const by = model.lateInteraction ? 'late interaction (MaxSim)' : 'the cross-encoder';
        $('compare-time').textContent =
          `${texts.length * texts.length} pairs scored by ${by} in ${ms.toFixed(0)} ms at ${layers} layers (row: query, column: document).`;
        const full = model.lateInteraction ? Math.max(...scores.flat()) : 1;
        $('compare-heatmap').replaceChildren(heatmap(texts, scores, model.lateInteraction ? 'MaxSim' : 'relevance', full));
        return;
      }
      if (model.sparseOnly) {
        // Inference-free SPLADE weighs queries by a table and documents by the model: rows and columns differ.
        const weights = await encoder.embedSparse(texts, model.staticQuery ? { kind: 'passage' } : {});
        const queries = model.staticQuery ? await encoder.embedSparse(texts, { kind: 'query' }) : weights;
        const ms = performance.now() - started;
        const scores = queries.map((a) => weights.map((b) => sparseScore(a, b)));
        const terms = weights.reduce((n, w) => n + w.indices.length, 0) / weights.length;
        const how = model.staticQuery ? ' (row: the query, weighed by its table; column: the document)' : '';
        $('compare-time').textContent =
          `${texts.length} texts weighed over the vocabulary in ${ms.toFixed(0)} ms (${terms.toFixed(0)} weighted tokens a text on average); cells: SPLADE's dot product${how}, shaded against the largest.`;
        $('compare-heatmap').replaceChildren(heatmap(texts, scores, 'dot product', Math.max(...scores.flat())));
        return;
      }
      const { vectors, layers: exits } = await encoder.embedDetailed(texts, { layers, dims, ...(task ? { task } : {}) });
      const ms = performance.now() - started;
      const exit = Math.min(...exits);
      shallow = exit < layers;
      const depth = shallow ? `exit ${exit} of the ${layers} layers asked (the rest is still downloading)` : `${layers} layers`;
      const adapter = task ? ` with the ${task} adapter` : '';
      $('compare-time').textContent =
        `${texts.length} sentences embedded in ${ms.toFixed(0)} ms at ${depth} x ${dims} dims${adapter}.`;
      const cosines = vectors.map((a) => vectors.map((b) => dot(a, b)));
      $('compare-heatmap').replaceChildren(heatmap(texts, cosines, 'cosine'));
    } catch (err) {
      $('compare-time').textContent = `Embedding failed: ${(err as Error).message}`;
    } finally {
      button.disabled = false;
    }
  };
  // One run at a time, so an upgrade that lands mid-run is seen by the run after it.
  let last = Promise.resolve();
  const queue = (job: () => Promise<void>) => {
    last = last.then(job);
    return last;
  };
  button.addEventListener('click', () => void queue(run));
  button.disabled = false;
  await queue(run);
  return () => void queue(async () => (shallow ? run() : undefined));
}
