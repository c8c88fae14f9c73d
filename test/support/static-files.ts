import { openIndex } from '../../src/search/index.js';
import { parseIndex } from '../../src/search/serialize.js';
import { writeStaticIndex } from '../../src/search/static/write.js';
import type { IndexDoc } from '../../src/search/types.js';
import { STATIC_DIMS, wordsEncoder } from './static-corpus.js';

/**
 * `docs` indexed with the bag-of-words encoder and written as a static folder (in memory, for a
 * page's fetch stub): each file's bytes by its URL under `base`.
 */
export async function staticFiles(docs: IndexDoc[], base: string, shardRows?: number): Promise<Map<string, Uint8Array>> {
  const memory = await openIndex({ encoder: wordsEncoder(), name: 'static-files-source', device: 'cpu' });
  await memory.add(docs);
  const { signature, segment } = parseIndex(await memory.export());
  memory.close();
  const files = new Map<string, Uint8Array>();
  await writeStaticIndex(signature, segment, {
    trainedDims: STATIC_DIMS,
    ngrams: true,
    ...(shardRows === undefined ? {} : { shardRows }),
    put: async (path, bytes) => {
      files.set(base + path, bytes);
    },
  });
  return files;
}
