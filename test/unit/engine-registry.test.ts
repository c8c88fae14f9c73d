import { describe, expect, it } from 'vitest';
import { EngineRegistry } from '../../src/engine/registry.js';

const MODEL = 'test/oracle/fixtures/bert-tiny';

describe('EngineRegistry', () => {
  it('gives clients of one model one engine, and frees its GPU device when the last one leaves', async () => {
    const registry = new EngineRegistry(true);
    const options = { model: MODEL, device: 'webgpu' as const };
    const [a, b] = await Promise.all([registry.join('a', options), registry.join('b', options)]);
    expect(a.engine).toBe(b.engine);
    expect(registry.clients(a.key)).toBe(2);
    const { gpu } = await a.engine.session.acquire();
    let lost = false;
    void gpu.lost.then(() => {
      lost = true;
    });

    registry.leave('a', a.key);
    expect(registry.clients(a.key)).toBe(1);
    expect((await b.engine.core.embed(['still served']))[0]).toHaveLength(48);
    expect(lost).toBe(false);

    registry.leave('b', b.key);
    expect(registry.clients(b.key)).toBe(0);
    await expect.poll(() => lost, { timeout: 10_000 }).toBe(true);
    // A later client gets a new engine.
    const c = await registry.join('c', options);
    expect(c.engine).not.toBe(a.engine);
    registry.leave('c', c.key);
  });

  it('keeps engines of other models or devices apart, and forgets a failed load', async () => {
    const registry = new EngineRegistry(false);
    const cpu = await registry.join('a', { model: MODEL, device: 'cpu' });
    const gpu = await registry.join('a', { model: MODEL, device: 'webgpu' });
    expect(cpu.engine).not.toBe(gpu.engine);
    await expect(registry.join('b', { model: '/no/such/model' })).rejects.toMatchObject({ code: 'MODEL_FORMAT' });
    expect(registry.clients(JSON.stringify(['/no/such/model', 'auto', true]))).toBe(0);
    registry.leave('a', cpu.key);
    registry.leave('a', gpu.key);
  });
});
