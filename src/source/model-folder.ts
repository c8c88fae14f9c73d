import { InputError, ModelFormatError } from '../errors.js';
import { convertCheckpoint } from '../pack/convert.js';
import { MANIFEST_FILE } from '../pack/manifest.js';
import type { FetchLike } from '../store/fetch.js';
import type { ModelFolder } from '../types.js';
import { peekHfConfig } from '../weights/config.js';
import { QUANTS } from '../weights/weights.js';
import { HubRepo, openHubCheckpoint } from './hub.js';
import type { HubSourceOptions } from './hub-model.js';
import { type ModelHandle, openPack, openPackUrl } from './model-source.js';
import { declaredWidths } from './trained-widths.js';
import { WeightMeter } from './weight-meter.js';

// A dropped folder is read through the same code as a download: its files are served by a
// fetch (Range requests included), as a pack's URL or a hub repository's `resolve/` paths.
const ORIGIN = 'm3web-folder:';

/** Answers GET `${base}/${path}` from the folder's files, with Range requests as a CDN would. */
export function folderFetch(base: string, files: Record<string, Blob>): FetchLike {
  return async (url, init) => {
    const path = url.startsWith(`${base}/`)
      ? url
          .slice(base.length + 1)
          .split('/')
          .map(decodeURIComponent)
          .join('/')
      : '';
    const blob = Object.hasOwn(files, path) ? files[path] : undefined;
    if (!blob) return new Response(null, { status: 404 });
    const range = /^bytes=(\d+)-(\d*)$/.exec(new Headers(init?.headers).get('range') ?? '');
    if (!range) return new Response(blob);
    const start = Number(range[1]);
    const end = Math.min(range[2] ? Number(range[2]) : blob.size - 1, blob.size - 1);
    const headers = { 'content-range': `bytes ${start}-${end}/${blob.size}` };
    return new Response(blob.slice(start, end + 1), { status: 206, headers });
  };
}

/** Checks what the page sent; a folder crosses to the worker by structured clone, so only its shape is trusted. */
function checkFolder(folder: ModelFolder): void {
  const ok =
    typeof folder.name === 'string' &&
    typeof folder.files === 'object' &&
    folder.files !== null &&
    Object.values(folder.files).every((f) => f instanceof Blob);
  if (!ok) throw new InputError('a model folder is { name: string, files: { [path]: Blob } } (see EncoderOptions.model)');
}

/** A pack id from a folder's name: the manifest allows letters, digits, '.', '_' and '-'. */
const folderPackId = (name: string) =>
  name
    .replace(/[^\w.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 128) || 'folder';

/**
 * Opens a folder dropped or picked in the page: an m3web pack (manifest.json; every file checked
 * against it) or a Hugging Face folder, converted here tensor by tensor as a hub download is,
 * with progress in weight bytes. Nothing is cached: the folder is on this device already.
 */
export async function openModelFolder(folder: ModelFolder, options: HubSourceOptions): Promise<ModelHandle> {
  checkFolder(folder);
  const source = `folder ${folder.name}`;
  if (folder.files[MANIFEST_FILE]) {
    if (options.dims) throw new InputError(`dims are declared by the pack in ${source} (its manifest.json); leave them out`);
    const base = `${ORIGIN}/pack`;
    const handle = await openPackUrl(base, options, { fetch: folderFetch(base, folder.files), cache: null });
    return { ...handle, info: { ...handle.info, source } };
  }
  const gguf = Object.keys(folder.files).some((f) => /\.gguf$/i.test(f));
  // sentence-transformers' layouts that keep config.json in a module's folder name it in modules.json.
  if (!folder.files['config.json'] && !folder.files['modules.json'] && !gguf) {
    throw new ModelFormatError(
      `${source} has neither manifest.json (an m3web pack), config.json (a Hugging Face model) nor a .gguf file: drop the model's own folder`,
    );
  }
  const dtype = options.dtype ?? 'q8';
  if (!QUANTS.includes(dtype)) throw new InputError(`dtype must be one of ${QUANTS.join(', ')}, got ${JSON.stringify(dtype)}`);
  const id = folderPackId(folder.name);
  // Named in messages as `folder/<name>` (a missing model.safetensors, pickle-only weights).
  // The folder's file list stands in for the Hub's tree API: a GGUF file is found by it.
  const list = () => Response.json(Object.keys(folder.files).map((path) => ({ type: 'file', path })));
  const repo: HubRepo = new HubRepo({ repo: `folder/${id}`, revision: 'main' }, { url: ORIGIN }, (url, init) =>
    url === repo.treeUrl ? Promise.resolve(list()) : folderFetch(repo.base, folder.files)(url, init),
  );
  const meter = new WeightMeter(options.onProgress);
  const ckpt = await openHubCheckpoint(repo, meter);
  const hidden = peekHfConfig(ckpt.config, source).hiddenSize;
  // The widths its config or model card declares, as for a Hub model.
  const card = await folder.files['README.md']?.text();
  const dims = options.dims ?? (hidden === null ? undefined : declaredWidths(hidden, ckpt.config, card));
  const pack = await convertCheckpoint(ckpt, { id, quant: dtype, ...(dims ? { dims } : {}), source });
  meter.finish();
  return openPack(source, async () => ({ manifest: pack.manifest, files: pack.files, fromCache: false }), options.layers);
}
