import { createEncoder, type DeviceChoice, type Encoder, type ModelInfo, type SearchOptions } from '../index.js';
import { $, mb } from './dom.js';

/** How many of the first stage's hits the cross-encoder reorders. */
const RERANK_TOP = 20;

/** The search panel's second stage: a cross-encoder opened by Hub id on demand. */
/**
 * Whether a model only scores pairs (a cross-encoder, a ColBERT model) and makes no vector per
 * text to search with; BGE-M3's multi-vector output comes beside its dense one.
 */
export const scoresOnly = (model: ModelInfo): boolean =>
  model.crossEncoder === true || (model.lateInteraction !== undefined && !model.lateInteraction.pooled);

export interface RerankBox {
  /** The search's reranking step (with the instruction, for a reranker whose prompt takes one), or none. */
  step(): SearchOptions['rerank'];
  /** Called after a reranker is opened or removed. */
  onChange(listener: () => void): void;
}

/**
 * The "Rerank with" box: a Hub id opens a cross-encoder beside the page's model (its own engine in
 * the worker, downloaded once and kept offline like any model); an empty box removes it. An
 * embedding model is refused with the reason, and the one in use stays.
 */
export function setupRerankBox(options: { hub?: { url: string }; device: DeviceChoice }): RerankBox {
  const input = $('rerank-input') as HTMLInputElement;
  const button = $('rerank-open') as HTMLButtonElement;
  const status = (text: string, error = false) => {
    $('rerank-status').textContent = text;
    $('rerank-status').classList.toggle('error', error);
  };
  const listeners: (() => void)[] = [];
  let reranker: Encoder | null = null;
  const instructionRow = $('rerank-instruction-row');
  const instructionBox = $('rerank-instruction') as HTMLInputElement;
  // Shown, with the model's own instruction (empty where it has none), only for a reranker that takes one.
  const showInstruction = (text: string | undefined) => {
    instructionRow.hidden = text === undefined;
    instructionBox.value = text ?? '';
  };
  const open = async (id: string) => {
    const started = performance.now();
    const candidate = await createEncoder({
      model: id,
      device: options.device,
      ...(options.hub ? { hub: options.hub } : {}),
      onProgress: (p) => status(`Opening ${id}: ${p.phase}${p.file ? ` ${p.file}` : ''}, ${mb(p.loaded)} of ${mb(p.total)}`),
    });
    const { model } = await candidate.info();
    if (!model.crossEncoder && !model.lateInteraction) {
      await candidate.dispose();
      throw new Error(
        `${id} is an embedding model; a reranker is a cross-encoder (a sequence classifier with one label) or a late-interaction (ColBERT) model`,
      );
    }
    await reranker?.dispose();
    reranker = candidate;
    showInstruction(model.rerankInstruction);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    status(
      `Reranking the best ${RERANK_TOP} hits with ${model.id} (${model.layers} layers, ${model.quantization}), opened in ${seconds} s.`,
    );
  };
  $('rerank-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const id = input.value.trim();
    button.disabled = true;
    const done = id
      ? open(id)
      : (async () => {
          await reranker?.dispose();
          reranker = null;
          showInstruction(undefined);
          status('No reranking: the hits are ranked by the first stage alone.');
        })();
    done
      .then(() => {
        for (const listener of listeners) listener();
      })
      .catch((err: unknown) => status(`The reranker was not opened: ${(err as Error).message}`, true))
      .finally(() => {
        button.disabled = false;
      });
  });
  instructionBox.addEventListener('change', () => {
    for (const listener of listeners) listener();
  });
  button.disabled = false;
  return {
    step: () => {
      if (!reranker) return undefined;
      const instruction = instructionRow.hidden ? '' : instructionBox.value.trim();
      return { reranker, top: RERANK_TOP, ...(instruction ? { instruction } : {}) };
    },
    onChange: (listener) => listeners.push(listener),
  };
}
