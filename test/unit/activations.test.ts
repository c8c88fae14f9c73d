import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type ActivationsProbe,
  activationsOf,
  activationsReason,
  getOrProbeActivations,
  probeActivations,
  probeCacheKey,
  probeStoreKey,
} from '../../src/budget/index.js';
import { EncoderBackends } from '../../src/engine/backends.js';
import { UnsupportedError } from '../../src/errors.js';
import type { Elem } from '../../src/gpu/resources.js';
import { GpuSession } from '../../src/gpu/session.js';
import type { EncoderBackend } from '../../src/model/encoder.js';
import { folderProbeStore } from '../../src/node/probe-folder.js';
import { ADAPTER, fakeBackend } from '../support/fake-backend.js';
import { preferSwiftShader } from '../support/gpu.js';
import { bertConfig, randomBert } from '../support/random.js';

preferSwiftShader();

/** Fake f32 and f16 backends on one clock, timed `ms[type]` per call (or by call number), and what was made. */
function fakes(ms: Record<Elem, (call: number) => number>) {
  const clock = { now: 0, calls: [] as string[] };
  vi.spyOn(performance, 'now').mockImplementation(() => clock.now);
  const made: Elem[] = [];
  const disposed: Elem[] = [];
  const make = async (type: Elem): Promise<EncoderBackend> => {
    made.push(type);
    let call = 0;
    const backend = fakeBackend('webgpu', clock, () => ms[type](++call), type);
    return { ...backend, dispose: () => void disposed.push(type) };
  };
  return { clock, made, disposed, make };
}

