import { type FileHandle, open } from 'node:fs/promises';
import type { ByteSource } from '../checkpoint/safetensors.js';
import { ModelFormatError } from '../errors.js';

/** A file read by ranges through one open handle; `close()` when done. */
export interface FileSource extends ByteSource {
  close(): Promise<void>;
}

export async function fileSource(path: string, name = path): Promise<FileSource> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw new ModelFormatError(`cannot open ${path}: ${(cause as Error).message}`, { cause });
  }
  const { size } = await handle.stat();
  return {
    name,
    size,
    async read(offset, length, into) {
      const out = into ? into.subarray(0, length) : new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0)
          throw new ModelFormatError(`${name}: file ended at byte ${offset + done}, expected ${offset + length}`);
        done += bytesRead;
      }
      return out;
    },
    close: () => handle.close(),
  };
}
