import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { bucketize } from '../../src/model/batch.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import { erf } from '../../src/model/math.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/weights/f16.js';
import { dequantizeLinear, quantizeLinear } from '../../src/weights/quantize.js';
import { Q4_GROUP } from '../../src/weights/weights.js';
import { bertConfig, randomArray, randomBert, randomTokens, rng } from '../support/random.js';

describe('f16 codec', () => {
  it('round-trips representable values and rounds to nearest', () => {
    for (const v of [0, 1, -2.5, 65504, 2 ** -24, 0.1, -1e-3]) {
      const back = f16BitsToF32(f32ToF16Bits(v));
      expect(Math.abs(back - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
    }
    expect(f16BitsToF32(f32ToF16Bits(1e6))).toBe(Number.POSITIVE_INFINITY);
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie rounds to even
  });
});

describe('quantization', () => {
  const rows = 5;
  const cols = 70; // not a multiple of the q4 group
  const w = randomArray(rows * cols, 0.05, rng(9));
  const bias = new Float32Array(rows);
  const relErr = (q: Float32Array) => {
    let e = 0;
    let n = 0;
    w.forEach((v, i) => {
      e += (v - (q[i] as number)) ** 2;
      n += v * v;
    });
    return Math.sqrt(e / n);
  };
  it('q8 keeps relative error under 1%', () => {
    const l = quantizeLinear(w, rows, cols, bias, 'q8');
    expect(l.scales).toHaveLength(rows);
    expect(relErr(dequantizeLinear(l))).toBeLessThan(0.01);
  });
  it('q4 packs groups of 32 with one scale each and keeps relative error under 12%', () => {
    const l = quantizeLinear(w, rows, cols, bias, 'q4');
    const groups = Math.ceil(cols / Q4_GROUP);
    expect(l.scales).toHaveLength(rows * groups);
    expect(l.data.byteLength).toBe((rows * groups * Q4_GROUP) / 2);
    expect(relErr(dequantizeLinear(l))).toBeLessThan(0.12);
  });
  it('f16 and f32 are near-exact', () => {
    expect(relErr(dequantizeLinear(quantizeLinear(w, rows, cols, bias, 'f16')))).toBeLessThan(1e-3);
    expect(relErr(dequantizeLinear(quantizeLinear(w, rows, cols, bias, 'f32')))).toBe(0);
  });
});

describe('erf', () => {
  it('matches reference values to 2e-7', () => {
    const table: [number, number][] = [
      [0, 0],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [-2, -0.9953222650189527],
      [3.5, 0.9999992569016276],
    ];
    for (const [x, want] of table) expect(Math.abs(erf(x) - want)).toBeLessThan(2e-7);
  });
});

describe('bucketize', () => {
  const bert = { padTokenId: 0, positionOffset: 0 };
  it('sorts by length, caps padded tokens per batch and remembers input order', () => {
    const tokens = randomTokens([5, 300, 7, 1, 290, 40], 50);
    const batches = bucketize(tokens, bert, 600);
    expect(batches.map((b) => b.seqLen)).toEqual([300, 40]);
    expect(batches.flatMap((b) => b.indices).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    for (const b of batches) expect(b.size * b.seqLen).toBeLessThanOrEqual(600);
    const [first] = batches;
    expect(first?.indices).toEqual([1, 4]);
    expect(Array.from(first?.lengths ?? [])).toEqual([300, 290]);
    expect(first?.ids[300 + 295]).toBe(0); // the shorter row is padded with the pad id
  });
  it('gives RoBERTa-style positions: offset for real tokens, padding_idx for pads', () => {
    const [b] = bucketize([[5, 6, 7], [8]], { padTokenId: 1, positionOffset: 2 });
    expect(Array.from(b?.positions ?? [])).toEqual([2, 3, 4, 2, 1, 1]);
  });
});

describe('forward options', () => {
  const encoder = new CpuEncoder(randomBert(bertConfig({ numLayers: 2, maxPositions: 16 })));
  const ok = { layers: 2, dims: 64, pooling: 'mean' as const, normalize: true };
  it.each([
    [{ ...ok, layers: 3 }, /layers must be an integer in 1..2/],
    [{ ...ok, layers: 0 }, /layers/],
    [{ ...ok, dims: 65 }, /dims must be an integer in 1..64/],
    [{ ...ok, dims: 1.5 }, /dims/],
  ])('rejects %o', async (options, message) => {
    await expect(encoder.embed([[1, 2]], options)).rejects.toThrow(message);
  });
  it('rejects empty, too long and out-of-vocabulary token lists with InputError', async () => {
    await expect(encoder.embed([[]], ok)).rejects.toBeInstanceOf(InputError);
    await expect(encoder.embed([new Array(17).fill(1)], ok)).rejects.toThrow(/17 tokens; the model takes 1..16/);
    await expect(encoder.embed([[1, 1000]], ok)).rejects.toThrow(/outside the vocabulary/);
  });
  it('truncates and normalises', async () => {
    const [v] = await encoder.embed([[3, 4, 5]], { ...ok, dims: 8 });
    expect(v).toHaveLength(8);
    expect(Math.hypot(...(v ?? []))).toBeCloseTo(1, 6);
  });
});
