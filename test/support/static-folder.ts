import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { createIndex, type Encoder } from '../../src/client/client.js';
import { parseIndex } from '../../src/search/serialize.js';
import type { StaticManifest } from '../../src/search/static/format.js';
import { type StaticWriteOptions, writeStaticIndex } from '../../src/search/static/write.js';
import type { SearchMode, VectorIndex } from '../../src/search/types.js';
import { serveStatic } from './static-server.js';

/** Writes `index`'s contents as a static folder (m3web index --static's) in a new temporary directory. */
export async function writeStaticFolder(
  index: VectorIndex,
  trainedDims: readonly number[],
  shardRows?: number,
  query?: StaticWriteOptions['query'],
): Promise<{ dir: string; manifest: StaticManifest }> {
  const dir = mkdtempSync(join(tmpdir(), 'm3web-static-'));
  const { signature, segment } = parseIndex(await index.export());
  const manifest = await writeStaticIndex(signature, segment, {
    trainedDims,
    ngrams: true,
    ...(shardRows === undefined ? {} : { shardRows }),
    ...(query ? { query } : {}),
    put: async (path, bytes) => {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), bytes);
    },
  });
  return { dir, manifest };
}

/**
 * `memory` written as a static folder, served over HTTP and opened with `encoder`: each query in
 * each mode finds the same hits (ids, scores, ranks, chunks) as `memory` does; resolves to the
 * folder's manifest once the server is closed.
 */
export async function expectStaticLikeMemory(
  memory: VectorIndex,
  encoder: Encoder,
  queries: readonly string[],
  modes: readonly SearchMode[],
  trainedDims: readonly number[] = [],
): Promise<StaticManifest> {
  const { dir, manifest } = await writeStaticFolder(memory, trainedDims);
  const { server, url } = await serveStatic(dir);
  try {
    const index = await createIndex({ encoder, url });
    try {
      for (const mode of modes) {
        let found = 0;
        for (const q of queries) {
          const want = await memory.search(q, { mode, k: 5 });
          expect(await index.search(q, { mode, k: 5 }), `${mode}: ${q}`).toEqual(want);
          found += want.length;
        }
        expect(found, `${mode}: no query found anything to compare`).toBeGreaterThan(0);
      }
    } finally {
      index.close();
    }
  } finally {
    server.close();
  }
  return manifest;
}
