/**
 * The hub conversion page of `npm run bench -- hub-heap`: ?model=hf:org/name&hub=<fake hub URL>.
 * Opens the id in a dedicated worker (shared: false, so CDP reaches it as the page's worker),
 * tells the driver when the conversion is stored (progress 'done'), and says what it stored.
 */
import { createEncoder, listCachedModels } from '../../src/index.js';

export interface HubHeapResult {
  /** From createEncoder to the 'done' progress event: download, conversion and storage. */
  convertSeconds: number;
  /** Bytes of the stored pack (tokenizer and shards). */
  packBytes: number;
  id: string;
  quantization: string;
}

declare global {
  interface Window {
    /** Exposed by the driver: the conversion is stored; stop sampling before the pack is opened. */
    conversionDone?: () => Promise<void>;
    hubHeap: Promise<HubHeapResult>;
  }
}

const query = new URLSearchParams(location.search);

window.hubHeap = (async () => {
  const started = performance.now();
  let convertSeconds = Number.NaN;
  const encoder = await createEncoder({
    model: query.get('model') ?? '',
    hub: { url: query.get('hub') ?? '' },
    dtype: query.get('dtype') === 'f32' ? 'f32' : 'q8',
    device: 'cpu',
    shared: false,
    onProgress: (p) => {
      if (p.phase !== 'done') return;
      convertSeconds = (performance.now() - started) / 1000;
      void window.conversionDone?.();
    },
  });
  const { model } = await encoder.info();
  await encoder.dispose();
  const stored = (await listCachedModels()).filter((m) => m.id === model.id);
  return { convertSeconds, packBytes: stored.reduce((n, m) => n + m.bytes, 0), id: model.id, quantization: model.quantization };
})();
