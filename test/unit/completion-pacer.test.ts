import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CompletionPacer } from '../../src/gpu/completion-pacer.js';

/** A stand-in for mapAsync on a GPU that finishes `gpuMs` after the submission at `submitted`. */
function gpuDone(submitted: number, gpuMs: number, startedAt: number[]): () => Promise<string> {
  return () => {
    startedAt.push(performance.now() - submitted);
    return new Promise((resolve) => setTimeout(() => resolve('mapped'), Math.max(0, submitted + gpuMs - performance.now())));
  };
}

async function call(pacer: CompletionPacer, work: number, gpuMs: number, startedAt: number[]): Promise<number> {
  const submitted = performance.now();
  const settled = pacer.settle(work, gpuDone(submitted, gpuMs, startedAt));
  await vi.runAllTimersAsync();
  expect(await settled).toBe('mapped');
  return performance.now() - submitted;
}

describe('CompletionPacer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('where waiting polls, starts waiting after most of the time the same work took before', async () => {
    const pacer = new CompletionPacer(true);
    const startedAt: number[] = [];
    for (let i = 0; i < 3; i++) expect(await call(pacer, 1000, 100, startedAt)).toBe(100);
    // Two calls of a size wait at once. Polling may have slowed them, so they count for 70 ms, and
    // the third call sleeps 85% of that first (fake timers count whole milliseconds).
    expect(startedAt).toEqual([0, 0, 59]);
  });

  it('shrinks a sleep that overshot until it ends before the GPU', async () => {
    const pacer = new CompletionPacer(true);
    const startedAt: number[] = [];
    for (let i = 0; i < 2; i++) await call(pacer, 1000, 100, startedAt);
    // The GPU becomes 4x faster (or the first calls were slowed down by polling).
    const took: number[] = [];
    for (let i = 0; i < 10; i++) took.push(await call(pacer, 1000, 25, startedAt));
    const converged = took.indexOf(25);
    expect(took[0]).toBe(59);
    // An overshoot only bounds the GPU's time, so the estimate drops well below it: 59, 35, 25.
    expect(converged).toBeGreaterThan(1);
    expect(converged).toBeLessThanOrEqual(4);
    expect(took.slice(0, converged).every((t, i) => i === 0 || t < (took[i - 1] as number))).toBe(true);
    expect(took.slice(converged).every((t) => t === 25)).toBe(true);
    expect(startedAt.at(-1)).toBeLessThan(25);
  });

  it('ignores a one-off slow call, and follows a GPU that stays slower', async () => {
    const pacer = new CompletionPacer(true);
    const startedAt: number[] = [];
    for (let i = 0; i < 3; i++) await call(pacer, 1000, 40, startedAt);
    await call(pacer, 1000, 400, startedAt);
    expect(await call(pacer, 1000, 40, startedAt)).toBe(40);
    expect(startedAt.at(-1)).toBeLessThan(40);
    for (let i = 0; i < 3; i++) expect(await call(pacer, 1000, 80, startedAt)).toBe(80);
    expect(await call(pacer, 1000, 80, startedAt)).toBe(80);
    expect(startedAt.at(-1)).toBe(68);
  });

  it('learns each size of work on its own, and never sleeps for zero work or where waiting does not poll', async () => {
    const pacer = new CompletionPacer(true);
    const startedAt: number[] = [];
    for (let i = 0; i < 2; i++) await call(pacer, 1000, 100, startedAt);
    for (let i = 0; i < 2; i++) await call(pacer, 8000, 800, startedAt);
    await call(pacer, 0, 10, startedAt);
    await call(pacer, 8000, 800, startedAt);
    expect(startedAt).toEqual([0, 0, 0, 0, 0, 476]);

    const browser = new CompletionPacer(false);
    const direct: number[] = [];
    for (let i = 0; i < 3; i++) expect(await call(browser, 1000, 100, direct)).toBe(100);
    expect(direct).toEqual([0, 0, 0]);
  });
});
