import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type Budget,
  compareQuality,
  type DeviceProbe,
  fitCostModel,
  getOrProbe,
  type LatencyTerms,
  matrixBytes,
  memoryMB,
  type Plan,
  type PlanModel,
  planBudget,
  probeCacheKey,
  probeDevice,
  qualityEstimator,
} from '../../src/budget/index.js';
import { InputError } from '../../src/errors.js';
import type { GpuAdapterSummary } from '../../src/gpu/device.js';
import { DEFAULT_TOLERANCE } from '../../src/model/adaptive.js';
import type { EncoderBackend, ForwardOptions } from '../../src/model/encoder.js';
import type { QualityRow } from '../../src/pack/manifest.js';
import { bertConfig, rng } from '../support/random.js';

type Truth = { fixed: LatencyTerms; perLayer: LatencyTerms };

const truthMs = (t: Truth, layers: number, batch: number, seqLen: number) => {
  const at = (c: LatencyTerms) => c.constant + c.perToken * batch * seqLen + c.perAttention * batch * seqLen * seqLen;
  return at(t.fixed) + layers * at(t.perLayer);
};

const TRUTH: Truth = {
  fixed: { constant: 2, perToken: 0.01, perAttention: 1e-5 },
  perLayer: { constant: 0.4, perToken: 0.03, perAttention: 4e-5 },
};

const SHAPES = [
  { batch: 1, seqLen: 16 },
  { batch: 1, seqLen: 128 },
  { batch: 8, seqLen: 128 },
];

function fakeProbe(timing: (layers: number, batch: number, seqLen: number) => number, depths = [1, 2]): DeviceProbe {
  return {
    version: 2,
    key: 'webgpu:test',
    kind: 'webgpu',
    adapter: null,
    measured: depths.flatMap((layers) => SHAPES.map((s) => ({ layers, ...s, ms: timing(layers, s.batch, s.seqLen) }))),
    createdAt: 0,
  };
}

const config = bertConfig({ hiddenSize: 64, numHeads: 4, intermediateSize: 128, numLayers: 12, vocabSize: 1000 });

describe('cost model', () => {
  it('reproduces the probe points and other shapes of a latency that follows its form', () => {
    const probe = fakeProbe((l, b, s) => truthMs(TRUTH, l, b, s));
    const cost = fitCostModel(probe);
    for (const p of probe.measured) {
      expect(Math.abs(cost.latencyMs(p.layers, p.batch, p.seqLen) / p.ms - 1)).toBeLessThan(0.01);
    }
    for (const [l, b, s] of [
      [12, 1, 64],
      [6, 32, 200],
      [3, 4, 8],
    ] as const) {
      expect(Math.abs(cost.latencyMs(l, b, s) / truthMs(TRUTH, l, b, s) - 1)).toBeLessThan(0.01);
    }
    expect(cost.fixed.constant).toBeCloseTo(2, 6);
    expect(cost.perLayer.perAttention).toBeCloseTo(4e-5, 9);
  });

  it('keeps every term non-negative for noisy timings, so latency grows with depth', () => {
    // Depth 2 measured faster than depth 1 on the short shape: an exact solve would go negative.
    const probe = fakeProbe((l, b, s) => truthMs(TRUTH, l, b, s) * (l === 2 && s === 16 ? 0.7 : 1 + 0.05 * Math.sin(l * s)));
    const cost = fitCostModel(probe);
    for (const t of [cost.fixed, cost.perLayer]) for (const v of Object.values(t)) expect(v).toBeGreaterThanOrEqual(0);
    for (const [b, s] of [
      [1, 1],
      [1, 512],
      [64, 32],
    ] as const) {
      let last = 0;
      for (let l = 1; l <= 24; l++) {
        const ms = cost.latencyMs(l, b, s);
        expect(Number.isFinite(ms)).toBe(true);
        expect(ms).toBeGreaterThanOrEqual(last);
        last = ms;
      }
    }
  });

  it('never predicts a call faster than a measured call it contains', () => {
    // A probe cut short by its time budget, with the deeper short call timed faster (noise): the
    // fit alone predicts 6 layers of 1 × 16 at 34 ms, under the 40 ms one layer took.
    const measured = [
      { layers: 1, batch: 1, seqLen: 16, ms: 40 },
      { layers: 1, batch: 1, seqLen: 128, ms: 60 },
      { layers: 2, batch: 1, seqLen: 16, ms: 30 },
    ];
    const cost = fitCostModel({ ...fakeProbe(() => 1), measured });
    expect(cost.latencyMs(6, 1, 16)).toBeGreaterThanOrEqual(40);
    expect(cost.latencyMs(6, 4, 128)).toBeGreaterThanOrEqual(60);
  });

  it('puts all cost on the layers when the probe has depth 1 only', () => {
    const probe = fakeProbe((l, b, s) => truthMs(TRUTH, l, b, s), [1]);
    const cost = fitCostModel(probe);
    expect(cost.fixed).toEqual({ constant: 0, perToken: 0, perAttention: 0 });
    for (const p of probe.measured) expect(Math.abs(cost.latencyMs(1, p.batch, p.seqLen) / p.ms - 1)).toBeLessThan(0.01);
  });

  it('fits a static embedder, probed at depth 0, as fixed cost only, and predicts shapes it did not time', () => {
    const probe = fakeProbe((_, b, s) => truthMs(TRUTH, 0, b, s), [0]);
    const cost = fitCostModel(probe);
    expect(cost.perLayer).toEqual({ constant: 0, perToken: 0, perAttention: 0 });
    expect(cost.fixed.perToken).toBeCloseTo(0.01, 6);
    expect(Math.abs(cost.latencyMs(0, 32, 256) / truthMs(TRUTH, 0, 32, 256) - 1)).toBeLessThan(0.01);
  });
});

