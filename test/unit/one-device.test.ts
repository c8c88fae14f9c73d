import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEncoder, createIndex } from '../../src/client/client.js';

// The engine asks the adapter for one device and the index scores on it: spied on Dawn's own
// GPUAdapter, below everything m3web does. bert-tiny has random weights: queries are a
// document's own text, which its vector matches best.
const MODEL = 'test/oracle/fixtures/bert-tiny';
const DOCS = [
  { id: 'fruit', text: 'apples, pears and plums in a bowl' },
  { id: 'cars', text: 'fast cars on a race track' },
  { id: 'space', text: 'rockets carry satellites into orbit' },
];

async function dawnAdapterClass(): Promise<{ prototype: GPUAdapter }> {
  const dawn = (await import('webgpu')) as unknown as { globals: { GPUAdapter: { prototype: GPUAdapter } } };
  return dawn.globals.GPUAdapter;
}

afterEach(() => vi.restoreAllMocks());

describe('one GPU device per engine (Node, Dawn)', () => {
  it('the encoder and its index share one device and one queue', async () => {
    const requestDevice = vi.spyOn((await dawnAdapterClass()).prototype, 'requestDevice');
    const encoder = await createEncoder({ model: MODEL, device: 'webgpu' });
    const index = await createIndex({ encoder, name: 'one-device', device: 'webgpu' });
    expect(index.backend).toBe('webgpu');
    await index.add(DOCS);
    // Concurrent embeds and searches go through the device's one queue.
    const [hits] = await Promise.all([
      index.search('rockets carry satellites into orbit', { k: 1, exact: true }),
      encoder.embed(['in between']),
    ]);
    expect(hits?.[0]?.id).toBe('space');
    expect(requestDevice).toHaveBeenCalledTimes(1);
    index.close();
    await encoder.dispose();
  });

  it('a lost device is replaced once for the encoder and the index together', async () => {
    const requestDevice = vi.spyOn((await dawnAdapterClass()).prototype, 'requestDevice');
    const encoder = await createEncoder({ model: MODEL, device: 'webgpu' });
    const index = await createIndex({ encoder, name: 'lost-device', device: 'webgpu' });
    await index.add(DOCS);
    await encoder.simulateDeviceLoss();
    expect((await index.search('fast cars on a race track', { k: 1, exact: true }))[0]?.id).toBe('cars');
    expect(await encoder.embed(['after the loss'])).toHaveLength(1);
    expect(requestDevice).toHaveBeenCalledTimes(2);
    index.close();
    await encoder.dispose();
  });
});
