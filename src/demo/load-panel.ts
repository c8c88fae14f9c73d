import type { DeviceChoice, EncoderInfo, LoadProgress } from '../index.js';
import { $, layersText, mb } from './dom.js';

/** Progress bar and status lines of the model panel. */
export const loadPanel = {
  /** `reading` names the 'download' phase: a dropped folder's weights are converted, not downloaded. */
  progress(p: LoadProgress, reading: 'downloading' | 'converting' = 'downloading'): void {
    const bar = $('load-progress') as HTMLProgressElement;
    bar.value = p.total ? p.loaded / p.total : 0;
    const what = p.phase === 'cache' ? 'from the offline cache' : p.phase === 'download' ? reading : p.phase;
    $('load-status').textContent = `${what}${p.file ? ` ${p.file}` : ''}: ${mb(p.loaded)} of ${mb(p.total)}`;
  },

  ready(info: EncoderInfo, seconds: number, device: DeviceChoice): void {
    const m = info.model;
    ($('load-progress') as HTMLProgressElement).value = 1;
    $('load-status').textContent =
      `${m.id}: ${layersText(m.layers)}, ${m.hiddenSize} dims, ${m.quantization}, loaded in ${seconds.toFixed(1)} s` +
      (info.fromCache ? ' from the offline cache (no download)' : '');
    $('load-backend').textContent = backendLine(info, device);
    const { shared, clients } = info.engine;
    $('load-engine').textContent = shared
      ? `One engine for this site: ${clients} ${clients === 1 ? 'tab uses' : 'tabs use'} this model, its GPU device and its search index.`
      : 'This tab has an engine of its own (no SharedWorker here): a dedicated worker.';
  },

  /**
   * The depth the model answers at: with a progressive start the first answers come from the
   * first exit while the deeper layers download, and each deeper exit is announced as it lands.
   */
  depth(loaded: number, total: number, seconds: number, first: boolean): void {
    $('load-depth').textContent =
      loaded >= total
        ? first
          ? ''
          : `All ${total} layers loaded after ${seconds.toFixed(1)} s: answers now come from the full model.`
        : first
          ? `Answering from exit ${loaded} of ${total} while the other layers download.`
          : `Exit ${loaded} of ${total} arrived after ${seconds.toFixed(1)} s: answers upgraded to it; the rest is downloading.`;
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

const NAMES = { webgpu: 'WebGPU', cpu: 'the CPU' } as const;

/** Where calls run, and why: forced, WebGPU missing, or measured on this device (device 'auto'). */
function backendLine(info: EncoderInfo, device: DeviceChoice): string {
  const a = info.adapter;
  const adapter = `${[a?.vendor, a?.architecture, a?.description].filter(Boolean).join(' / ') || 'unknown adapter'}${a?.isFallback ? ' (software adapter)' : ''}`;
  const { short, batch } = info.backends;
  if (info.model.layers === 0) return `Running on the CPU: ${short.reason}.`;
  if (info.fallbackReason)
    return `No usable WebGPU here (${info.fallbackReason}): running on the CPU, which gives the same vectors.`;
  if (device === 'cpu') return 'Running on the CPU, as asked (?device=cpu): same vectors as WebGPU.';
  // Said only where WebGPU runs some calls: the CPU path has no activation type to choose.
  const act = info.activations;
  const precision =
    act && (device === 'webgpu' || short.backend === 'webgpu' || batch.backend === 'webgpu')
      ? ` ${act.type} activations: ${act.reason}.`
      : '';
  if (device === 'webgpu') return `Running on WebGPU, as asked (?device=webgpu): ${adapter}.${precision}`;
  if (short.backend === batch.backend) {
    const where = short.backend === 'webgpu' ? `WebGPU: ${adapter}` : 'the CPU';
    return `Running on ${where}, measured faster here for queries and batches (${short.reason}).${precision}`;
  }
  return `Queries run on ${NAMES[short.backend]}, batches on ${NAMES[batch.backend]}: measured faster here for each (${short.reason}; ${batch.reason}).${precision}`;
}
