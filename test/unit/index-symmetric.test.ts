import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { openIndex } from '../../src/search/index.js';
import { parseIndex } from '../../src/search/serialize.js';
import { writeStaticIndex } from '../../src/search/static/write.js';
import type { IndexOptions } from '../../src/search/types.js';
import { recordingEncoder } from '../support/recording-encoder.js';
import { rejection } from '../support/rejection.js';
import { serveStatic } from '../support/static-server.js';

// Query and passage prefixes are for short queries against passages; a symmetric index (sentences
// searched by sentences) embeds both sides plainly, and never mixes with an index that does not.

const DOCS = [
  { id: 'a', text: 'The cat sat on the mat.' },
  { id: 'b', text: 'Die Katze saß auf der Matte.' },
];

async function indexWith(options: Partial<IndexOptions>) {
  const encoder = recordingEncoder();
  const index = await openIndex({ encoder, name: 'symmetric', device: 'cpu', ...options });
  await index.add(DOCS);
  await index.search('a cat on a mat', { mode: 'vector' });
  return { encoder, index };
}

describe('symmetric indexes', () => {
  it('by default embeds documents as passages and the query as a query', async () => {
    const { encoder, index } = await indexWith({});
    expect(encoder.calls.map((c) => c.kind)).toEqual(['passage', 'query']);
    expect(index.signature.symmetric).toBeUndefined();
    index.close();
  });

  it('symmetric: both sides plainly, and the signature says so', async () => {
    const { encoder, index } = await indexWith({ symmetric: true });
    expect(encoder.calls.map((c) => c.kind)).toEqual([undefined, undefined]);
    expect(index.signature).toMatchObject({ model: 'prefixed', symmetric: true });
    index.close();
  });

  it('an export imports only into an index of the same kind', async () => {
    const { index } = await indexWith({ symmetric: true });
    const bytes = await index.export();
    index.close();
    const plain = await openIndex({ encoder: recordingEncoder(), name: 'plain', device: 'cpu' });
    const err = (await rejection(plain.import(bytes))) as Error;
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/symmetric/);
    plain.close();
    const same = await openIndex({ encoder: recordingEncoder(), name: 'same', device: 'cpu', symmetric: true });
    await same.import(bytes);
    expect(same.size).toBe(2);
    same.close();
  });

  it('a static folder keeps it: its queries are embedded plainly too', async () => {
    const { index } = await indexWith({ symmetric: true });
    const { signature, segment } = parseIndex(await index.export());
    index.close();
    const dir = mkdtempSync(join(tmpdir(), 'm3web-symmetric-'));
    await writeStaticIndex(signature, segment, {
      trainedDims: [8],
      ngrams: false,
      put: async (path, bytes) => {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), bytes);
      },
    });
    const { server, url } = await serveStatic(dir);
    try {
      const encoder = recordingEncoder();
      const opened = await openIndex({ encoder, url });
      expect(opened.signature.symmetric).toBe(true);
      await opened.search('a cat on a mat', { mode: 'vector' });
      expect(encoder.calls.map((c) => c.kind)).toEqual([undefined]);
      opened.close();
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a symmetric option that is not a boolean', async () => {
    const options = { encoder: recordingEncoder(), name: 'bad', symmetric: 'yes' } as unknown as IndexOptions;
    const err = (await rejection(openIndex(options))) as Error;
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/symmetric must be true, false/);
  });
});
