import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type BackendProbes,
  BackendSwitch,
  chooseBackends,
  getOrProbeBoth,
  probeAgainst,
  SWITCH_MARGIN,
  SWITCH_WINDOW,
  sizeClassOf,
} from '../../src/budget/index.js';
import { significant } from '../../src/budget/significant.js';
import { ADAPTER, fakeBackend, ms, probe, type Timing } from '../support/fake-backend.js';

// A CPU with no fixed cost; a GPU with a high fixed cost and a low per-token cost.
const CPU: Timing = { fixed: 0.1, perToken: 0.01 };
const GPU_BIG_BATCHES: Timing = { fixed: 5, perToken: 0.001 };

describe('chooseBackends', () => {
  it('picks per size class: the CPU for one short text, WebGPU for the batch, when that is what the probes say', () => {
    const c = chooseBackends({ cpu: probe('cpu', CPU), webgpu: probe('webgpu', GPU_BIG_BATCHES) }, 6, '');
    expect(c.short.backend).toBe('cpu');
    expect(c.batch.backend).toBe('webgpu');
    expect(c.short.predictedMs.cpu).toBeCloseTo(ms(CPU, 6, 1, 16), 3);
    expect(c.batch.predictedMs.webgpu).toBeCloseTo(ms(GPU_BIG_BATCHES, 6, 8, 128), 3);
    expect(c.short.reason).toMatch(/^the CPU: predicted .* ms for 1×16 tokens at 6 layers, WebGPU .* ms$/);
    expect(c.batch.reason).toMatch(/^WebGPU: predicted/);
  });

  it('flips each class when the timings flip', () => {
    const fastGpu: Timing = { fixed: 0.05, perToken: 0.001 };
    const both = chooseBackends({ cpu: probe('cpu', CPU), webgpu: probe('webgpu', fastGpu) }, 6, '');
    expect([both.short.backend, both.batch.backend]).toEqual(['webgpu', 'webgpu']);
    const slowGpu: Timing = { fixed: 5, perToken: 0.02 };
    const neither = chooseBackends({ cpu: probe('cpu', CPU), webgpu: probe('webgpu', slowGpu) }, 6, '');
    expect([neither.short.backend, neither.batch.backend]).toEqual(['cpu', 'cpu']);
  });

  it('compares at the given depth: a GPU fixed cost is amortised over more layers', () => {
    // GPU: 2 ms fixed, 0.005 per token-layer; CPU: 0.01. At 8×128 that is CPU 10.2 vs GPU 7.1 ms at 1 layer.
    const gpu: Timing = { fixed: 2, perToken: 0.005 };
    const shortProbe = { cpu: probe('cpu', { fixed: 0, perToken: 0.01 }), webgpu: probe('webgpu', gpu) };
    // 1×16: CPU 0.16 L vs GPU 2 + 0.08 L: the GPU wins from L = 25 on.
    expect(chooseBackends(shortProbe, 6, '').short.backend).toBe('cpu');
    expect(chooseBackends(shortProbe, 30, '').short.backend).toBe('webgpu');
  });

  it('chooses the CPU where the WebGPU probe stopped before the class shape, and says why', () => {
    const stopped = probe('webgpu', GPU_BIG_BATCHES, {
      measured: probe('webgpu', GPU_BIG_BATCHES).measured.filter((p) => p.seqLen === 16),
      stoppedAt: { layers: 1, batch: 1, seqLen: 128, ms: 300 },
    });
    const c = chooseBackends({ cpu: probe('cpu', CPU), webgpu: stopped }, 6, '');
    expect(c.batch.backend).toBe('cpu');
    expect(c.batch.predictedMs.webgpu).toBeNull();
    expect(c.batch.reason).toContain(
      "WebGPU was not timed there: the probe's time budget ran out while its call at 1×128 tokens (1 layer) was still running, after 300 ms",
    );
    // The short shape was timed: there the comparison still decides, and can go either way.
    expect(c.short.backend).toBe('cpu');
    const fastShort = probe(
      'webgpu',
      { fixed: 0.01, perToken: 0.001 },
      { measured: stopped.measured.map((p) => ({ ...p, ms: 0.02 })) },
    );
    expect(chooseBackends({ cpu: probe('cpu', CPU), webgpu: fastShort }, 6, '').short.backend).toBe('webgpu');
  });

  it('chooses the CPU for both classes without WebGPU, with the reason given', () => {
    const c = chooseBackends({ cpu: probe('cpu', CPU), webgpu: null }, 6, 'no adapter');
    expect(c.short).toMatchObject({ backend: 'cpu', reason: 'no WebGPU: no adapter' });
    expect(c.batch.backend).toBe('cpu');
  });

  it('splits calls into classes at the geometric mean of the two shapes (128 tokens here)', () => {
    const shapes = { short: { batch: 1, seqLen: 16 }, batch: { batch: 8, seqLen: 128 } };
    expect(sizeClassOf(shapes, 1, 128)).toBe('short');
    expect(sizeClassOf(shapes, 2, 64)).toBe('short');
    expect(sizeClassOf(shapes, 1, 129)).toBe('batch');
    expect(sizeClassOf(shapes, 32, 16)).toBe('batch');
  });
});