describe('memory model', () => {
  it('matches a hand computation', () => {
    // H 64, I 128, vocab 1000, 512 positions, 2 token types; 2 layers in q8, the word table in f16.
    const word = 1000 * 64 * 2;
    const tables = (512 + 2) * 64 * 4 + 2 * 64 * 4; // position + token type + embedding LayerNorm, f32
    const q8Weights = 3 * 64 * 64 + 64 * 64 + 128 * 64 + 64 * 128; // one byte each
    const scalesAndBiases = 2 * (192 + 64 + 128 + 64) * 4; // a scale and a bias per output row
    const norms = 4 * 64 * 4;
    const layer = q8Weights + scalesAndBiases + norms; // 37376
    const tokens = 2 * 10;
    const activations = tokens * (6 * 64 + 128) * 4 + 2 * tokens * 64 * 4;
    const index = 100 * 32 * 4;
    const bytes = word + tables + 2 * layer + activations + index;
    expect(layer).toBe(37376);
    expect(bytes).toBe(398848);
    expect(memoryMB(2, 32, 2, 10, config, { linear: 'q8', embeddings: 'f16' }, 100)).toBeCloseTo(bytes / 2 ** 20, 12);
  });

  it("counts task adapters in f32: per layer A and B of each projection, and the embeddings' per task", () => {
    const q = { linear: 'q8', embeddings: 'f16' } as const;
    const lora = { tasks: ['a', 'b', 'c'], rank: 4, scale: 0.25, byKind: { query: 0, passage: 1 }, instructions: {} };
    const extra = memoryMB(2, 32, 2, 10, { ...config, lora }, q, 100) - memoryMB(2, 32, 2, 10, config, q, 100);
    const perLayer = 3 * 4 * (192 + 64 + (64 + 64) + (128 + 64) + (64 + 128)) * 4;
    const embeddings = 3 * (1000 * 4 + 4 * 64 + 64) * 4;
    expect(extra * 2 ** 20).toBeCloseTo(2 * perLayer + embeddings, 6);
  });

  it('sizes q4 by whole groups and caps activations at one length bucket', () => {
    expect(matrixBytes(3, 70, 'q4')).toBe(3 * 3 * (16 + 4));
    expect(matrixBytes(3, 70, 'f16')).toBe(3 * 70 * 2);
    const q = { linear: 'f32', embeddings: 'f32' } as const;
    // 4096 / 128 = 32 texts per bucket: a batch of 200 keeps the bucket's buffers, only uploads grow...
    const big = memoryMB(1, 64, 200, 128, config, q) - memoryMB(1, 64, 32, 128, config, q);
    expect(big * 2 ** 20).toBeCloseTo(2 * (200 - 32) * 128 * 64 * 4, 3);
    // ...up to one submission of 32768 tokens.
    expect(memoryMB(1, 64, 1000, 128, config, q)).toBe(memoryMB(1, 64, 500, 128, config, q));
  });
});

