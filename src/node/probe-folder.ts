import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ProbeStore } from '../budget/probe-cache.js';
import { sha256Hex } from '../pack/sha256.js';

/** Where Node keeps what m3web caches: M3WEB_CACHE_DIR, else ~/.cache/m3web (as the hub store). */
export const nodeCacheDir = () => process.env.M3WEB_CACHE_DIR || join(homedir(), '.cache', 'm3web');

/**
 * Probe records as small JSON files, `<cache>/probes/<hash of the key>.json`, so a second process
 * on this machine (another `m3web embed`, a restarted server) measures nothing, as a page's second
 * visit reads IndexedDB. The folder is looked up on every call, so M3WEB_CACHE_DIR set later counts.
 * Each file holds its key, and is written under a temporary name and renamed, so a concurrent
 * writer or a crash never leaves half a record where a reader would take it.
 */
export function folderProbeStore(root = () => join(nodeCacheDir(), 'probes')): ProbeStore {
  const path = async (dir: string, key: string) =>
    join(dir, `${(await sha256Hex(new TextEncoder().encode(key))).slice(0, 32)}.json`);
  return {
    async get(key) {
      const text = await readFile(await path(root(), key), 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
      if (text === null) return undefined;
      const record = JSON.parse(text) as { key?: unknown; value?: unknown } | null;
      return typeof record === 'object' && record !== null && record.key === key ? record.value : undefined;
    },
    async set(key, value) {
      const dir = root();
      const file = await path(dir, key);
      const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
      await mkdir(dir, { recursive: true });
      try {
        await writeFile(tmp, JSON.stringify({ key, value }));
        await rename(tmp, file);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    },
  };
}
