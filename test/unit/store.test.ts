import { describe, expect, it } from 'vitest';
import { IntegrityError, M3WebError, ModelFormatError, NetworkError, UnsupportedError } from '../../src/errors.js';
import type { PackManifest } from '../../src/pack/manifest.js';
import { sha256Hex } from '../../src/pack/sha256.js';
import type { FetchLike } from '../../src/store/fetch.js';
import { fetchFile } from '../../src/store/fetch.js';
import { clearCache, listCachedModels, openPackCache, persistStorage } from '../../src/store/index.js';
import { loadPackFiles, type PackLoadProgress, parseManifestText } from '../../src/store/pack-loader.js';
import { BASE, bodyOf, makePack, offline, serve } from '../support/fake-pack.js';
import { rng } from '../support/random.js';
import { rejection } from '../support/rejection.js';

// ---- fetchFile ----

describe('fetchFile', () => {
  it('resumes a body that breaks off with a Range request and appends the 206 answer', async () => {
    const pack = await makePack();
    const bytes = pack.files.get('embeddings.bin') as Uint8Array;
    const { fetch, requests } = serve(BASE, pack, { cutAfter: new Map([['embeddings.bin', 1500]]) });
    const progress: [number, number][] = [];
    const got = await fetchFile(`${BASE}/embeddings.bin`, {
      expectedBytes: bytes.byteLength,
      fetch,
      onProgress: (l, t) => progress.push([l, t]),
    });
    expect(got).toEqual(bytes);
    expect(requests).toEqual([
      { file: 'embeddings.bin', range: null },
      { file: 'embeddings.bin', range: 'bytes=1500-' },
    ]);
    expect(progress.map((p) => p[0])).toEqual([700, 1400, 1500, 2200, 2900, 3600, 4096]);
    expect(progress.every((p) => p[1] === 4096)).toBe(true);
  });

  it('starts over when the server ignores Range and answers 200', async () => {
    const pack = await makePack();
    const bytes = pack.files.get('layer-03.bin') as Uint8Array;
    const { fetch, requests } = serve(BASE, pack, { cutAfter: new Map([['layer-03.bin', 2000]]), ignoreRange: true });
    const progress: number[] = [];
    const got = await fetchFile(`${BASE}/layer-03.bin`, {
      expectedBytes: bytes.byteLength,
      fetch,
      onProgress: (l) => progress.push(l),
    });
    expect(got).toEqual(bytes);
    expect(requests.map((r) => r.range)).toEqual([null, 'bytes=2000-']);
    // Progress went back to the start with the second, full body.
    expect(progress.slice(0, 4)).toEqual([700, 1400, 2000, 700]);
    expect(progress.at(-1)).toBe(bytes.byteLength);
  });

  it('gives up with a NetworkError after 3 retries', async () => {
    const pack = await makePack();
    let calls = 0;
    const cutting: FetchLike = async () => {
      calls++;
      return new Response(bodyOf(pack.files.get('tokenizer.json') as Uint8Array, 100, 10));
    };
    const err = await rejection(fetchFile(`${BASE}/tokenizer.json`, { expectedBytes: 1000, fetch: cutting }));
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as Error).message).toContain(`${BASE}/tokenizer.json`);
    expect((err as Error).message).toMatch(/gave up after 3 retries/);
    expect(calls).toBe(4);
  });

  it('refuses a body longer than the expected size', async () => {
    const pack = await makePack();
    const { fetch } = serve(BASE, pack, { extraBytes: 1 });
    const err = await rejection(fetchFile(`${BASE}/tokenizer.json`, { expectedBytes: 1000, fetch }));
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toContain('more than the 1000 bytes');
  });

  it('throws ABORTED when the signal fires mid-download, and before any request when already aborted', async () => {
    const pack = await makePack();
    const { fetch, requests } = serve(BASE, pack);
    const ac = new AbortController();
    const err = await rejection(
      fetchFile(`${BASE}/embeddings.bin`, { expectedBytes: 4096, fetch, signal: ac.signal, onProgress: () => ac.abort() }),
    );
    expect(err).toBeInstanceOf(M3WebError);
    expect((err as M3WebError).code).toBe('ABORTED');
    expect(requests).toHaveLength(1);
    const again = await rejection(fetchFile(`${BASE}/embeddings.bin`, { expectedBytes: 4096, fetch, signal: ac.signal }));
    expect((again as M3WebError).code).toBe('ABORTED');
    expect(requests).toHaveLength(1);
  });

  it('turns HTTP 404 into a NetworkError naming the URL and status, without retrying', async () => {
    const pack = await makePack();
    const { fetch, requests } = serve(BASE, pack);
    const err = await rejection(fetchFile(`${BASE}/missing.bin`, { expectedBytes: 10, fetch }));
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as Error).message).toBe(`${BASE}/missing.bin: HTTP 404 Not Found`);
    expect(requests).toHaveLength(1);
  });

  it('refuses sizes no buffer can hold with an M3WebError, before any request', async () => {
    const { fetch, requests } = serve(BASE, await makePack());
    const err = await rejection(fetchFile(`${BASE}/tokenizer.json`, { expectedBytes: 1e15, fetch }));
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(requests).toHaveLength(0);
  });
});

