import { describe, expect, it } from 'vitest';
import { stats, timeCalls } from '../../bench/measure.js';
import { type RowResult, ratios } from '../../bench/results-table.js';

// The benchmark's published figures rest on these: medians and nearest-rank p95 of the timed
// calls only, and ratios taken against the peer row of the same device and dtype.
describe('benchmark measuring', () => {
  it('takes the median and nearest-rank 95th percentile', () => {
    expect(stats([5, 1, 4, 2, 3])).toEqual({ runs: 5, p50: 3, p95: 5 });
    const twenty = Array.from({ length: 20 }, (_, i) => 20 - i);
    expect(stats(twenty)).toEqual({ runs: 20, p50: 10, p95: 19 });
  });

  it('leaves the two warm-up calls out and times at least minRuns calls', async () => {
    const durations = [150, 120, 10, 11, 12, 13, 14, 15, 16];
    let call = 0;
    const fn = async () => {
      const d = durations[call++] ?? 20;
      const until = performance.now() + d;
      while (performance.now() < until);
    };
    const s = await timeCalls(fn, { minRuns: 5, maxRuns: 5, budgetMs: 0 });
    expect(call).toBe(7);
    expect(s.runs).toBe(5);
    expect(s.p95).toBeLessThan(100);
  });

  it('compares m3web with the transformers.js row of the same device and dtype, wasm for the CPU', () => {
    const tput = (tokensPerSec: number) => ({ runs: 5, p50: 1, p95: 1, texts: 8, tokens: 1024, tokensPerSec });
    const lat = (p50: number) => ({ runs: 5, p50, p95: p50 });
    const row = (runtime: RowResult['runtime'], device: string, dtype: RowResult['dtype'], t: number, l: number): RowResult => ({
      runtime,
      device,
      dtype,
      point: 'full',
      throughput: tput(t),
      latency16: lat(l),
      coldStartMs: 1000,
    });
    const lines = ratios([
      row('m3web', 'webgpu', 'f32', 600, 40),
      row('m3web', 'cpu', 'f32', 300, 10),
      row('transformers.js', 'webgpu', 'q8', 500, 50),
      row('transformers.js', 'webgpu', 'f32', 200, 200),
      row('transformers.js', 'wasm', 'f32', 600, 5),
      row('transformers.js', 'cpu', 'f32', 6000, 1),
    ]);
    expect(lines).toEqual([
      '- m3web webgpu f32 vs transformers.js webgpu f32: throughput 3.00x, 16-token latency 0.20x, start 1.00x',
      '- m3web cpu f32 vs transformers.js wasm f32: throughput 0.50x, 16-token latency 2.00x, start 1.00x',
    ]);
  });
});
