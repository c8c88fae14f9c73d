import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type DeviceProbe, probeBoth, probeDevice } from '../../src/budget/index.js';
import { folderProbeStore } from '../../src/node/probe-folder.js';
import { ADAPTER, fakeBackend } from '../support/fake-backend.js';

const useClock = () => {
  const clock = { now: 0, calls: [] as string[] };
  vi.spyOn(performance, 'now').mockImplementation(() => clock.now);
  return clock;
};

/** ms per call: 1 + a tenth of a ms per token and layer (1×16 at 1 layer 2.6 ms, 8×128 at 2 layers 206 ms). */
const cpuTiming = (l: number, b: number, s: number) => 1 + 0.1 * l * b * s;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'm3web-probe-store-'));
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

describe('folderProbeStore', () => {
  it('keeps records as files that name their key, and misses anything else', async () => {
    const store = folderProbeStore(() => dir);
    expect(await store.get('a')).toBeUndefined();
    await store.set('a', { x: 1 });
    await store.set('b', [2]);
    expect(await store.get('a')).toEqual({ x: 1 });
    expect(await store.get('b')).toEqual([2]);
    const files = readdirSync(dir);
    expect(files).toHaveLength(2);
    expect(files.every((f) => /^[0-9a-f]{32}\.json$/.test(f))).toBe(true);
    // A record under another key (a hash clash, a hand edit) is not taken for this one.
    const fileOfA = files.find((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')).key === 'a') as string;
    writeFileSync(join(dir, fileOfA), JSON.stringify({ key: 'not a', value: { x: 9 } }));
    expect(await store.get('a')).toBeUndefined();
  });

  it('puts its folder under M3WEB_CACHE_DIR, read when used', async () => {
    vi.stubEnv('M3WEB_CACHE_DIR', dir);
    await folderProbeStore().set('k', 1);
    expect(readdirSync(join(dir, 'probes'))).toHaveLength(1);
  });
});

describe("device 'auto' probes in Node", () => {
  it('are stored on disk: a second process (fresh modules) measures nothing', async () => {
    vi.stubEnv('M3WEB_CACHE_DIR', dir);
    const clock = useClock();
    const cpu = fakeBackend('cpu', clock, cpuTiming);
    const gpu = fakeBackend('webgpu', clock, (l, b, s) => 5 + 0.01 * l * b * s);
    const target = { kind: 'webgpu' as const, adapter: ADAPTER };
    const first = await (await import('../../src/budget/index.js')).getOrProbeBoth(cpu, { backend: gpu, target }, 'm:q8');
    expect(first.measured).toBe(true);
    expect(readdirSync(join(dir, 'probes'))).toHaveLength(1);
    const calls = clock.calls.length;

    vi.resetModules();
    const fresh = await import('../../src/budget/index.js');
    const again = await fresh.getOrProbeBoth(cpu, { backend: gpu, target }, 'm:q8');
    expect(again.measured).toBe(false);
    expect(clock.calls).toHaveLength(calls);
    expect(again.probes).toEqual(first.probes);
    // Another model is measured again.
    expect((await fresh.getOrProbeBoth(cpu, { backend: gpu, target }, 'other:q8')).measured).toBe(true);
    expect(readdirSync(join(dir, 'probes'))).toHaveLength(2);
  });

  it('last as long as the process where the cache folder cannot be written', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    vi.stubEnv('M3WEB_CACHE_DIR', file);
    const clock = useClock();
    const cpu = fakeBackend('cpu', clock, cpuTiming);
    const gpu = fakeBackend('webgpu', clock, (l, b, s) => 5 + 0.01 * l * b * s);
    vi.resetModules();
    const { getOrProbeBoth } = await import('../../src/budget/index.js');
    const target = { kind: 'webgpu' as const, adapter: ADAPTER };
    expect((await getOrProbeBoth(cpu, { backend: gpu, target }, 'm:q8')).measured).toBe(true);
    expect((await getOrProbeBoth(cpu, { backend: gpu, target }, 'm:q8')).measured).toBe(false);
  });
});

describe('the probe time budget', () => {
  const shapes = (p: DeviceProbe) => p.measured.map((m) => `${m.layers}L ${m.batch}x${m.seqLen}`);

  it('runs every shape once, then repeats only what fits, and small calls whatever the budget', async () => {
    const clock = useClock();
    const cpu = fakeBackend('cpu', clock, cpuTiming);
    // Warm-up at one layer 103.4 ms, one round 2.6 + 13.8 + 103.4 + 4.2 + 26.6 + 205.8: 459.8 ms spent.
    const probe = await probeDevice(cpu, { kind: 'cpu', adapter: null }, { budgetMs: 600 });
    expect(clock.calls[0]).toBe('cpu 1L 8x128');
    expect(shapes(probe)).toEqual(['1L 1x16', '1L 1x128', '1L 8x128', '2L 1x16', '2L 1x128', '2L 8x128']);
    const count = (shape: string) => clock.calls.filter((c) => c === `cpu ${shape}`).length;
    // Calls under 600 / 32 ms (1×16, and 1×128 at one layer) run three times whatever the budget;
    // the others run again only while the call ends within 600 ms: 8×128 at one layer once
    // (579.6), 1×128 at two layers not (610.4), nor 8×128 at two layers.
    expect([count('1L 1x16'), count('2L 1x16'), count('1L 1x128'), count('2L 1x128')]).toEqual([3, 3, 3, 1]);
    expect([count('1L 8x128'), count('2L 8x128')]).toEqual([1 + 2, 1]);
    expect(clock.now).toBeCloseTo(604.4, 9);
    for (const m of probe.measured) expect(m.ms).toBeCloseTo(cpuTiming(m.layers, m.batch, m.seqLen), 9);
  });

  it('keeps the 19 calls of an unbudgeted probe when the budget is ample', async () => {
    const clock = useClock();
    await probeDevice(fakeBackend('cpu', clock, cpuTiming), { kind: 'cpu', adapter: null }, { budgetMs: 10_000 });
    expect(clock.calls).toHaveLength(19);
  });

  it("gives device 'auto''s CPU probe 600 ms and WebGPU what is left of 800 (at least 200)", async () => {
    const clock = useClock();
    const cpu = fakeBackend('cpu', clock, cpuTiming);
    // WebGPU: 150 ms per call at any shape, so the warm-up alone outlasts the 200 ms left.
    const gpu = fakeBackend('webgpu', clock, () => 150);
    const both = await probeBoth(cpu, { backend: gpu, target: { kind: 'webgpu', adapter: ADAPTER } });
    await both.webgpu.settled;
    // The budgeted CPU probe above: warm-up, a round, 4 + 3 repeats, ending at 604.4 ms.
    expect(clock.calls.filter((c) => c.startsWith('cpu'))).toHaveLength(1 + 6 + 7);
    // 200 ms left: the warm-up takes 150, the first 1×16 call ends past the other 50 and stops the probe.
    expect(both.webgpu.probe.measured).toEqual([]);
    expect(both.webgpu.probe.stoppedAt).toEqual({ layers: 1, batch: 1, seqLen: 16, ms: 150 });
  });

  it('rejects a negative budget with InputError', async () => {
    const clock = useClock();
    await expect(
      probeDevice(fakeBackend('cpu', clock, cpuTiming), { kind: 'cpu', adapter: null }, { budgetMs: -1 }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
