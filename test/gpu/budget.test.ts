import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  type Budget,
  type DeviceProbe,
  fitCostModel,
  getOrProbe,
  planBudget,
  probeCacheKey,
  probeDevice,
} from '../../src/budget/index.js';
import { createEncoder } from '../../src/client/client.js';
import type { EncoderBackend } from '../../src/model/encoder.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { testGpu } from '../support/gpu.js';
import { bertConfig, randomBert, randomTokens } from '../support/random.js';

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1] as number;

describe('budget planner on the test adapter', async () => {
  const config = bertConfig({ numLayers: 4, hiddenSize: 64, numHeads: 4, intermediateSize: 128 });
  const gpu = await testGpu();
  const encoder = await GpuEncoder.create(gpu, randomBert(config, 'f32', 3));
  const target = { kind: 'webgpu' as const, adapter: gpu.adapter };
  let probe: DeviceProbe | undefined;
  afterAll(() => encoder.dispose());

  it('probes one and two layers at three shapes', async () => {
    const start = Date.now();
    probe = await probeDevice(encoder, target);
    console.log(`probe of ${probe.key} took ${Date.now() - start} ms`);
    expect(probe).toMatchObject({ version: 2, key: probeCacheKey(target), kind: 'webgpu', adapter: gpu.adapter });
    expect(probe.measured.map((p) => [p.layers, p.batch, p.seqLen])).toEqual([
      [1, 1, 16],
      [1, 1, 128],
      [1, 8, 128],
      [2, 1, 16],
      [2, 1, 128],
      [2, 8, 128],
    ]);
    for (const p of probe.measured) {
      expect(Number.isFinite(p.ms)).toBe(true);
      expect(p.ms).toBeGreaterThan(0);
    }
    expect(probe.createdAt).toBeGreaterThanOrEqual(start);
  });

  it('predicts positive, finite latencies for three plans (figures printed, not asserted)', async () => {
    expect(probe).toBeDefined();
    const cost = fitCostModel(probe as DeviceProbe);
    const fitted = (probe as DeviceProbe).measured.map(
      (p) =>
        `L${p.layers} ${p.batch}x${p.seqLen}: ${p.ms.toFixed(2)} -> ${cost.latencyMs(p.layers, p.batch, p.seqLen).toFixed(2)}`,
    );
    console.log(`fit: fixed ${JSON.stringify(cost.fixed)} perLayer ${JSON.stringify(cost.perLayer)}\n  ${fitted.join('\n  ')}`);

    const model = {
      exits: [1, 2, 3, 4],
      dims: [16, 32, 64],
      config,
      quantization: { linear: 'f32', embeddings: 'f32' } as const,
    };
    const budgets: Budget[] = [
      {},
      { typicalTokens: 32, maxLatencyMs: cost.latencyMs(2, 1, 32) },
      { batch: 8, typicalTokens: 100, maxLatencyMs: cost.latencyMs(1, 8, 100), maxBytesPerVector: 128 },
    ];
    for (const [i, budget] of budgets.entries()) {
      const plan = planBudget(model, cost, budget);
      expect(plan.fits).toBe(true);
      for (const v of [plan.predicted.latencyMs, plan.predicted.memoryMB]) {
        expect(Number.isFinite(v)).toBe(true);
        expect(v).toBeGreaterThan(0);
      }
      const batch = budget.batch ?? 1;
      const seqLen = budget.typicalTokens ?? 64;
      const tokens = randomTokens(new Array(batch).fill(seqLen), config.vocabSize, 20 + i);
      const options = { layers: plan.layers, dims: plan.dims, pooling: 'mean', normalize: true } as const;
      await encoder.embed(tokens, options);
      const times: number[] = [];
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now();
        await encoder.embed(tokens, options);
        times.push(performance.now() - t0);
      }
      const measured = median(times);
      console.log(
        `plan ${plan.layers}L x ${plan.dims}d, ${batch} x ${seqLen} tokens: predicted ${plan.predicted.latencyMs.toFixed(2)} ms, ` +
          `measured ${measured.toFixed(2)} ms (x${(measured / plan.predicted.latencyMs).toFixed(2)}), ` +
          `${plan.predicted.memoryMB.toFixed(3)} MiB — ${plan.reason}`,
      );
    }
  });

  it.runIf(typeof indexedDB !== 'undefined')('reuses a stored probe from IndexedDB', async () => {
    let calls = 0;
    const counted: EncoderBackend = {
      kind: encoder.kind,
      config: encoder.config,
      loadedLayers: encoder.loadedLayers,
      maxTextTokens: encoder.maxTextTokens,
      embed: (t, o) => {
        calls++;
        return encoder.embed(t, o);
      },
      embedAdaptive: (t, o) => encoder.embedAdaptive(t, o),
      pooledAtExits: (t, e, p) => encoder.pooledAtExits(t, e, p),
      hiddenStates: (t, l) => encoder.hiddenStates(t, l),
      tokenVectors: (t, l) => encoder.tokenVectors(t, l),
      embedWithScores: (t, o) => encoder.embedWithScores(t, o),
      spladeVectors: (t, l) => encoder.spladeVectors(t, l),
      dispose() {},
    };
    const modelKey = `budget-test-${Date.now()}-${Math.random()}`;
    const first = await getOrProbe(counted, target, modelKey);
    expect(calls).toBeGreaterThan(0);
    const afterFirst = calls;
    expect(await getOrProbe(counted, target, modelKey)).toEqual(first);
    expect(calls).toBe(afterFirst);
  });
});

