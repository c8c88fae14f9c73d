import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeCacheDir } from '../node/probe-folder.js';
import { sha256Hex } from '../pack/sha256.js';
import { openFolderHandle } from './folder.js';
import type { ConversionKeys, HubPackStore } from './hub-model.js';

/** Where Node keeps converted hub models: M3WEB_CACHE_DIR, else ~/.cache/m3web (with the probes). */
export const hubCacheDir = nodeCacheDir;

const keyName = async (key: string) => (await sha256Hex(new TextEncoder().encode(key))).slice(0, 24);

/**
 * Converted hub models as pack folders: `<cache>/hub/<hash of the conversion key>/`, and one
 * small file per revision key in `<cache>/hub/refs/` naming the folder it resolved to last. A
 * folder is written under a temporary name and renamed, so a crash never leaves half a pack
 * where a later run would open it. When the ref moves to a newer commit's folder, the folder it
 * named before is the one replaced (see HubPackStore.drop).
 */
export function folderHubStore(root = join(hubCacheDir(), 'hub')): HubPackStore {
  return {
    async find(keys: ConversionKeys) {
      const name = keys.exact
        ? await keyName(keys.exact)
        : await readFile(join(root, 'refs', await keyName(keys.latest)), 'utf8').catch(() => null);
      if (!name) return null;
      const dir = join(root, name.trim());
      const complete = await readFile(join(dir, 'manifest.json')).then(
        () => true,
        () => false,
      );
      return complete ? dir : null;
    },
    async save(keys, _id, convert) {
      const name = await keyName(keys.exact);
      const dir = join(root, name);
      const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
      await mkdir(tmp, { recursive: true });
      try {
        // Each file is written as the conversion hands it over; the folder is complete once renamed.
        await convert({ put: (file, bytes) => writeFile(join(tmp, file), bytes) });
        await rm(dir, { recursive: true, force: true });
        await rename(tmp, dir);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
      await mkdir(join(root, 'refs'), { recursive: true });
      const ref = join(root, 'refs', await keyName(keys.latest));
      const before = (await readFile(ref, 'utf8').catch(() => '')).trim();
      const tmpRef = `${ref}.tmp-${process.pid}-${Date.now()}`;
      await writeFile(tmpRef, name);
      await rename(tmpRef, ref);
      return { location: dir, replaced: before && before !== name ? before : null };
    },
    async drop(replaced: string) {
      // A name this store wrote (hex); anything else in a ref file is not a folder to delete.
      if (/^[0-9a-f]{24}$/.test(replaced)) await rm(join(root, replaced), { recursive: true, force: true });
    },
    open: (dir, options) => openFolderHandle(dir, options.layers),
  };
}