describe('times in reasons', () => {
  it('are written in plain decimals, also where rounding reaches the next power of ten', () => {
    // toPrecision(2) writes 99.96 as "1.0e+2": a reason once said "predicted 1.0e+2 ms".
    expect(significant(99.96, 2)).toBe('100');
    expect(significant(999.7, 3)).toBe('1000');
    expect(significant(12.34, 2)).toBe('12');
    expect(significant(8, 3)).toBe('8.00');
    expect(significant(0.0456, 2)).toBe('0.046');
  });
});

describe('BackendSwitch', () => {
  const probes: BackendProbes = { cpu: probe('cpu', CPU), webgpu: probe('webgpu', GPU_BIG_BATCHES) };
  const gpuBatch = ms(GPU_BIG_BATCHES, 6, 8, 128);
  const cpuBatch = ms(CPU, 6, 8, 128);

  it('keeps the predicted backend while calls agree, and moves a class after SWITCH_WINDOW calls that disagree', () => {
    const s = new BackendSwitch(probes, 6, '');
    expect(s.backendFor(8, 128)).toBe('webgpu');
    // WebGPU runs as predicted: no switch however many calls.
    for (let i = 0; i < 10; i++) s.record('webgpu', 6, 8, 128, gpuBatch);
    expect(s.backendFor(8, 128)).toBe('webgpu');
    // Now it takes twice the CPU's prediction: the class moves once most of the last SWITCH_WINDOW calls say so.
    s.record('webgpu', 6, 8, 128, 2 * cpuBatch);
    expect(s.backendFor(8, 128)).toBe('webgpu');
    s.record('webgpu', 6, 8, 128, 2 * cpuBatch);
    expect(s.backendFor(8, 128)).toBe('cpu');
    expect(s.choices().batch.reason).toMatch(
      /^switched to cpu: the last 3 calls on webgpu took 2\.0x the time predicted for cpu \(before: WebGPU: predicted/,
    );
    // The other class is untouched. The switch is a trial: the CPU's first calls ran slower than
    // WebGPU's last ones, so the class goes back, and then never moves again.
    expect(s.backendFor(1, 16)).toBe('cpu');
    for (let i = 0; i < SWITCH_WINDOW; i++) s.record('cpu', 6, 8, 128, 100 * gpuBatch);
    expect(s.backendFor(8, 128)).toBe('webgpu');
    expect(s.choices().batch.reason).toMatch(/^back on webgpu: cpu's first 3 calls after a switch ran at 0\.\d+x the speed/);
    for (let i = 0; i < 10; i++) s.record('webgpu', 6, 8, 128, 100 * cpuBatch);
    expect(s.backendFor(8, 128)).toBe('webgpu');
  });

  it('switches only past SWITCH_MARGIN, on the median (one slow call does not decide)', () => {
    const s = new BackendSwitch(probes, 6, '');
    const just = SWITCH_MARGIN * cpuBatch;
    s.record('webgpu', 6, 8, 128, 0.99 * just);
    s.record('webgpu', 6, 8, 128, 1000 * just);
    s.record('webgpu', 6, 8, 128, 0.99 * just);
    expect(s.backendFor(8, 128)).toBe('webgpu');
    s.record('webgpu', 6, 8, 128, 1.01 * just);
    s.record('webgpu', 6, 8, 128, 1.01 * just);
    expect(s.backendFor(8, 128)).toBe('cpu');
  });

  it('switches a CPU class to WebGPU the same way, and ignores calls on the backend not chosen', () => {
    const s = new BackendSwitch(probes, 6, '');
    const gpuShort = ms(GPU_BIG_BATCHES, 6, 1, 16);
    for (let i = 0; i < SWITCH_WINDOW; i++) s.record('webgpu', 6, 1, 16, 1e6);
    expect(s.backendFor(1, 16)).toBe('cpu');
    for (let i = 0; i < SWITCH_WINDOW; i++) s.record('cpu', 6, 1, 16, gpuShort);
    expect(s.backendFor(1, 16)).toBe('cpu');
    expect(s.backendFor(1, 16)).toBe('cpu');
    for (let i = 0; i < SWITCH_WINDOW; i++) s.record('cpu', 6, 1, 16, 2 * gpuShort);
    expect(s.backendFor(1, 16)).toBe('webgpu');
  });

  it('never switches to a backend its probe did not time at the class shape', () => {
    const stopped: BackendProbes = {
      cpu: probe('cpu', CPU),
      webgpu: probe(
        'webgpu',
        { fixed: 50, perToken: 1 },
        { measured: [], stoppedAt: { layers: 1, batch: 1, seqLen: 16, ms: 200 } },
      ),
    };
    const s = new BackendSwitch(stopped, 6, '');
    for (let i = 0; i < 10; i++) s.record('cpu', 6, 8, 128, 1e6);
    expect(s.backendFor(8, 128)).toBe('cpu');
    expect(s.costFor(8, 128).backend).toBe('cpu');
  });

  it('gives plans the cost model of the backend their workload runs on', () => {
    const s = new BackendSwitch(probes, 6, '');
    const batch = s.costFor(8, 128);
    expect(batch.backend).toBe('webgpu');
    expect(batch.cost.latencyMs(6, 8, 128)).toBeCloseTo(gpuBatch, 3);
    const short = s.costFor(1, 16);
    expect(short.backend).toBe('cpu');
    expect(short.cost.latencyMs(6, 1, 16)).toBeCloseTo(ms(CPU, 6, 1, 16), 3);
  });
});

describe('probeAgainst and the cache of both probes', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });
  const useClock = () => {
    const clock = { now: 0, calls: [] as string[] };
    vi.spyOn(performance, 'now').mockImplementation(() => clock.now);
    return clock;
  };

  it('times every shape, smallest first, after one warm-up, with repeats where the result is close', async () => {
    const clock = useClock();
    const gpu = fakeBackend('webgpu', clock, (l, b, s) => ms(GPU_BIG_BATCHES, l, b, s));
    const { probe: p } = await probeAgainst(gpu, { kind: 'webgpu', adapter: ADAPTER }, probe('cpu', CPU), 10_000);
    expect(p.stoppedAt).toBeUndefined();
    expect(p.measured.map((m) => `${m.layers}L ${m.batch}x${m.seqLen}`)).toEqual([
      '1L 1x16',
      '2L 1x16',
      '1L 1x128',
      '2L 1x128',
      '1L 8x128',
      '2L 8x128',
    ]);
    for (const m of p.measured) expect(m.ms).toBeCloseTo(ms(GPU_BIG_BATCHES, m.layers, m.batch, m.seqLen), 9);
    // 1×16 is lost by over CLEAR_LOSS (5.16 vs 0.26 ms): one call each; the rest 1 + 3 calls each.
    expect(clock.calls).toHaveLength(1 + 2 * 1 + 4 * 4);
    expect(clock.calls[0]).toBe('webgpu 1L 1x16');
  });

  it('stops at the call that runs past its time budget and records it as a lower bound', async () => {
    const clock = useClock();
    const gpu = fakeBackend('webgpu', clock, (l, b, s) => 60 + l * b * s);
    const { probe: p, settled } = await probeAgainst(gpu, { kind: 'webgpu', adapter: ADAPTER }, probe('cpu', CPU), 400);
    await settled;
    // Warm-up 76, 1×16 at 1 and 2 layers 76 + 92: 244 ms; 1×128 at 1 layer would end at 432.
    expect(p.measured.map((m) => `${m.layers}L ${m.batch}x${m.seqLen}`)).toEqual(['1L 1x16', '2L 1x16']);
    expect(p.stoppedAt).toEqual({ layers: 1, batch: 1, seqLen: 128, ms: 188 });
    expect(clock.calls).toHaveLength(4);
    const c = chooseBackends({ cpu: probe('cpu', CPU), webgpu: p }, 6, '');
    expect([c.short.backend, c.batch.backend]).toEqual(['cpu', 'cpu']);
  });

  it('never takes a call that the budget cut off for a timing, however coarse the clock', async () => {
    // A clock that does not move between reads, as a coarsened performance.now() within one step:
    // the call is still running when the timer fires, yet no time reads as having passed.
    const clock = useClock();
    const gpu = fakeBackend('webgpu', clock, () => 0);
    const slow = gpu.embed.bind(gpu);
    gpu.embed = (tokens, o) => new Promise((resolve) => setTimeout(() => resolve(slow(tokens, o)), 50));
    const { probe: p, settled } = await probeAgainst(gpu, { kind: 'webgpu', adapter: ADAPTER }, probe('cpu', CPU), 5);
    await settled;
    expect(p.measured).toEqual([]);
    expect(p.stoppedAt).toEqual({ layers: 1, batch: 1, seqLen: 16, ms: 5 });
    const c = chooseBackends({ cpu: probe('cpu', CPU), webgpu: p }, 6, '');
    expect([c.short.backend, c.batch.backend]).toEqual(['cpu', 'cpu']);
    expect(c.short.reason).toMatch(/while its call at 1×16 tokens \(1 layer\) was still running, after 5\.0 ms$/);
  });

  it('says the budget ran out before a call it never started', async () => {
    const stopped = probe('webgpu', GPU_BIG_BATCHES, { measured: [], stoppedAt: { layers: 2, batch: 1, seqLen: 16, ms: 0 } });
    expect(chooseBackends({ cpu: probe('cpu', CPU), webgpu: stopped }, 6, '').short.reason).toMatch(
      /WebGPU was not timed there: the probe's time budget ran out before its call at 1×16 tokens \(2 layers\)$/,
    );
  });

  it('measures both backends once per adapter and model; a cached probe runs no call', async () => {
    // Node keeps probes on disk: a folder of its own, not the user's cache.
    vi.stubEnv('M3WEB_CACHE_DIR', mkdtempSync(join(tmpdir(), 'm3web-backend-choice-')));
    const clock = useClock();
    const cpu = fakeBackend('cpu', clock, (l, b, s) => ms(CPU, l, b, s));
    const gpu = fakeBackend('webgpu', clock, (l, b, s) => ms(GPU_BIG_BATCHES, l, b, s));
    const target = { kind: 'webgpu' as const, adapter: ADAPTER };
    const modelKey = `test-${Math.random()}`;
    const first = await getOrProbeBoth(cpu, { backend: gpu, target }, modelKey);
    expect(clock.calls.some((c) => c.startsWith('cpu'))).toBe(true);
    expect(clock.calls.some((c) => c.startsWith('webgpu'))).toBe(true);
    const calls = clock.calls.length;
    const again = await getOrProbeBoth(cpu, { backend: gpu, target }, modelKey);
    expect(clock.calls).toHaveLength(calls);
    expect(again.probes).toEqual(first.probes);
    // Another adapter is another device: measured again.
    await getOrProbeBoth(cpu, { backend: gpu, target: { ...target, adapter: { ...ADAPTER, description: 'y' } } }, modelKey);
    expect(clock.calls.length).toBeGreaterThan(calls);
    vi.unstubAllEnvs();
  });

  it('measures again a stored WebGPU probe that holds a 0 ms call', async () => {
    vi.stubEnv('M3WEB_CACHE_DIR', mkdtempSync(join(tmpdir(), 'm3web-backend-choice-')));
    const clock = useClock();
    const cpu = fakeBackend('cpu', clock, (l, b, s) => ms(CPU, l, b, s));
    // 0 ms at one layer, as a call cut off under a coarse clock once read.
    const gpu = fakeBackend('webgpu', clock, (l, b, s) => (l === 1 ? 0 : ms(GPU_BIG_BATCHES, l, b, s)));
    const target = { kind: 'webgpu' as const, adapter: ADAPTER };
    const modelKey = `test-${Math.random()}`;
    expect((await getOrProbeBoth(cpu, { backend: gpu, target }, modelKey)).measured).toBe(true);
    expect((await getOrProbeBoth(cpu, { backend: gpu, target }, modelKey)).measured).toBe(true);
    vi.unstubAllEnvs();
  });
});