const ADAPTER: GpuAdapterSummary = { vendor: 'v', architecture: 'a', device: 'd', description: 'x', isFallback: false };

/** An encoder whose embed advances a fake clock by `timing` (plus a spike on chosen calls). */
function fakeBackend(timing: (o: ForwardOptions, batch: number, seqLen: number) => number, loadedLayers = 4) {
  const clock = { now: 0, calls: [] as { layers: number; batch: number; seqLen: number }[] };
  const backend: EncoderBackend = {
    kind: 'webgpu',
    config,
    loadedLayers,
    maxTextTokens: config.maxTokens,
    async embed(tokens, o) {
      const seqLen = tokens[0]?.length ?? 0;
      expect(tokens.every((t) => t.length === seqLen && Array.from(t).every((id) => id >= 0 && id < config.vocabSize))).toBe(
        true,
      );
      expect(o).toMatchObject({ dims: config.hiddenSize, pooling: 'mean', normalize: false });
      clock.calls.push({ layers: o.layers, batch: tokens.length, seqLen });
      clock.now += timing(o, tokens.length, seqLen);
      return tokens.map(() => new Float32Array(o.dims));
    },
    embedAdaptive: () => Promise.reject(new Error('unused')),
    pooledAtExits: () => Promise.reject(new Error('unused')),
    hiddenStates: () => Promise.reject(new Error('unused')),
    tokenVectors: () => Promise.reject(new Error('unused')),
    embedWithScores: () => Promise.reject(new Error('unused')),
    spladeVectors: () => Promise.reject(new Error('unused')),
    dispose() {},
  };
  vi.spyOn(performance, 'now').mockImplementation(() => clock.now);
  return { backend, clock };
}

