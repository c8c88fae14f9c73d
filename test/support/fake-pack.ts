import type { PackManifest } from '../../src/pack/manifest.js';
import { sha256Hex } from '../../src/pack/sha256.js';
import type { FetchLike } from '../../src/store/fetch.js';
import { rng } from './random.js';

// A model pack of random bytes and an in-memory server for it, for the store tests in Node and
// in the browser.

export interface TestPack {
  manifest: PackManifest;
  manifestBytes: Uint8Array;
  files: Map<string, Uint8Array>;
}

export function randomBytes(n: number, next: () => number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(next() * 256));
}

/** A parseManifest-valid pack: tokenizer, embeddings and one shard per layer, each with its real SHA-256. */
export async function makePack(numLayers = 6, seed = 1, id = 'tiny'): Promise<TestPack> {
  const next = rng(seed);
  const files = new Map<string, Uint8Array>();
  const entry = async (file: string, bytes: number) => {
    const data = randomBytes(bytes, next);
    files.set(file, data);
    return { file, bytes, sha256: await sha256Hex(data) };
  };
  const shard = async (file: string, bytes: number) => ({
    ...(await entry(file, bytes)),
    tensors: [{ name: `${file}.w`, dtype: 'f32' as const, shape: [bytes / 4], offset: 0, bytes }],
  });
  const shards: PackManifest['shards'] = [{ ...(await shard('embeddings.bin', 4096)), kind: 'embeddings' }];
  for (let l = 0; l < numLayers; l++) {
    shards.push({ ...(await shard(`layer-0${l}.bin`, 2048 + 512 * l)), kind: 'layers', layers: [l, l + 1] });
  }
  const manifest: PackManifest = {
    format: 'm3web-pack',
    version: 1,
    id,
    config: { model_type: 'bert', num_hidden_layers: numLayers, hidden_size: 8 },
    tokenizer: await entry('tokenizer.json', 1000),
    quantization: { linear: 'f32', embeddings: 'f32' },
    shards,
    exits: [2, numLayers],
    dims: [4, 8],
    pooling: 'mean',
    maxTokens: 128,
    prefixes: { query: 'query: ', passage: 'passage: ' },
    quality: {
      dataset: 'toy',
      rows: [{ layers: 2, dims: 4, score: 0.5, metrics: { a: 0.4 } }],
      baseline: { name: 'bm25', score: 0.3 },
    },
  };
  return { manifest, manifestBytes: new TextEncoder().encode(JSON.stringify(manifest)), files };
}

export interface ServerOptions {
  /** Bytes per body chunk. */
  chunk?: number;
  /** File -> byte count after which its next response breaks off (once). */
  cutAfter?: Map<string, number>;
  /** File -> how many more responses carry one flipped byte. */
  corrupt?: Map<string, number>;
  /** Answer Range requests with the whole file and 200, as some servers do. */
  ignoreRange?: boolean;
  /** Serve this many extra bytes after each file. */
  extraBytes?: number;
}

export interface Request {
  file: string;
  range: string | null;
}

/** A body that delivers `bytes` in chunks and, given `cutAt`, errors after that many bytes as a dropped connection does. */
export function bodyOf(bytes: Uint8Array, chunk: number, cutAt?: number): ReadableStream<Uint8Array> {
  let pos = 0;
  return new ReadableStream({
    pull(controller) {
      if (cutAt !== undefined && pos >= cutAt) return controller.error(new TypeError('network error: connection reset'));
      if (pos >= bytes.byteLength) return controller.close();
      const end = Math.min(pos + chunk, bytes.byteLength, cutAt ?? Number.POSITIVE_INFINITY);
      controller.enqueue(bytes.slice(pos, end));
      pos = end;
    },
  });
}

export function serve(base: string, pack: TestPack, options: ServerOptions = {}): { fetch: FetchLike; requests: Request[] } {
  const requests: Request[] = [];
  const cuts = new Map(options.cutAfter);
  const corrupt = new Map(options.corrupt);
  const fetch: FetchLike = async (url, init) => {
    const file = url.slice(base.length + 1);
    const range = new Headers(init?.headers).get('range');
    requests.push({ file, range });
    let body = file === 'manifest.json' ? pack.manifestBytes : pack.files.get(file);
    if (!url.startsWith(`${base}/`) || !body) return new Response('no such file', { status: 404, statusText: 'Not Found' });
    if (options.extraBytes) body = Uint8Array.from([...body, ...new Uint8Array(options.extraBytes)]);
    if ((corrupt.get(file) ?? 0) > 0) {
      corrupt.set(file, (corrupt.get(file) as number) - 1);
      body = body.slice();
      body[body.length >> 1] = (body[body.length >> 1] as number) ^ 0x40;
    }
    const m = /^bytes=(\d+)-$/.exec(range ?? '');
    const start = m && !options.ignoreRange ? Number(m[1]) : 0;
    const headers = new Headers({ 'content-length': String(body.byteLength - start) });
    if (m && !options.ignoreRange) headers.set('content-range', `bytes ${start}-${body.byteLength - 1}/${body.byteLength}`);
    const cut = cuts.get(file);
    cuts.delete(file);
    return new Response(bodyOf(body.subarray(start), options.chunk ?? 700, cut), { status: start ? 206 : 200, headers });
  };
  return { fetch, requests };
}

export const BASE = 'https://models.test/packs/tiny';
export const offline: FetchLike = () => Promise.reject(new TypeError('Failed to fetch'));