// ---- loadPackFiles without a cache ----

describe('loadPackFiles (no cache)', () => {
  it('loads and verifies every file, with progress ending at loaded === total', async () => {
    const pack = await makePack();
    const { fetch, requests } = serve(BASE, pack);
    const events: PackLoadProgress[] = [];
    const out = await loadPackFiles(`${BASE}/`, { fetch, cache: null, onProgress: (p) => events.push(p) });
    expect(out.manifest).toEqual(pack.manifest);
    expect(out.manifestHash).toBe((await sha256Hex(pack.manifestBytes)).slice(0, 16));
    expect(out.fromCache).toBe(false);
    expect([...out.files.keys()].sort()).toEqual([...pack.files.keys()].sort());
    for (const [name, bytes] of pack.files) expect(out.files.get(name)).toEqual(bytes);
    expect(requests.filter((r) => r.file === 'manifest.json')).toHaveLength(1);
    const total = [...pack.files.values()].reduce((n, b) => n + b.byteLength, 0);
    expect(events[0]?.phase).toBe('manifest');
    expect(events.at(-1)).toEqual({ phase: 'done', fileLoaded: 0, fileTotal: 0, loaded: total, total });
    const downloads = events.filter((e) => e.phase === 'download');
    expect(downloads.every((e) => e.total === total && e.loaded <= total && e.fileLoaded <= e.fileTotal)).toBe(true);
    expect(downloads.map((e) => e.loaded)).toEqual([...downloads.map((e) => e.loaded)].sort((a, b) => a - b));
  });

  it('loads depth-progressively: 2 of 6 layers first, then only the rest', async () => {
    const pack = await makePack(6);
    const { fetch, requests } = serve(BASE, pack);
    const first = await loadPackFiles(BASE, { fetch, cache: null, layers: 2 });
    const firstFiles = ['tokenizer.json', 'embeddings.bin', 'layer-00.bin', 'layer-01.bin'];
    expect([...first.files.keys()]).toEqual(firstFiles);
    expect(requests.map((r) => r.file)).toEqual(['manifest.json', ...firstFiles]);

    requests.length = 0;
    const events: PackLoadProgress[] = [];
    const second = await loadPackFiles(BASE, {
      fetch,
      cache: null,
      have: new Set(first.files.keys()),
      onProgress: (p) => events.push(p),
    });
    const rest = ['layer-02.bin', 'layer-03.bin', 'layer-04.bin', 'layer-05.bin'];
    expect([...second.files.keys()]).toEqual(rest);
    expect(requests.map((r) => r.file)).toEqual(['manifest.json', ...rest]);
    const restBytes = rest.reduce((n, f) => n + (pack.files.get(f) as Uint8Array).byteLength, 0);
    expect(events.at(-1)).toMatchObject({ phase: 'done', loaded: restBytes, total: restBytes });
  });

  it('re-fetches a file whose bytes arrive corrupted once', async () => {
    const pack = await makePack();
    const { fetch, requests } = serve(BASE, pack, { corrupt: new Map([['layer-01.bin', 1]]) });
    const out = await loadPackFiles(BASE, { fetch, cache: null });
    expect(out.files.get('layer-01.bin')).toEqual(pack.files.get('layer-01.bin'));
    expect(requests.filter((r) => r.file === 'layer-01.bin')).toHaveLength(2);
  });

  it('throws IntegrityError naming the file and both hashes when the bytes are wrong twice', async () => {
    const pack = await makePack();
    const { fetch, requests } = serve(BASE, pack, { corrupt: new Map([['layer-01.bin', 2]]) });
    const err = await rejection(loadPackFiles(BASE, { fetch, cache: null }));
    expect(err).toBeInstanceOf(IntegrityError);
    const bad = (pack.files.get('layer-01.bin') as Uint8Array).slice();
    bad[bad.length >> 1] = (bad[bad.length >> 1] as number) ^ 0x40;
    const expected = pack.manifest.shards.find((s) => s.file === 'layer-01.bin')?.sha256 as string;
    expect((err as Error).message).toBe(
      `layer-01.bin: SHA-256 is ${await sha256Hex(bad)} but the manifest lists ${expected} (fetched twice)`,
    );
    expect(requests.filter((r) => r.file === 'layer-01.bin')).toHaveLength(2);
  });

  it('recovers from a cut-off mid-shard', async () => {
    const pack = await makePack();
    const { fetch, requests } = serve(BASE, pack, { cutAfter: new Map([['layer-04.bin', 1234]]) });
    const out = await loadPackFiles(BASE, { fetch, cache: null });
    expect(out.files.get('layer-04.bin')).toEqual(pack.files.get('layer-04.bin'));
    expect(requests.filter((r) => r.file === 'layer-04.bin').map((r) => r.range)).toEqual([null, 'bytes=1234-']);
  });

  it('fails offline with a NetworkError saying the model was never cached', async () => {
    const err = await rejection(loadPackFiles(BASE, { fetch: offline, cache: null }));
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as Error).message).toMatch(/never cached/);
    expect((err as Error).message).toContain(`${BASE}/manifest.json`);
  });

  it('runs without IndexedDB: no cache by default, empty cache management', async () => {
    expect(openPackCache()).toBeNull();
    expect(await listCachedModels()).toEqual([]);
    await clearCache();
    expect(await persistStorage()).toBe(false);
    const pack = await makePack(2);
    const { fetch, requests } = serve(BASE, pack);
    await loadPackFiles(BASE, { fetch });
    const again = await loadPackFiles(BASE, { fetch });
    expect(again.fromCache).toBe(false);
    expect(requests).toHaveLength(2 * (1 + pack.files.size));
  });

  it('rejects layer counts outside the model', async () => {
    const { fetch } = serve(BASE, await makePack(6));
    for (const layers of [0, 7, 2.5]) {
      expect(((await rejection(loadPackFiles(BASE, { fetch, cache: null, layers }))) as M3WebError).code).toBe('INVALID_INPUT');
    }
  });

  it('reports a manifest that is not JSON as MODEL_FORMAT', async () => {
    const pack = await makePack();
    const { fetch } = serve(BASE, { ...pack, manifestBytes: new TextEncoder().encode('<html>captive portal</html>') });
    expect(await rejection(loadPackFiles(BASE, { fetch, cache: null }))).toBeInstanceOf(ModelFormatError);
  });
});

