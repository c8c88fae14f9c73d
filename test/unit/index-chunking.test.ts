import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { estimateTokens } from '../../src/search/chunk.js';
import { openIndex } from '../../src/search/index.js';
import type { IndexOptions } from '../../src/search/types.js';
import { recordingEncoder } from '../support/recording-encoder.js';
import { rejection } from '../support/rejection.js';

// chunkTokens caps a chunk below the model's input (64 tokens for the test model): smaller
// chunks suit small models trained on short texts, and a new value re-embeds what it re-chunks.

const WORDS = Array.from({ length: 120 }, (_, i) => `w${i % 10}${String.fromCharCode(97 + (i % 26))}`);
const LONG = { id: 'long', text: WORDS.join(' ') };
const SHORT = { id: 'short', text: 'a cat on a mat' };

const passages = (encoder: ReturnType<typeof recordingEncoder>) =>
  encoder.calls.filter((c) => c.kind === 'passage').flatMap((c) => c.texts);

describe('chunkTokens', () => {
  it('cuts documents into chunks of at most that many tokens, every word kept', async () => {
    const whole = recordingEncoder();
    const byModel = await openIndex({ encoder: whole, name: 'model', device: 'cpu' });
    await byModel.add([LONG, SHORT]);
    const small = recordingEncoder();
    const byOption = await openIndex({ encoder: small, name: 'small', device: 'cpu', chunkTokens: 20 });
    await byOption.add([LONG, SHORT]);

    const modelChunks = passages(whole);
    const smallChunks = passages(small);
    expect(smallChunks.length).toBeGreaterThan(modelChunks.length + 3);
    expect(smallChunks.every((t) => estimateTokens(t) <= 20)).toBe(true);
    expect(new Set(smallChunks.flatMap((t) => t.split(' ')))).toEqual(new Set([...WORDS, ...SHORT.text.split(' ')]));
    expect(smallChunks).toContain(SHORT.text);

    const [hit] = await byOption.search(WORDS.slice(60, 64).join(' '), { mode: 'lexical', k: 1 });
    expect(hit?.id).toBe('long');
    expect(estimateTokens(hit?.chunk.text ?? '')).toBeLessThanOrEqual(20);
    // The hit marks where its chunk holds the query's words.
    const { text, highlights } = hit?.chunk ?? { text: '', highlights: [] };
    expect(highlights.map(([a, b]) => text.slice(a, b))).toEqual(expect.arrayContaining(WORDS.slice(60, 64)));
    byModel.close();
    byOption.close();
  });

  it('never goes above the model: a larger value chunks as the default does', async () => {
    const dflt = recordingEncoder();
    const a = await openIndex({ encoder: dflt, name: 'a', device: 'cpu' });
    await a.add([LONG]);
    const large = recordingEncoder();
    const b = await openIndex({ encoder: large, name: 'b', device: 'cpu', chunkTokens: 100_000 });
    await b.add([LONG]);
    expect(passages(large)).toEqual(passages(dflt));
    a.close();
    b.close();
  });

  it('re-embeds documents under a new value on sync', async () => {
    const first = await openIndex({ encoder: recordingEncoder(), name: 'first', device: 'cpu' });
    await first.add([LONG, SHORT]);
    const encoder = recordingEncoder();
    const second = await openIndex({ encoder, name: 'second', device: 'cpu', chunkTokens: 20 });
    await second.import(await first.export());
    expect((await second.sync([LONG, SHORT])).embedded).toBe(2);
    expect(passages(encoder).length).toBeGreaterThan(4);
    expect((await second.sync([LONG, SHORT])).embedded).toBe(0);
    first.close();
    second.close();
  });

  it.each([0, -3, 1.5, '20', Number.NaN])('rejects %s with an InputError', async (chunkTokens) => {
    const options = { encoder: recordingEncoder(), name: 'bad', chunkTokens } as unknown as IndexOptions;
    const err = await rejection(openIndex(options));
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/chunkTokens must be a positive integer/);
  });
});
