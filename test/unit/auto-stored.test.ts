import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { type BackendProbes, type DeviceProbe, probeCacheKey, probeStoreKey } from '../../src/budget/index.js';
import { EncoderBackends } from '../../src/engine/backends.js';
import type { GpuAdapterSummary } from '../../src/gpu/device.js';
import { GpuSession } from '../../src/gpu/session.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { folderProbeStore } from '../../src/node/probe-folder.js';
import { bertConfig, randomBert } from '../support/random.js';

const config = bertConfig({ numLayers: 2, hiddenSize: 32, numHeads: 2, intermediateSize: 64, maxPositions: 160 });
const weights = randomBert(config);
const cache = mkdtempSync(join(tmpdir(), 'm3web-auto-stored-'));
const SHAPES = [
  { batch: 1, seqLen: 16 },
  { batch: 1, seqLen: 128 },
  { batch: 8, seqLen: 128 },
];

function probe(adapter: GpuAdapterSummary | null, msPerToken: number, shapes = SHAPES): DeviceProbe {
  const target = { kind: adapter ? ('webgpu' as const) : ('cpu' as const), adapter };
  return {
    version: 2,
    key: probeCacheKey(target),
    kind: target.kind,
    adapter,
    measured: [1, 2].flatMap((layers) => shapes.map((s) => ({ layers, ...s, ms: 1 + layers * msPerToken * s.batch * s.seqLen }))),
    createdAt: Date.now(),
  };
}

/** Stores `probes` where device 'auto' looks for this adapter and model, as an earlier run would have. */
async function store(adapter: GpuAdapterSummary, modelKey: string, probes: BackendProbes): Promise<void> {
  await folderProbeStore().set(`auto|${probeStoreKey({ kind: 'webgpu', adapter }, modelKey, config)}`, probes);
}

afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(() => {
  vi.unstubAllEnvs();
  rmSync(cache, { recursive: true, force: true });
});

// The Node project's adapter (vitest.config.ts) names the stored probe; activations stay f32, which
// these probes are of (on an adapter with shader-f16, 'auto' would time f16 too).
describe("device 'auto' with a stored probe", () => {
  it('makes no WebGPU backend (pipelines, weights) when no call would run there', async () => {
    vi.stubEnv('M3WEB_CACHE_DIR', cache);
    const session = new GpuSession();
    try {
      const { adapter } = (await session.acquire()).gpu;
      // WebGPU's probe stopped before its first shape: nothing can ever switch to it.
      const gpuProbe = { ...probe(adapter, 1, []), stoppedAt: { layers: 1, batch: 1, seqLen: 16, ms: 300 } };
      await store(adapter, 'never:f32', { cpu: probe(null, 0.01), webgpu: gpuProbe });
      const create = vi.spyOn(GpuEncoder, 'create');
      const backends = await EncoderBackends.create(weights, 'auto', session, 'never:f32', 2, 'f32');
      expect(create).not.toHaveBeenCalled();
      expect(backends.probe).toBe('stored');
      expect(backends.fallbackReason).toBeNull();
      expect(backends.adapter).toBeNull();
      expect(backends.uses().batch).toMatchObject({ backend: 'cpu', reason: /WebGPU was not timed there/ });
      backends.dispose();
    } finally {
      session.dispose();
    }
  });

  it('makes it, without measuring, when a class runs there', async () => {
    vi.stubEnv('M3WEB_CACHE_DIR', cache);
    const session = new GpuSession();
    try {
      const { adapter } = (await session.acquire()).gpu;
      // WebGPU ten times faster per token: it takes the batches.
      await store(adapter, 'gpu:f32', { cpu: probe(null, 0.01), webgpu: probe(adapter, 0.001) });
      const create = vi.spyOn(GpuEncoder, 'create');
      const backends = await EncoderBackends.create(weights, 'auto', session, 'gpu:f32', 2, 'f32');
      expect(create).toHaveBeenCalledTimes(1);
      expect(backends.probe).toBe('stored');
      expect(backends.adapter).toEqual(adapter);
      expect(backends.uses().batch.backend).toBe('webgpu');
      backends.dispose();
    } finally {
      session.dispose();
    }
  });
});