describe('probe', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('times three shapes at depths 1 and 2 after one warm-up, keeping the median', async () => {
    let call = 0;
    // Each shape's first timed run (calls 2 to 7, after the warm-up) hits a 100 ms hiccup: the median must drop it.
    const { backend, clock } = fakeBackend((o, b, s) => truthMs(TRUTH, o.layers, b, s) + (++call >= 2 && call <= 7 ? 100 : 0));
    const probe = await probeDevice(backend, { kind: 'webgpu', adapter: ADAPTER });
    expect(clock.calls).toHaveLength(1 + 3 * 6);
    expect(clock.calls[0]).toEqual({ layers: 2, batch: 8, seqLen: 128 });
    expect(probe).toMatchObject({ version: 2, key: probeCacheKey({ kind: 'webgpu', adapter: ADAPTER }), kind: 'webgpu' });
    expect(probe.measured.map(({ layers, batch, seqLen }) => [layers, batch, seqLen])).toEqual([
      [1, 1, 16],
      [1, 1, 128],
      [1, 8, 128],
      [2, 1, 16],
      [2, 1, 128],
      [2, 8, 128],
    ]);
    for (const p of probe.measured) expect(p.ms).toBeCloseTo(truthMs(TRUTH, p.layers, p.batch, p.seqLen), 9);
  });

  it('runs each shape once on a slow device, and depth 1 only with one layer loaded', async () => {
    const { backend, clock } = fakeBackend(() => 400, 1);
    const probe = await probeDevice(backend, { kind: 'cpu', adapter: null });
    expect(clock.calls).toHaveLength(1 + 3);
    expect(probe.measured.every((p) => p.layers === 1 && p.ms === 400)).toBe(true);
    expect(probe.key).toBe(probeCacheKey({ kind: 'cpu', adapter: null }));
  });

  it('rejects bad options with InputError', async () => {
    const { backend } = fakeBackend(() => 1);
    const target = { kind: 'cpu', adapter: null } as const;
    for (const options of [
      { seqLens: [64, 32] as [number, number] },
      { seqLens: [8, 9999] as [number, number] },
      { repeats: 0 },
    ]) {
      await expect(probeDevice(backend, target, options)).rejects.toBeInstanceOf(InputError);
    }
  });

  it('keys probes by kernel revision, backend kind and every adapter field', () => {
    // A probe of older kernels must not steer plans for the new ones.
    expect(probeCacheKey({ kind: 'cpu', adapter: null })).toMatch(/^k\d+\|cpu$/);
    const keys = new Set([
      probeCacheKey({ kind: 'webgpu', adapter: ADAPTER }),
      probeCacheKey({ kind: 'webgpu', adapter: { ...ADAPTER, description: 'y' } }),
      probeCacheKey({ kind: 'webgpu', adapter: { ...ADAPTER, vendor: 'w' } }),
      probeCacheKey({ kind: 'webgpu', adapter: { ...ADAPTER, architecture: 'b' } }),
      probeCacheKey({ kind: 'cpu', adapter: null }),
    ]);
    expect(keys.size).toBe(5);
  });

  it('keeps probes for the process where there is no IndexedDB (in Node on disk too): one probe per device and model', async () => {
    // A cache folder of its own: Node keeps probes on disk, where an earlier run's would be found.
    vi.stubEnv('M3WEB_CACHE_DIR', mkdtempSync(join(tmpdir(), 'm3web-budget-')));
    const { backend, clock } = fakeBackend(() => 1);
    const first = await getOrProbe(backend, { kind: 'webgpu', adapter: ADAPTER }, 'm');
    expect(await getOrProbe(backend, { kind: 'webgpu', adapter: ADAPTER }, 'm')).toBe(first);
    expect(clock.calls).toHaveLength(19);
    await getOrProbe(backend, { kind: 'webgpu', adapter: ADAPTER }, 'another model');
    expect(clock.calls).toHaveLength(2 * 19);
    vi.unstubAllEnvs();
  });

  it('does not keep a probe timed at one depth of a deeper model (a progressive start): it is measured again', async () => {
    const { backend, clock } = fakeBackend(() => 1, 1);
    await getOrProbe(backend, { kind: 'webgpu', adapter: ADAPTER }, 'shallow');
    expect(clock.calls).toHaveLength(10);
    await getOrProbe(backend, { kind: 'webgpu', adapter: ADAPTER }, 'shallow');
    expect(clock.calls).toHaveLength(2 * 10);
  });
});

/** A full quality grid that grows with layers and dims, with some noise so it is not perfectly monotone. */
function qualityRows(exits: number[], dims: number[], next: () => number): QualityRow[] {
  return exits.flatMap((layers) =>
    dims.map((d) => ({ layers, dims: d, score: 0.3 + 0.04 * layers + 0.05 * Math.log2(d) + 0.03 * next() })),
  );
}

function randomSubset(all: number[], next: () => number): number[] {
  const s = all.filter(() => next() < 0.5);
  return s.length ? s : [all[Math.floor(next() * all.length)] as number];
}

/** The depth a plan runs on average: its exit, or adaptive depth's mean. */
const ran = (p: Plan) => p.adaptive?.meanLayers ?? p.layers;

