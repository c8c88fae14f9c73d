import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createEncoder, type Encoder } from '../../src/client/client.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { preferLavapipe, testGpu } from '../support/gpu.js';
import { cosine } from '../support/random.js';

/**
 * activations 'auto' end to end on an adapter with `shader-f16`: lavapipe in Node where its
 * driver is installed (preferLavapipe); skipped, saying why, where the adapter lacks the feature
 * (SwiftShader, Chromium's) or there is no local model folder (the browser project).
 */
preferLavapipe();
const gpu = await testGpu();
const model = typeof process === 'undefined' ? null : `${import.meta.dirname}/../../public/models/m3-mini`;
const skip = !gpu.features.shaderF16
  ? `the adapter (${gpu.adapter.description || gpu.adapter.vendor}) has no shader-f16`
  : model === null
    ? 'no local model folder in the browser'
    : '';

const TEXTS = [
  'Wie spät ist es?',
  'The cat sleeps on the sofa, and the dog watches it from the door.',
  'Le train de 8 h 15 part du quai numéro trois.',
  'Un modelo pequeño que corre en el navegador con WebGPU y también en la CPU, sin servidor.',
];
const open: Encoder[] = [];
/** Whether deviceAuto, run first, timed f16 against f32 (and stored the choice check() then reads). */
let timedBefore = false;
// A probe folder of this file's own: other files open m3-mini with activations 'auto' in the same
// run, and a choice one of them stored first would leave nothing here to measure.
const shared = typeof process === 'undefined' ? undefined : process.env.M3WEB_CACHE_DIR;
beforeAll(async () => {
  if (model === null) return;
  const [{ mkdtemp }, { tmpdir }, { join }] = await Promise.all([
    import('node:fs/promises'),
    import('node:os'),
    import('node:path'),
  ]);
  process.env.M3WEB_CACHE_DIR = await mkdtemp(join(tmpdir(), 'm3web-activations-probe-'));
});
afterAll(async () => {
  for (const e of open) await e.dispose();
  if (model !== null) process.env.M3WEB_CACHE_DIR = shared;
});

const encoder = async (activations: 'auto' | 'f32' | 'f16', device: 'webgpu' | 'auto' = 'webgpu') => {
  const enc = await createEncoder({ model: model as string, device, activations });
  open.push(enc);
  return enc;
};

const check = () =>
  it('auto measures f16 against f32 once, says which it runs, and embeds as f32 does', async () => {
    const create = vi.spyOn(GpuEncoder, 'create');
    create.mockClear();
    const auto = await encoder('auto');
    const { activations } = await auto.info();
    console.log(`activations 'auto' on ${gpu.adapter.description}: ${JSON.stringify(activations)}`);
    expect(activations?.type).toMatch(/^f(16|32)$/);
    expect(activations?.reason).toMatch(/measured \d\.\d\dx the f32 time at 8×128 tokens, 1 layer|^f16 was not timed: one f32/);
    // The model's encoder, and one-layer probe encoders of each type (or of f32 alone, where it is
    // slow); only the first where deviceAuto, before it, timed f16 already (WebGPU won a call size).
    const probed = create.mock.calls.length;
    expect(probed).toBeGreaterThanOrEqual(timedBefore ? 1 : 2);
    expect(create.mock.calls.slice(0, -1).every(([, w]) => w.layers.length === 1)).toBe(true);

    const f32 = await encoder('f32');
    expect((await f32.info()).activations).toEqual({ type: 'f32', reason: "activations 'f32' was asked for" });
    const f16 = await encoder('f16');
    expect((await f16.info()).activations).toMatchObject({ type: 'f16' });
    const want = await f32.embed(TEXTS);
    for (const enc of [auto, f16]) {
      const got = await enc.embed(TEXTS);
      got.forEach((v, i) => {
        expect(cosine(v, want[i] as Float32Array)).toBeGreaterThanOrEqual(0.9999);
      });
    }

    // A second encoder on this adapter and model reads the stored choice: only its own encoder is made.
    await auto.dispose();
    create.mockClear();
    const again = await encoder('auto');
    expect((await again.info()).activations).toEqual(activations);
    expect(create).toHaveBeenCalledTimes(1);
  });

const deviceAuto = () =>
  it("device 'auto' times f16 only once WebGPU wins some call size", async () => {
    const create = vi.spyOn(GpuEncoder, 'create');
    create.mockClear();
    const enc = await encoder('auto', 'auto');
    const info = await enc.info();
    const gpuWins = Object.values(info.backends).some((use) => use.backend === 'webgpu');
    const oneLayer = create.mock.calls.filter(([, w]) => w.layers.length === 1).length;
    console.log(`device 'auto' on ${gpu.adapter.description}: ${JSON.stringify(info.backends)}, ${oneLayer} one-layer encoders`);
    timedBefore = gpuWins;
    if (gpuWins) expect(info.activations?.reason).toMatch(/f16|f32 time/);
    else {
      expect(oneLayer).toBe(0);
      expect(info.activations?.type ?? 'f32').toBe('f32');
    }
  });

if (skip) it.skip(`activations 'auto': ${skip}`, () => {});
else {
  // First, while nothing about this adapter is stored.
  deviceAuto();
  check();
}