const record = (ms: ActivationsProbe['ms']): ActivationsProbe => ({
  version: 1,
  key: probeCacheKey({ kind: 'webgpu', adapter: ADAPTER }),
  layers: 1,
  batch: 8,
  seqLen: 128,
  ms,
  createdAt: Date.now(),
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('activations: the choice', () => {
  it('keeps f16 only where it takes 95% of the f32 time or less, and says so', () => {
    expect(activationsOf(record({ f32: 10, f16: 8 }))).toBe('f16');
    expect(activationsOf(record({ f32: 10, f16: 9.5 }))).toBe('f16');
    expect(activationsOf(record({ f32: 10, f16: 9.7 }))).toBe('f32');
    expect(activationsOf(record({ f32: 10, f16: 13 }))).toBe('f32');
    expect(activationsOf(record({ f32: 300, f16: null }))).toBe('f32');
    expect(activationsReason(record({ f32: 10, f16: 8 }))).toBe(
      'measured 0.80x the f32 time at 8×128 tokens, 1 layer (f16 8.00 ms, f32 10.0 ms)',
    );
    expect(activationsReason(record({ f32: 10, f16: 9.7 }))).toBe(
      'f16 measured 0.97x the f32 time at 8×128 tokens, 1 layer (f16 9.70 ms, f32 10.0 ms), not 5% faster',
    );
    expect(activationsReason(record({ f32: 300, f16: null }))).toMatch(/^f16 was not timed: one f32 call .* took 300 ms/);
  });

  it('times one warm-up and two calls of each type at the probe batch, one layer, keeping the faster call', async () => {
    // f16's first timed call hits a 50 ms hiccup: the faster of its two calls drops it.
    const { clock, made, disposed, make } = fakes({ f32: () => 10, f16: (call) => (call === 2 ? 58 : 8) });
    const probe = await probeActivations(make, ADAPTER);
    expect(clock.calls).toEqual(['f32', 'f32', 'f16', 'f16', 'f32', 'f16'].map((t) => `${t} 1L 8x128`));
    expect(probe).toMatchObject({
      version: 1,
      key: probeCacheKey({ kind: 'webgpu', adapter: ADAPTER }),
      ms: { f32: 10, f16: 8 },
    });
    expect(activationsOf(probe)).toBe('f16');
    expect(made).toEqual(['f32', 'f16']);
    expect(disposed.sort()).toEqual(['f16', 'f32']);
  });

  it('does not make the f16 backend where one f32 call is already slow', async () => {
    const { clock, made, disposed, make } = fakes({ f32: () => 400, f16: () => 1 });
    const probe = await probeActivations(make, ADAPTER);
    expect(clock.calls).toHaveLength(2);
    expect(made).toEqual(['f32']);
    expect(disposed).toEqual(['f32']);
    expect(probe.ms).toEqual({ f32: 400, f16: null });
    expect(activationsOf(probe)).toBe('f32');
  });

  it('disposes what it made when a call fails', async () => {
    const { disposed, make } = fakes({
      f32: () => 10,
      f16: () => {
        throw new Error('f16 pipeline failed');
      },
    });
    await expect(probeActivations(make, ADAPTER)).rejects.toThrow(/f16 pipeline failed/);
    expect(disposed.sort()).toEqual(['f16', 'f32']);
  });
});

describe('activations: stored per adapter and model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'm3web-activations-'));
  beforeAll(() => {
    vi.stubEnv('M3WEB_CACHE_DIR', dir);
  });
  afterAll(() => {
    vi.unstubAllEnvs();
    rmSync(dir, { recursive: true, force: true });
  });
  const config = bertConfig();

  it('measures once: a second visit reads the stored timings, another model measures again', async () => {
    const { made, make } = fakes({ f32: () => 10, f16: () => 7 });
    const first = await getOrProbeActivations(config, ADAPTER, 'once', make);
    expect(await getOrProbeActivations(config, ADAPTER, 'once', make)).toEqual(first);
    expect(made).toEqual(['f32', 'f16']);
    await getOrProbeActivations(config, ADAPTER, 'another', make);
    expect(made).toHaveLength(4);
  });

  it('measures again over a record of another format, older kernels, or past its age', async () => {
    const store = folderProbeStore();
    const key = (model: string) => `activations|${probeStoreKey({ kind: 'webgpu', adapter: ADAPTER }, model, config)}`;
    const good = record({ f32: 10, f16: 7 });
    const stale = [
      { ...good, version: 2 },
      { ...good, key: 'k1|webgpu:v/a/d/x' },
      { ...good, createdAt: Date.now() - 31 * 24 * 3600 * 1000 },
      { ...good, ms: { f32: 10 } },
    ];
    for (const [i, value] of stale.entries()) await store.set(key(`stale${i}`), value);
    await store.set(key('good'), good);
    const { made, make } = fakes({ f32: () => 10, f16: () => 12 });
    expect(await getOrProbeActivations(config, ADAPTER, 'good', make)).toEqual(good);
    expect(made).toEqual([]);
    for (const i of stale.keys()) {
      expect((await getOrProbeActivations(config, ADAPTER, `stale${i}`, make)).ms).toEqual({ f32: 10, f16: 12 });
    }
    expect(made).toHaveLength(2 * stale.length);
  });

  it('keys WebGPU probes of f16 activations apart; f32 keeps the key of probes stored before f16 existed', () => {
    const plain = probeCacheKey({ kind: 'webgpu', adapter: ADAPTER });
    expect(probeCacheKey({ kind: 'webgpu', adapter: ADAPTER, activations: 'f32' })).toBe(plain);
    expect(probeCacheKey({ kind: 'webgpu', adapter: ADAPTER, activations: 'f16' })).not.toBe(plain);
  });
});

// SwiftShader has no shader-f16 (preferSwiftShader, at the top of this file).
describe('activations on an adapter without shader-f16', async () => {
  const session = new GpuSession();
  const gpu = await session.acquire();
  afterAll(() => session.dispose());
  const weights = randomBert(bertConfig({ numLayers: 2, hiddenSize: 32, numHeads: 2, intermediateSize: 64 }));

  it.skipIf(gpu.gpu.features.shaderF16)("'auto' runs f32 without measuring, 'f16' is an UnsupportedError", async () => {
    const backends = await EncoderBackends.create(weights, 'webgpu', session, 'no-f16', 2);
    expect(backends.activations).toEqual({ type: 'f32', reason: 'the GPU adapter has no shader-f16' });
    backends.dispose();
    for (const device of ['webgpu', 'auto'] as const) {
      await expect(EncoderBackends.create(weights, device, session, 'no-f16', 2, 'f16')).rejects.toThrow(UnsupportedError);
    }
    const forced = await EncoderBackends.create(weights, 'webgpu', session, 'no-f16', 2, 'f32');
    expect(forced.activations).toEqual({ type: 'f32', reason: "activations 'f32' was asked for" });
    forced.dispose();
  });

  it('reports none on the CPU, which ignores the option', async () => {
    const cpu = await EncoderBackends.create(weights, 'cpu', session, 'no-f16', 2, 'f16');
    expect(cpu.activations).toBeNull();
    cpu.dispose();
  });
});