describe('planBudget', () => {
  const cost = fitCostModel(fakeProbe((l, b, s) => truthMs(TRUTH, l, b, s)));
  const exits = [1, 2, 3, 4, 6, 8, 12];
  const dims = [16, 32, 48, 64];
  const rows = qualityRows(exits, dims, rng(3));
  const model: PlanModel = { exits, dims, config, quality: { rows } };
  /** `run`: the depth latency is paid for (adaptive depth's mean; memory holds all `l` layers). */
  const costs = (m: PlanModel, b: Budget, l: number, d: number, run = l) => {
    const seqLen = Math.min(config.maxTokens, Math.ceil(b.typicalTokens ?? 64));
    const batch = Math.ceil(b.batch ?? 1);
    return {
      latencyMs: cost.latencyMs(run, batch, seqLen),
      memoryMB: memoryMB(
        l,
        d,
        batch,
        seqLen,
        config,
        m.quantization ?? { linear: 'f32', embeddings: 'f32' },
        b.indexVectors ?? 0,
      ),
      bytes: d * 4,
    };
  };
  const meets = (m: PlanModel, b: Budget, l: number, d: number, run = l) => {
    const c = costs(m, b, l, d, run);
    return (
      c.latencyMs <= (b.maxLatencyMs ?? Infinity) &&
      c.memoryMB <= (b.maxMemoryMB ?? Infinity) &&
      c.bytes <= (b.maxBytesPerVector ?? Infinity)
    );
  };

  it('never lowers quality when a budget is enlarged, and picks the best plan that fits', () => {
    const next = rng(42);
    let fitted = 0;
    let unfit = 0;
    for (let trial = 0; trial < 400; trial++) {
      const mExits = randomSubset(exits, next);
      const mDims = randomSubset(dims, next);
      // Full tables, tables with cells missing, and no table.
      const kind = trial % 3;
      const mRows = kind === 2 ? undefined : qualityRows(mExits, mDims, next).filter(() => kind === 0 || next() < 0.6);
      const m: PlanModel = { exits: mExits, dims: mDims, config, quality: mRows && { rows: mRows } };
      const quality = qualityEstimator(mRows ?? [], mExits, mDims);
      const workload = {
        typicalTokens: 1 + Math.floor(next() * 300),
        batch: 1 + Math.floor(next() * 16),
        indexVectors: Math.floor(next() * 5000),
      };
      const all = mExits.flatMap((l) => mDims.map((d) => costs(m, workload, l, d)));
      const range = (pick: (c: (typeof all)[number]) => number) => {
        const v = all.map(pick);
        return Math.min(...v) * 0.8 + next() * (Math.max(...v) * 1.1 - Math.min(...v) * 0.8);
      };
      const budget: Budget = {
        ...workload,
        ...(next() < 0.8 ? { maxLatencyMs: range((c) => c.latencyMs) } : {}),
        ...(next() < 0.6 ? { maxMemoryMB: range((c) => c.memoryMB) } : {}),
        ...(next() < 0.5 ? { maxBytesPerVector: range((c) => c.bytes) } : {}),
      };
      const plan = planBudget(m, cost, budget);

      // Optimality against brute force over every (exit, dims), and adaptive depth at each width
      // (no measurement: assumed to run halfway between the second and the last exit on average).
      const sorted = [...mExits].sort((a, b) => a - b);
      const deepest = sorted.at(-1) as number;
      const mean = sorted.length > 1 ? ((sorted[1] as number) + deepest) / 2 : null;
      const cells = [
        ...mExits.flatMap((l) => mDims.map((d) => ({ l, d, run: l }))),
        ...(mean === null ? [] : mDims.map((d) => ({ l: deepest, d, run: mean }))),
      ];
      const fitting = cells.filter((c) => meets(m, budget, c.l, c.d, c.run));
      expect(plan.fits).toBe(fitting.length > 0);
      if (plan.fits) {
        fitted++;
        expect(meets(m, budget, plan.layers, plan.dims, ran(plan))).toBe(true);
        for (const c of fitting)
          expect(compareQuality(quality(c.run, c.d), quality(ran(plan), plan.dims))).toBeLessThanOrEqual(0);
      } else {
        unfit++;
        expect([plan.layers, plan.dims]).toEqual([Math.min(...mExits), Math.min(...mDims)]);
      }

      for (let e = 0; e < 5; e++) {
        const grow = (v: number | undefined) =>
          v === undefined || next() < 0.2 ? undefined : v * (1 + (next() < 0.3 ? 0 : next()));
        const larger: Budget = {
          ...workload,
          maxLatencyMs: grow(budget.maxLatencyMs),
          maxMemoryMB: grow(budget.maxMemoryMB),
          maxBytesPerVector: grow(budget.maxBytesPerVector),
        };
        const after = planBudget(m, cost, larger);
        if (plan.fits) expect(after.fits).toBe(true);
        expect(compareQuality(quality(ran(after), after.dims), quality(ran(plan), plan.dims))).toBeGreaterThanOrEqual(0);
      }
    }
    // The random budgets must exercise both outcomes for the property to mean anything.
    expect(fitted).toBeGreaterThan(100);
    expect(unfit).toBeGreaterThan(20);
  });

  it('meets a latency budget by adaptive depth where that is better than any fixed depth that fits', () => {
    const few = [1, 2, 4];
    const grid = few.flatMap((layers) => [16, 64].map((d) => ({ layers, dims: d, score: 0.1 * layers + d / 1000 })));
    const base: PlanModel = { exits: few, dims: [16, 64], config, quality: { rows: grid } };
    const between = (cost.latencyMs(3, 1, 64) + cost.latencyMs(4, 1, 64)) / 2;
    // Nothing measured: assumed to run (2 + 4) / 2 = 3 layers on average, worth a fixed depth of 3.
    const assumed = planBudget(base, cost, { maxLatencyMs: between });
    expect(assumed).toMatchObject({
      layers: 4,
      dims: 64,
      adaptive: { tolerance: DEFAULT_TOLERANCE, meanLayers: 3, measured: false },
    });
    expect(assumed.predicted.latencyMs).toBeCloseTo(cost.latencyMs(3, 1, 64));
    expect(assumed.reason).toContain(`adaptive depth (tolerance ${DEFAULT_TOLERANCE}, 3 of 4 layers on average, assumed`);
    // Measured: the manifest's figures decide, here a mean of 2.5 layers scoring like depth 4.
    const adaptive = [{ dims: 64, tolerance: 0.95, meanLayers: 2.5, score: 0.46 }];
    const measured = planBudget({ ...base, quality: { rows: grid, adaptive } }, cost, { maxLatencyMs: between });
    expect(measured).toMatchObject({ layers: 4, dims: 64, adaptive: { tolerance: 0.95, meanLayers: 2.5, measured: true } });
    expect(measured.predicted.quality).toBe(0.46);
    expect(measured.reason).toMatch(/measured on the dev sets/);
    // Enough for full depth: the fixed plan, as good as the assumption and no dearer.
    expect(planBudget(base, cost, {}).adaptive).toBeUndefined();
    // One exit, or an architecture without adaptive depth: never.
    expect(planBudget({ ...base, exits: [4] }, cost, { maxLatencyMs: between }).adaptive).toBeUndefined();
    const modern = { ...config, modern: {} as NonNullable<typeof config.modern> };
    expect(planBudget({ ...base, config: modern }, cost, { maxLatencyMs: between }).adaptive).toBeUndefined();
  });

  it('takes the best-scoring plan for an unlimited budget, ties going to lower latency', () => {
    const best = rows.reduce((a, r) => (r.score > a.score ? r : a));
    const plan = planBudget(model, cost);
    expect(plan).toMatchObject({ layers: best.layers, dims: best.dims, fits: true, predicted: { quality: best.score } });
    expect(plan.reason).toMatch(/no limits given/);
    const flat = { ...model, quality: { rows: rows.map((r) => ({ ...r, score: 0.5 })) } };
    expect(planBudget(flat, cost)).toMatchObject({ layers: 1, dims: 16 });
  });

  it('returns the cheapest plan with fits: false and names the limits it misses', () => {
    const cheapest = costs(model, {}, 1, 16);
    const plan = planBudget(model, cost, { maxLatencyMs: cheapest.latencyMs / 2, maxBytesPerVector: 40, maxMemoryMB: 1e6 });
    expect(plan).toMatchObject({ layers: 1, dims: 16, fits: false });
    expect(plan.predicted.latencyMs).toBeCloseTo(cheapest.latencyMs, 9);
    expect(plan.reason).toMatch(/nothing fits/);
    expect(plan.reason).toMatch(/maxLatencyMs .*\(100%\)/);
    expect(plan.reason).toMatch(/maxBytesPerVector 40: needs 64 bytes per vector, 24 over/);
    expect(plan.reason).not.toMatch(/maxMemoryMB/);
    expect(planBudget(model, cost, { maxMemoryMB: 0 })).toMatchObject({ layers: 1, dims: 16, fits: false });
  });

  it('interpolates missing cells, bounds them from below, and falls back to a proxy', () => {
    const grid = rows.filter((r) => !(r.layers === 4 && r.dims === 32) && !(r.layers === 12 && r.dims === 64));
    const score = (l: number, d: number) => (rows.find((r) => r.layers === l && r.dims === d) as QualityRow).score;
    const holes = { ...model, quality: { rows: grid } };
    // Only 4 layers fit and only 32 dims: the plan is the missing cell, interpolated from 3/6 layers and 16/48 dims.
    const limit = { maxLatencyMs: costs(model, {}, 4, 32).latencyMs, maxBytesPerVector: 32 * 4 };
    const plan = planBudget({ ...holes, exits: [1, 2, 4, 6], dims: [16, 32, 48] }, cost, limit);
    const alongDims = score(4, 16) + ((score(4, 48) - score(4, 16)) * (5 - 4)) / (Math.log2(48) - 4);
    const layersInterp = score(3, 32) + ((score(6, 32) - score(3, 32)) * (4 - 3)) / (6 - 3);
    expect(plan).toMatchObject({ layers: 4, dims: 32, fits: true });
    expect(plan.predicted.quality).toBeCloseTo((alongDims + layersInterp) / 2, 12);
    expect(plan.reason).toMatch(/interpolated/);

    // The missing top cell is at least as good as the cells it contains; their best wins the tie by cost.
    const top = planBudget(holes, cost);
    const bound = Math.max(...grid.map((r) => r.score));
    expect(top.predicted.quality).toBe(bound);
    expect(top.reason).not.toMatch(/interpolated|proxy/);

    // A table with the full model only: a small budget leaves proxy-ranked cells, largest first.
    const fullOnly = { ...model, quality: { rows: [{ layers: 12, dims: 64, score: 0.9 }] } };
    const small = planBudget(fullOnly, cost, { maxLatencyMs: costs(model, {}, 3, 64).latencyMs });
    expect(small).toMatchObject({ layers: 3, dims: 64, fits: true, predicted: { quality: null } });
    expect(small.reason).toMatch(/proxy/);
    expect(planBudget({ exits, dims, config }, cost)).toMatchObject({ layers: 12, dims: 64, predicted: { quality: null } });

    // Measured from 3 layers up only: the scored cells outrank the larger-proxy shallow ones.
    const deep = rows.filter((r) => r.layers >= 3);
    const bestFit = deep.filter((r) => r.layers <= 6).reduce((a, r) => (r.score > a.score ? r : a));
    const mid = planBudget({ ...model, quality: { rows: deep } }, cost, { maxLatencyMs: costs(model, {}, 6, 64).latencyMs });
    expect(mid).toMatchObject({ layers: bestFit.layers, dims: bestFit.dims, predicted: { quality: bestFit.score } });
  });

  it('throws InputError for budgets of the wrong type only', () => {
    const bad: unknown[] = [
      null,
      5,
      'fast',
      [],
      { maxLatencyMs: -1 },
      { maxMemoryMB: Number.NaN },
      { maxBytesPerVector: '512' },
      { typicalTokens: Number.POSITIVE_INFINITY },
      { batch: -2 },
      { indexVectors: true },
    ];
    for (const b of bad) expect(() => planBudget(model, cost, b as Budget)).toThrow(InputError);
    const odd: Budget[] = [
      { maxLatencyMs: 0 },
      { maxLatencyMs: Number.POSITIVE_INFINITY, maxMemoryMB: 1e12 },
      { typicalTokens: 1e9, batch: 2.5, indexVectors: 0.5 },
      { typicalTokens: 0, batch: 0 },
    ];
    for (const b of odd) expect(() => planBudget(model, cost, b)).not.toThrow();
    const ignored = planBudget(model, cost, { maxLatency: 5 } as Budget);
    expect(ignored.reason).toMatch(/ignored unknown budget fields: maxLatency/);
  });

  it('plans from a manifest-style raw config and quantization', () => {
    const raw = {
      model_type: 'bert',
      vocab_size: 1000,
      hidden_size: 64,
      num_hidden_layers: 12,
      num_attention_heads: 4,
      intermediate_size: 128,
      max_position_embeddings: 512,
    };
    const quantization = { linear: 'q8', embeddings: 'q8' } as const;
    const plan = planBudget({ exits, dims, config: raw, quantization, maxTokens: 100 }, cost, { typicalTokens: 300 });
    // typicalTokens is capped at the pack's 100 tokens.
    expect(plan.predicted.latencyMs).toBeCloseTo(cost.latencyMs(12, 1, 100), 9);
    expect(plan.predicted.memoryMB).toBeCloseTo(memoryMB(12, 64, 1, 100, config, quantization), 9);
  });
});
