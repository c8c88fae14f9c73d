import type { EncoderInfo, LoadProgress } from '../index.js';
import { $ } from './dom.js';

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** Progress bar and status lines of the model panel. */
export const loadPanel = {
  /** `reading` names the 'download' phase: a dropped folder's weights are converted, not downloaded. */
  progress(p: LoadProgress, reading: 'downloading' | 'converting' = 'downloading'): void {
    const bar = $('load-progress') as HTMLProgressElement;
    bar.value = p.total ? p.loaded / p.total : 0;
    const what = p.phase === 'cache' ? 'from the offline cache' : p.phase === 'download' ? reading : p.phase;
    $('load-status').textContent = `${what}${p.file ? ` ${p.file}` : ''}: ${mb(p.loaded)} of ${mb(p.total)}`;
  },

  ready(info: EncoderInfo, seconds: number): void {
    const m = info.model;
    ($('load-progress') as HTMLProgressElement).value = 1;
    $('load-status').textContent =
      `${m.id}: ${m.layers} layers, ${m.hiddenSize} dims, ${m.quantization}, loaded in ${seconds.toFixed(1)} s` +
      (info.fromCache ? ' from the offline cache (no download)' : '');
    const a = info.adapter;
    $('load-backend').textContent =
      info.backend === 'webgpu'
        ? `Running on WebGPU: ${[a?.vendor, a?.architecture, a?.description].filter(Boolean).join(' / ') || 'unknown adapter'}${a?.isFallback ? ' (software adapter)' : ''}.`
        : info.fallbackReason
          ? `No usable WebGPU here (${info.fallbackReason}): running on the CPU, which is slower but gives the same vectors.`
          : 'Running on the CPU, as asked (?device=cpu): slower than WebGPU, same vectors.';
    const { shared, clients } = info.engine;
    $('load-engine').textContent = shared
      ? `One engine for this site: ${clients} ${clients === 1 ? 'tab uses' : 'tabs use'} this model, its GPU device and its search index.`
      : 'This tab has an engine of its own (no SharedWorker here): a dedicated worker.';
  },

  failed(err: unknown): void {
    const status = $('load-status');
    status.classList.add('error');
    const code = (err as { code?: string }).code;
    const hint =
      code === 'STORAGE_QUOTA'
        ? ' Free some browser storage for this site, or reload: the model will then stream without the offline cache.'
        : code === 'NETWORK'
          ? ' Check the connection: the model has not been cached on this device yet.'
          : '';
    status.textContent = `The model could not be loaded: ${(err as Error).message ?? String(err)}.${hint}`;
  },
};
