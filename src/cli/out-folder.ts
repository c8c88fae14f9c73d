import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * Writes a folder beside `out` with `write` and renames it into place (replacing `out`): an
 * interrupted run never leaves a folder that looks whole but misses files, and a failed one
 * leaves nothing behind.
 */
export async function writeFolder<T>(out: string, write: (dir: string) => Promise<T>): Promise<T> {
  const target = resolve(out);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  let result: T;
  try {
    result = await write(tmp);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  await rm(target, { recursive: true, force: true });
  await rename(tmp, target);
  return result;
}
