import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEncoder, type Encoder } from '../../src/client/client.js';
import { DisposedError, InputError, M3WebError } from '../../src/errors.js';
import { cosine } from '../support/random.js';
import { rejection } from '../support/rejection.js';

// Runs in headless Chromium: createEncoder starts the real module Worker, which fetches the pack
// that test/support/global-setup.ts wrote and runs it on WebGPU (SwiftShader here).
const PACK = '/test/generated/packs/bert-tiny-q8';

interface NodeVectors {
  texts: string[];
  full: number[][];
  shallow: number[][];
}

let encoder: Encoder;
let node: NodeVectors;

beforeAll(async () => {
  node = await (await fetch(`${PACK}/node-vectors.json`)).json();
  const progress: number[] = [];
  encoder = await createEncoder({
    model: PACK,
    device: 'webgpu',
    cache: false,
    onProgress: (p) => progress.push(p.loaded / Math.max(p.total, 1)),
  });
  expect(progress.at(-1)).toBe(1);
});

afterAll(async () => {
  await encoder?.dispose();
});

describe('createEncoder in the browser (worker + WebGPU)', () => {
  it('reports the model and the backend it chose', async () => {
    const info = await encoder.info();
    expect(info.backend).toBe('webgpu');
    expect(info.model).toMatchObject({ id: 'bert-tiny-q8', exits: [1, 2, 3, 4], dims: [16, 48], maxTokens: 64, pooling: 'mean' });
    expect(info.loadedLayers).toBe(4);
    // Chromium has SharedWorker, with WebGPU inside it: one engine for the origin.
    expect(info.engine).toEqual({ shared: true, clients: 1 });
  });

  it('gives the same vectors as the Node path, full and shallow', async () => {
    const full = await encoder.embed(node.texts);
    const shallow = await encoder.embed(node.texts, { layers: 2, dims: 16 });
    full.forEach((v, i) => {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v.length).toBe(48);
      expect(cosine(v, node.full[i] as number[])).toBeGreaterThan(0.99999);
    });
    shallow.forEach((v, i) => {
      expect(v.length).toBe(16);
      expect(cosine(v, node.shallow[i] as number[])).toBeGreaterThan(0.99999);
    });
  });

  it('resolves 200 concurrent calls, each with its own texts', async () => {
    const calls = Array.from({ length: 200 }, (_, i) => encoder.embed([node.texts[i % 4] as string]));
    const results = await Promise.all(calls);
    expect(results).toHaveLength(200);
    results.forEach((r, i) => {
      expect(cosine(r[0] as Float32Array, node.full[i % 4] as number[])).toBeGreaterThan(0.99999);
    });
  });

  it('flags truncated texts and applies the query prefix', async () => {
    const long = 'word '.repeat(500);
    const r = await encoder.embedDetailed([long, 'short'], { kind: 'query' });
    expect(r.truncated).toEqual([true, false]);
    expect(r.tokens[0]).toBe(64);
    const plain = await encoder.embed(['short']);
    expect(cosine(r.vectors[1] as Float32Array, plain[0] as Float32Array)).toBeLessThan(0.9999);
  });

  it('rejects bad input with typed errors', async () => {
    const bad: [unknown, object, RegExp][] = [
      ['not an array', {}, /texts must be an array of strings, got string/],
      [[], {}, /texts is empty/],
      [['ok', 3], {}, /texts\[1\] must be a string, got number/],
      [['ok', '   '], {}, /texts\[1\] is empty or only whitespace/],
      [['ok'], { layers: 7 }, /layers must be one the model was trained for \(1, 2, 3, 4\), got 7/],
      [['ok'], { dims: 20 }, /dims must be one the model was trained for \(16, 48\), got 20/],
      [['ok'], { kind: 'title' }, /kind must be "query" or "passage"/],
    ];
    for (const [texts, options, message] of bad) {
      const err = await rejection(encoder.embed(texts as string[], options));
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).code).toBe('INVALID_INPUT');
      expect((err as Error).message).toMatch(message);
    }
  });

  it('aborts a call before and during its run, and keeps working after', async () => {
    const before = new AbortController();
    before.abort();
    expect(await rejection(encoder.embed(['x'], { signal: before.signal }))).toMatchObject({ code: 'ABORTED' });
    const during = new AbortController();
    const many = Array.from({ length: 600 }, (_, i) => `text number ${i}`);
    const call = encoder.embed(many, { signal: during.signal });
    during.abort();
    const err = await rejection(call);
    expect(err).toBeInstanceOf(M3WebError);
    expect((err as M3WebError).code).toBe('ABORTED');
    expect(cosine((await encoder.embed([node.texts[0] as string]))[0] as Float32Array, node.full[0] as number[])).toBeGreaterThan(
      0.99999,
    );
  });

  it('fails the call in flight when the GPU device is lost, and recovers on the next', async () => {
    await encoder.embed(['warm']);
    const inFlight = encoder.embed(Array.from({ length: 32 }, (_, i) => `text number ${i} in flight`));
    await encoder.simulateDeviceLoss();
    const err = await rejection(inFlight);
    expect((err as M3WebError).code).toBe('GPU_DEVICE_LOST');
    const again = await encoder.embed([node.texts[1] as string]);
    expect(cosine(again[0] as Float32Array, node.full[1] as number[])).toBeGreaterThan(0.99999);
    // A loss between calls is repaired before the next one runs: nothing fails.
    await encoder.simulateDeviceLoss();
    const after = await encoder.embed([node.texts[2] as string]);
    expect(cosine(after[0] as Float32Array, node.full[2] as number[])).toBeGreaterThan(0.99999);
  });

  it('plans through the worker', async () => {
    const plan = await encoder.plan({ maxBytesPerVector: 64, maxLatencyMs: 1e9 });
    expect(plan).toMatchObject({ dims: 16, fits: true });
    expect(plan.predicted.latencyMs).toBeGreaterThan(0);
    expect(await rejection(encoder.plan({ maxMemoryMB: Number.NaN }))).toBeInstanceOf(InputError);
  });

  it('rejects every call after dispose', async () => {
    const other = await createEncoder({ model: PACK, device: 'cpu', cache: false });
    expect((await other.info()).backend).toBe('cpu');
    await other.dispose();
    const err = await rejection(other.embed(['x']));
    expect(err).toBeInstanceOf(DisposedError);
  });
});