// ---- manifest fuzzing ----

const FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const NASTY: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e15,
  2 ** 53,
  -1e308,
  1e308,
  '',
  '../x',
  '..',
  'a/b',
  '%2e%2e',
  'x'.repeat(200),
  [],
  {},
  [1e15],
  { file: '../x' },
];

type Node = Record<string, unknown> | unknown[];

/** Every container in the tree with its keys, so a mutation can reach any depth. */
function containers(v: unknown, out: Node[] = []): Node[] {
  if (typeof v === 'object' && v !== null) {
    out.push(v as Node);
    for (const child of Object.values(v)) containers(child, out);
  }
  return out;
}

function mutateTree(root: unknown, next: () => number): void {
  const all = containers(root);
  const node = all[Math.floor(next() * all.length)] as Record<string, unknown>;
  const keys = Object.keys(node);
  const key = keys.length && next() < 0.9 ? (keys[Math.floor(next() * keys.length)] as string) : 'extra';
  const op = next();
  if (op < 0.15) delete node[key];
  else if (op < 0.3) node[key] = node[key] === null ? 1 : typeof node[key] === 'string' ? 7 : String(node[key]);
  else if (op < 0.45 && typeof node[key] === 'number')
    node[key] = (node[key] as number) * (next() < 0.5 ? 1e9 : -1) + (next() < 0.3 ? 0.5 : 0);
  else if (op < 0.55) node[key] = structuredClone(all[Math.floor(next() * all.length)]);
  else node[key] = structuredClone(NASTY[Math.floor(next() * NASTY.length)]);
}

