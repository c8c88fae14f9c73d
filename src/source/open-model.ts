import { InputError } from '../errors.js';
import type { ModelFolder } from '../types.js';
import { parseHubId } from './hub-id.js';
import { type HubSourceOptions, openHubModel } from './hub-model.js';
import { openModelFolder } from './model-folder.js';
import { type ModelHandle, openPackUrl } from './model-source.js';

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string' && typeof window === 'undefined';
const URL_RE = /^(https?:|blob:|data:)/i;

/** Node-only modules, imported by a computed name so that browser bundlers never pull node:fs into the worker. */
const nodeOnly = <T>(file: string): Promise<T> => import(/* @vite-ignore */ ['.', file].join('/')) as Promise<T>;

/**
 * Opens `model`: a hub id (`hf:org/name[@revision]` or a bare `org/name`; see parseHubId), a pack
 * URL, a dropped folder (a ModelFolder), or in Node also a local pack or Hugging Face folder.
 */
export async function openModel(model: unknown, options: HubSourceOptions & { revision?: string }): Promise<ModelHandle> {
  if (typeof model === 'object' && model !== null && 'files' in model) {
    const { name, files } = model as Partial<ModelFolder>;
    if (typeof name !== 'string' || typeof files !== 'object' || files === null || Array.isArray(files)) {
      throw new InputError('a model folder must be { name: string, files: { [path]: Blob } }');
    }
    if (options.revision !== undefined) throw new InputError('revision applies to hub ids; a model folder has none');
    return openModelFolder(model as ModelFolder, options);
  }
  if (typeof model !== 'string' || model.trim() === '') {
    throw new InputError(
      `model must be a hub id, URL or folder path string, or a ModelFolder, got ${model === null ? 'null' : typeof model}`,
    );
  }
  const { revision, ...rest } = options;
  const hubId = isNode
    ? await (await nodeOnly<typeof import('./node-hub-id.js')>('node-hub-id.js')).nodeHubId(model, revision)
    : parseHubId(model, revision);
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
    return openHubModel(hubId, { ...rest, hub }, store);
  }
  if (revision !== undefined) {
    throw new InputError(`revision applies to hub ids (hf:org/name or org/name); ${JSON.stringify(model)} is not one`);
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
