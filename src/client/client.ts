import { InputError } from '../errors.js';
import { openIndex } from '../search/index.js';
import type { IndexOptions, StaticIndex, StaticIndexOptions, VectorIndex } from '../search/types.js';
import type { EncoderOptions } from '../types.js';
import { QUANTS } from '../weights/weights.js';
import { type Encoder, EncoderClient } from './encoder.js';

export type { Encoder } from './encoder.js';

function checkOptions(options: unknown): asserts options is EncoderOptions {
  if (typeof options !== 'object' || options === null)
    throw new InputError('createEncoder needs an options object: { model, device?, onProgress? }');
  const o = options as EncoderOptions;
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new InputError('onProgress must be a function');
  if (o.shared !== undefined && typeof o.shared !== 'boolean') throw new InputError('shared must be true or false');
  if (o.progressive !== undefined && typeof o.progressive !== 'boolean')
    throw new InputError('progressive must be true or false');
  if (o.onUpgrade !== undefined && typeof o.onUpgrade !== 'function') throw new InputError('onUpgrade must be a function');
  if (o.dtype !== undefined && !QUANTS.includes(o.dtype))
    throw new InputError(`dtype must be one of ${QUANTS.join(', ')}, got ${JSON.stringify(o.dtype)}`);
  if (o.layers !== undefined && (!Number.isInteger(o.layers) || o.layers < 0))
    throw new InputError(`layers must be a whole number of layers, got ${JSON.stringify(o.layers)}`);
  if (o.cache !== undefined && typeof o.cache !== 'boolean') throw new InputError('cache must be true or false');
  if (o.hub !== undefined && (typeof o.hub !== 'object' || o.hub === null || Array.isArray(o.hub)))
    throw new InputError('hub must be an object { url?, token? }');
}

/**
 * Loads a model and returns an encoder. In a page the model, tokenizer, GPU device, cache and
 * indexes live in one engine per origin: a SharedWorker that every tab opening this model shares
 * (one download, one copy of the weights, one device), or a dedicated worker where the browser
 * has no SharedWorker (or `shared: false`). In Node the same engine runs in-process, on Dawn.
 *
 * @example
 * const encoder = await createEncoder({ model: '/models/m3-mini' });
 * const [v] = await encoder.embed(['Wie spät ist es?'], { layers: 3, dims: 64 });
 * v.length; // 64
 *
 * With `progressive: true` it resolves once the first trained exit is loaded and serves each call
 * at the deepest exit loaded so far while the rest downloads:
 * const fast = await createEncoder({ model: '/models/m3-mini', progressive: true, onUpgrade: (l) => console.log(l) });
 * (await fast.embedDetailed(['Wie spät ist es?'])).layers; // [1] at first; [6] once the log has said 6
 */
export async function createEncoder(options: EncoderOptions): Promise<Encoder> {
  checkOptions(options);
  return EncoderClient.create(options);
}

/**
 * Opens a search index over `options.encoder`. With an encoder from createEncoder the index
 * lives in the engine beside the model: documents are embedded and scored there, on the
 * encoder's own GPU device, and vectors never cross to the page; a stored index is shared by
 * every tab of the engine. Any other object with `embedDetailed` and `info` (vectors from your
 * own server, say) gets an index in this thread, scoring on a device of its own.
 *
 * @example
 * const index = await createIndex({ encoder, name: 'docs', store: 'indexeddb' });
 * await index.add([{ id: 'a', text: 'Die Katze schläft auf dem Sofa.' }]);
 * (await index.search('where is the cat?', { k: 1 }))[0].id; // 'a'
 *
 * With `url` it opens, read-only, the folder `m3web index --static` wrote (StaticIndexOptions);
 * without an encoder it ranks that folder by words alone, with no model to download:
 * const site = await createIndex({ encoder, url: '/search-index/' });
 * const words = await createIndex({ url: '/search-index/' });
 */
export async function createIndex(options: StaticIndexOptions): Promise<StaticIndex>;
export async function createIndex(options: IndexOptions): Promise<VectorIndex>;
export async function createIndex(options: IndexOptions | StaticIndexOptions): Promise<VectorIndex> {
  if (typeof options !== 'object' || options === null) {
    throw new InputError('createIndex needs an options object: { encoder, name, ... }');
  }
  const { encoder, ...rest } = options;
  if (encoder instanceof EncoderClient) return encoder.openIndex(rest);
  return openIndex(options);
}