function mutateText(text: string, next: () => number): string {
  const at = Math.floor(next() * text.length);
  const op = next();
  if (op < 0.4) return text.slice(0, at);
  if (op < 0.8)
    return text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ (1 << Math.floor(next() * 7))) + text.slice(at + 1);
  return text.slice(0, at) + '"}]1e999,'[Math.floor(next() * 9)] + text.slice(at);
}

describe('manifest fuzzing', () => {
  it('parses or throws ModelFormatError for thousands of mutated manifests, and what parses is bounded', async () => {
    const { manifest } = await makePack(4, 3);
    const next = rng(2024);
    const outcomes = { parsed: 0, refused: 0 };
    const t0 = performance.now();
    for (let i = 0; i < 4000; i++) {
      const tree = structuredClone(manifest) as unknown;
      const treeMutations = 1 + Math.floor(next() * 3);
      for (let k = 0; k < treeMutations; k++) mutateTree(tree, next);
      let text = JSON.stringify(tree);
      if (next() < 0.3) text = mutateText(text, next);
      let parsed: PackManifest;
      try {
        parsed = parseManifestText(text);
      } catch (e) {
        if (!(e instanceof ModelFormatError)) throw new Error(`mutation ${i} threw ${String(e)} for ${text.slice(0, 400)}`);
        outcomes.refused++;
        continue;
      }
      outcomes.parsed++;
      for (const f of [parsed.tokenizer, ...parsed.shards]) {
        expect(f.file).toMatch(FILE_RE);
        expect(Number.isSafeInteger(f.bytes) && f.bytes >= 0).toBe(true);
      }
      for (const s of parsed.shards) for (const t of s.tensors) expect(t.offset + t.bytes).toBeLessThanOrEqual(s.bytes);
    }
    expect(performance.now() - t0).toBeLessThan(10_000);
    // Both branches must be exercised, or the fuzzer is not testing anything.
    expect(outcomes.parsed).toBeGreaterThan(100);
    expect(outcomes.refused).toBeGreaterThan(1000);
  });

  it.each([
    ['a file name that climbs out of the pack', ['shards', 1, 'file'], '../x'],
    ['a tokenizer path', ['tokenizer', 'file'], 'sub/tokenizer.json'],
    ['a tensor past its shard', ['shards', 0, 'tensors', 0, 'offset'], 1e15],
    ['a fractional size', ['shards', 0, 'bytes'], 4096.5],
    ['a size beyond 2^53', ['tokenizer', 'bytes'], 1e300],
    ['a layer range beyond the model', ['shards', 1, 'layers'], [0, 1e15]],
    ['a hash in upper case', ['tokenizer', 'sha256'], 'A'.repeat(64)],
  ] as [string, (string | number)[], unknown][])('refuses %s', async (_, path, value) => {
    const tree = structuredClone((await makePack(4)).manifest) as unknown as Record<string | number, unknown>;
    let node = tree;
    for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
    node[path.at(-1) as string | number] = value;
    expect(() => parseManifestText(JSON.stringify(tree))).toThrow(ModelFormatError);
  });
});
