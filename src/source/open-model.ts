import { InputError } from '../errors.js';
import { parseHubId } from './hub.js';
import { type HubSourceOptions, openHubModel } from './hub-model.js';
import { type ModelHandle, openPackUrl } from './model-source.js';

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string' && typeof window === 'undefined';
const URL_RE = /^(https?:|blob:|data:)/i;

/** Node-only modules, imported by a computed name so that browser bundlers never pull node:fs into the worker. */
const nodeOnly = <T>(file: string): Promise<T> => import(/* @vite-ignore */ ['.', file].join('/')) as Promise<T>;

/**
 * Opens `model`: a hub id (`hf:org/name[@revision]`), a pack URL, or in Node also a local pack or
 * Hugging Face folder.
 */
export async function openModel(model: unknown, options: HubSourceOptions): Promise<ModelHandle> {
  if (typeof model !== 'string' || model.trim() === '') {
    throw new InputError(`model must be a hub id, URL or folder path string, got ${model === null ? 'null' : typeof model}`);
  }
  const hubId = parseHubId(model);
  if (hubId) {
    // In Node the environment may name the hub and the token, as for Hugging Face's own tools.
    const hubUrl = options.hub?.url ?? (isNode ? process.env.M3WEB_HUB_URL : undefined);
    const token = options.hub?.token ?? (isNode ? process.env.HF_TOKEN : undefined);
    const hub = { ...(hubUrl ? { url: hubUrl } : {}), ...(token ? { token } : {}) };
    const store = isNode
      ? (await nodeOnly<typeof import('./hub-folder.js')>('hub-folder.js')).folderHubStore()
      : options.cache === false
        ? null
        : (await import('./hub-idb.js')).idbHubStore();
    return openHubModel(hubId, { ...options, hub }, store);
  }
  if (options.dims && !isNode) {
    throw new InputError('dims are declared by the pack (its manifest.json); they apply to hub ids and Hugging Face folders');
  }
  if (model.startsWith('hf:')) {
    throw new InputError(`${JSON.stringify(model)} is not a hub id: write hf:org/name or hf:org/name@revision`);
  }
  if (isNode && !URL_RE.test(model)) {
    const { openFolderHandle } = await nodeOnly<typeof import('./folder.js')>('folder.js');
    return openFolderHandle(model, options.layers, options.dims);
  }
  return openPackUrl(isNode ? model : new URL(model, globalThis.location?.href).href, options);
}