describe('device auto and forced devices on the test adapter', () => {
  // In Node only: createEncoder runs in-process here (a page would need a served model).
  const model = typeof process === 'undefined' ? null : `${import.meta.dirname}/../oracle/fixtures/bert-tiny`;

  it.runIf(model !== null)('auto picks a backend per call size and says why; plan returns the one it assumed', async () => {
    // A probe folder of its own: other test files probe bert-tiny too, and a record one of them
    // writes between the two encoders (a near-tie measured the other way) is not this test's.
    const [{ mkdtemp }, { tmpdir }, { join }] = await Promise.all([
      import('node:fs/promises'),
      import('node:os'),
      import('node:path'),
    ]);
    const shared = process.env.M3WEB_CACHE_DIR;
    process.env.M3WEB_CACHE_DIR = await mkdtemp(join(tmpdir(), 'm3web-budget-probe-'));
    onTestFinished(() => {
      process.env.M3WEB_CACHE_DIR = shared;
    });
    const start = performance.now();
    const enc = await createEncoder({ model: model as string, device: 'auto' });
    const firstMs = performance.now() - start;
    const info = await enc.info();
    console.log(`auto (first, with the probe): ${firstMs.toFixed(0)} ms; ${JSON.stringify(info.backends)}`);
    for (const use of Object.values(info.backends)) expect(use.reason).toMatch(/predicted|no WebGPU/);
    expect(info.backend).toBe(info.backends.short.backend);
    expect((await enc.plan({ batch: 1, typicalTokens: 16 })).backend).toBe(info.backends.short.backend);
    expect((await enc.plan({ batch: 8, typicalTokens: 128 })).backend).toBe(info.backends.batch.backend);
    const [v] = await enc.embed(['Wie spät ist es?']);
    expect(v?.length).toBe(info.model.hiddenSize);
    await enc.dispose();
    // The probe is cached for the process: a second encoder of the same model measures nothing.
    const again = performance.now();
    const second = await createEncoder({ model: model as string, device: 'auto' });
    console.log(`auto (second, cached probe): ${(performance.now() - again).toFixed(0)} ms`);
    expect((await second.info()).backends).toEqual(info.backends);
    await second.dispose();
  });

  it.runIf(model !== null)('device webgpu still forces WebGPU for every call size', async () => {
    const enc = await createEncoder({ model: model as string, device: 'webgpu' });
    const forced = { backend: 'webgpu', reason: "device 'webgpu' was asked for" };
    expect(await enc.info()).toMatchObject({ backend: 'webgpu', backends: { short: forced, batch: forced } });
    expect((await enc.plan({ batch: 8, typicalTokens: 128 })).backend).toBe('webgpu');
    await enc.dispose();
  });
});
