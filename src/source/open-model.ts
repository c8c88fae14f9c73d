import { InputError } from '../errors.js';
import { type ModelHandle, openPackUrl, type SourceOptions } from './model-source.js';

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string' && typeof window === 'undefined';
const URL_RE = /^(https?:|blob:|data:)/i;

/**
 * Opens `model`: a pack URL anywhere, or in Node also a local pack or Hugging Face folder. The
 * Node module is imported by a computed name so that browser bundlers never try to pull
 * node:fs into the worker.
 */
export async function openModel(model: unknown, options: SourceOptions): Promise<ModelHandle> {
  if (typeof model !== 'string' || model.trim() === '') {
    throw new InputError(`model must be a URL or folder path string, got ${model === null ? 'null' : typeof model}`);
  }
  if (isNode && !URL_RE.test(model)) {
    const nodeModule = ['.', 'folder.js'].join('/');
    const { openFolderHandle } = (await import(/* @vite-ignore */ nodeModule)) as typeof import('./folder.js');
    return openFolderHandle(model, options.layers);
  }
  return openPackUrl(isNode ? model : new URL(model, globalThis.location?.href).href, options);
}
