import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEncoder, createIndex, type Encoder } from '../../src/client/client.js';
import { DisposedError, InputError, ModelFormatError } from '../../src/errors.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { cosine } from '../support/random.js';

const HF = join(import.meta.dirname, '../oracle/fixtures/bert-tiny');

async function packDir(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'm3web-api-'));
  const ckpt = await openHfCheckpoint(HF);
  try {
    const pack = await convertCheckpoint(ckpt, { id: 'tiny', quant: 'f32', dims: [16, 48] });
    for (const [name, bytes] of pack.files) writeFileSync(join(dir, name), bytes);
  } finally {
    await ckpt.close();
  }
  return dir;
}

describe('createEncoder in Node (in-process, cpu)', () => {
  const open: Encoder[] = [];
  afterAll(async () => {
    for (const e of open) await e.dispose();
  });

  it('runs a pack folder and a Hugging Face folder to the same vectors', async () => {
    const fromPack = await createEncoder({ model: await packDir(), device: 'cpu' });
    const fromHf = await createEncoder({ model: HF, device: 'cpu' });
    open.push(fromPack, fromHf);
    expect((await fromHf.info()).model).toMatchObject({ exits: [1, 2, 3, 4], dims: [48], quantization: 'f32' });
    const texts = ['Ein kleiner Test.', 'A small test.'];
    const a = await fromPack.embed(texts);
    const b = await fromHf.embed(texts);
    a.forEach((v, i) => {
      expect(cosine(v, b[i] as Float32Array)).toBeGreaterThan(0.999999);
    });
  });

  it('loads more layers on demand when started shallow', async () => {
    const enc = await createEncoder({ model: await packDir(), device: 'cpu', layers: 1 });
    open.push(enc);
    expect((await enc.info()).loadedLayers).toBe(1);
    await enc.embed(['deeper'], { layers: 3 });
    expect((await enc.info()).loadedLayers).toBe(3);
  });

  it('names what is wrong with the options or the folder', async () => {
    await expect(createEncoder({ model: 42 } as never)).rejects.toThrow(InputError);
    await expect(createEncoder(null as never)).rejects.toThrow(/needs an options object/);
    await expect(createEncoder({ model: '/no/such/model' })).rejects.toThrow(ModelFormatError);
    await expect(createEncoder({ model: HF, device: 'tpu' as never })).rejects.toThrow(/device must be auto, webgpu or cpu/);
    const activations = createEncoder({ model: HF, device: 'cpu', activations: 'f8' as never });
    await expect(activations).rejects.toThrow(InputError);
    await expect(activations).rejects.toThrow(/activations must be auto, f32 or f16, got "f8"/);
    await expect(createEncoder({ model: { name: 'x', files: null } as never })).rejects.toThrow(/a model folder must be/);
  });

  it('plans within a budget, and returns the cheapest plan when nothing fits', async () => {
    const enc = await createEncoder({ model: await packDir(), device: 'cpu' });
    open.push(enc);
    const roomy = await enc.plan({ maxLatencyMs: 1e9, maxMemoryMB: 1e6 });
    expect(roomy).toMatchObject({ layers: 4, dims: 48, fits: true, backend: 'cpu' });
    // A forced device runs every call size, whatever a probe would say.
    const forced = { backend: 'cpu', reason: "device 'cpu' was asked for" };
    expect(await enc.info()).toMatchObject({ backend: 'cpu', backends: { short: forced, batch: forced }, activations: null });
    expect(await enc.plan({ batch: 32, typicalTokens: 128 })).toMatchObject({ backend: 'cpu' });
    const tight = await enc.plan({ maxLatencyMs: 0 });
    expect(tight).toMatchObject({ layers: 1, dims: 16, fits: false });
    expect(tight.reason).toMatch(/no plan meets maxLatencyMs 0/);
    const small = await enc.plan({ maxBytesPerVector: 64 });
    expect(small.dims).toBe(16);
    await expect(enc.plan({ maxLatencyMs: -1 })).rejects.toThrow(InputError);
  });

  it('rejects calls after dispose, on the encoder and its indexes', async () => {
    const enc = await createEncoder({ model: HF, device: 'cpu' });
    const index = await createIndex({ encoder: enc, name: 'after-dispose' });
    await index.add([{ id: 'a', text: 'one document' }]);
    await enc.dispose();
    await expect(enc.embed(['x'])).rejects.toThrow(DisposedError);
    await expect(index.search('one document')).rejects.toThrow(DisposedError);
  });

  it('opens the index in the engine, where a function filter reaches it (in-process)', async () => {
    const enc = await createEncoder({ model: HF, device: 'cpu' });
    open.push(enc);
    const index = await createIndex({ encoder: enc, name: 'filters' });
    await index.add([
      { id: 'de', text: 'Die Katze schläft.', meta: { lang: 'de' } },
      { id: 'en', text: 'The cat sleeps.', meta: { lang: 'en' } },
    ]);
    expect(index).toMatchObject({ size: 2, backend: 'cpu', signature: { model: 'bert-tiny', layers: 4, dims: 48 } });
    const byFunction = await index.search('The cat sleeps.', { k: 2, filter: (m) => m.lang === 'de' });
    const byObject = await index.search('The cat sleeps.', { k: 2, filter: { lang: 'de' } });
    expect(byFunction.map((h) => h.id)).toEqual(['de']);
    expect(byObject).toEqual(byFunction);
    await expect(index.add([{ id: 'x', text: '   ' }])).rejects.toThrow(/docs\[0\]\.text is empty or only whitespace/);
    index.close();
  });
});
