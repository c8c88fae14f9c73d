import { describe, expect, it } from 'vitest';
import { UnsupportedError } from '../../src/errors.js';
import { alibiSlopes } from '../../src/model/alibi.js';
import type { AttentionShape } from '../../src/model/attention-shape.js';
import { attention, cpuLinear, groupedAttention, matmul } from '../../src/model/cpu-ops.js';
import { gelu, geluTanh } from '../../src/model/math.js';
import { assembleKernels } from '../../src/model/wasm/assemble.js';
import { WasmKernels } from '../../src/model/wasm/kernels.js';
import { KERNELS_SHARED_WASM_BASE64, KERNELS_WASM_BASE64 } from '../../src/model/wasm/kernels-wasm.js';
import type { Linear } from '../../src/weights/weights.js';
import { randomArray, rng } from '../support/random.js';

// The SIMD WebAssembly kernels of the CPU fallback, against the plain-TypeScript loops.
describe('WebAssembly kernels', () => {
  it('the committed module is kernels.wat assembled (run `npm run build:wasm` after editing it)', async () => {
    const { single, shared } = await assembleKernels();
    expect(Buffer.from(single).toString('base64')).toBe(KERNELS_WASM_BASE64);
    expect(Buffer.from(shared).toString('base64')).toBe(KERNELS_SHARED_WASM_BASE64);
  });

  it('equals the TypeScript matmul on shapes with leftover rows, columns and K % 4 dims', () => {
    const kernel = WasmKernels.create();
    expect(kernel).not.toBeNull();
    const next = rng(7);
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [3, 5, 7],
      [4, 2, 4],
      [9, 7, 13],
      [17, 33, 258],
      [64, 96, 256],
    ];
    const placed = shapes.map(([, N, K]) => {
      const w = randomArray(N * K, 1, next);
      const b = randomArray(N, 1, next);
      return { dense: { w, b, rows: N, cols: K }, at: kernel?.place(w, b, N, K) };
    });
    // Large M first: the scratch grows, and the weights placed before must survive it.
    for (const Mscale of [8, 1]) {
      shapes.forEach(([M, N, K], i) => {
        const { dense, at } = placed[i] as (typeof placed)[number];
        const rows = M * Mscale;
        const x = randomArray(rows * K, 1, next);
        const got = kernel?.matmul(x, at as NonNullable<typeof at>, rows, 'none') as Float32Array;
        const want = matmul(x, dense, rows);
        expect(got.length).toBe(rows * N);
        const scale = Math.sqrt(K);
        want.forEach((v, j) => {
          expect(Math.abs((got[j] as number) - v)).toBeLessThan(1e-5 * scale);
        });
      });
    }
  });

  it('cpuLinear gives the same projection with and without the kernel', () => {
    const next = rng(11);
    const rows = 24;
    const cols = 40;
    const w = randomArray(rows * cols, 1, next);
    const l: Linear = { quant: 'f32', rows, cols, data: new Uint8Array(w.buffer), bias: randomArray(rows, 1, next) };
    const x = randomArray(5 * cols, 1, next);
    for (const activation of ['none', 'gelu', 'gelu_tanh'] as const) {
      const plain = cpuLinear(l, null)(x, 5, activation);
      const simd = cpuLinear(l, WasmKernels.create())(x, 5, activation);
      plain.forEach((v, j) => {
        expect(simd[j]).toBeCloseTo(v, 5);
      });
    }
    // ALBERT's gelu_new is the tanh form on both paths: 1e-4 and more from exact GELU where outputs reach ~2.7.
    const y = cpuLinear(l, null)(x, 5);
    for (const kernel of [null, WasmKernels.create()]) {
      const tanh = cpuLinear(l, kernel)(x, 5, 'gelu_tanh');
      expect(Math.max(...tanh.map((v, j) => Math.abs(v - geluTanh(y[j] as number))))).toBeLessThan(1e-5);
      expect(Math.max(...tanh.map((v, j) => Math.abs(v - gelu(y[j] as number))))).toBeGreaterThan(1e-4);
    }
  });

  it('GELU (exp and erf in SIMD) equals the TypeScript GELU from -40 to 40, odd counts included', () => {
    const kernel = WasmKernels.create() as WasmKernels;
    // An identity projection: y = x, so the epilogue sees chosen values.
    const n = 7;
    const eye = new Float32Array(n * n).map((_, i) => (i % (n + 1) === 0 ? 1 : 0));
    const placed = kernel.place(eye, new Float32Array(n), n, n) as NonNullable<ReturnType<WasmKernels['place']>>;
    const values = Float32Array.from({ length: 8001 * n }, (_, i) => -40 + (i * 80) / (8001 * n - 1));
    const got = kernel.matmul(values, placed, 8001, 'gelu') as Float32Array;
    values.forEach((v, i) => {
      const want = gelu(v);
      expect(Math.abs((got[i] as number) - want)).toBeLessThan(2e-7 * Math.max(1, Math.abs(want)));
    });
  });

  it('grouped-query attention equals the TypeScript one, causal or windowed, with its own scale, ALiBi, a relative bias or disentangled terms', () => {
    const kernel = WasmKernels.create();
    expect(kernel).not.toBeNull();
    const next = rng(17);
    const cases: AttentionShape[] = [
      { heads: 4, kvHeads: 2, d: 6, windowHalf: Number.POSITIVE_INFINITY, causal: true, scale: 0.3 },
      { heads: 3, kvHeads: 1, d: 32, windowHalf: 5, causal: false, scale: 1 / 16 },
      { heads: 2, kvHeads: 2, d: 8, windowHalf: 3, causal: true, scale: 0.5 },
      // JinaBERT's ALiBi, 6 heads (not a power of two: the second slope family too).
      {
        heads: 6,
        kvHeads: 6,
        d: 8,
        windowHalf: Number.POSITIVE_INFINITY,
        causal: false,
        scale: 1 / Math.sqrt(8),
        alibi: alibiSlopes(6),
      },
      // MPNet's relative bias, its reach short of the rows so that distances clamp both ways.
      {
        heads: 3,
        kvHeads: 3,
        d: 8,
        windowHalf: Number.POSITIVE_INFINITY,
        causal: false,
        scale: 1 / Math.sqrt(8),
        relative: { table: randomArray(3 * 9, 2, next), reach: 4 },
      },
      // DeBERTa's disentangled terms over 30 relative rows (q | k | v each), each distance's row
      // clamped as make_log_bucket_position's are; then c2p alone.
      ...[true, false].map(
        (p2c): AttentionShape => ({
          heads: 3,
          kvHeads: 3,
          d: 8,
          windowHalf: Number.POSITIVE_INFINITY,
          causal: false,
          scale: 1 / Math.sqrt(24),
          disentangled: {
            rel: randomArray(30 * 9 * 8, 2, next),
            index: Int32Array.from({ length: 45 }, (_, k) => Math.min(29, Math.max(0, k - 8))),
            reach: 22,
            c2p: true,
            p2c,
          },
        }),
      ),
    ];
    for (const shape of cases) {
      const lengths = [23, 17, 1];
      const seqLen = 23;
      const batch = { size: lengths.length, seqLen, lengths: Uint32Array.from(lengths) };
      const row = (shape.heads + 2 * shape.kvHeads) * shape.d;
      const qkv = randomArray(batch.size * seqLen * row, 2, next);
      const got = kernel?.groupedAttention(qkv, batch, shape) as Float32Array;
      const want = groupedAttention(qkv, batch, shape);
      const H = shape.heads * shape.d;
      lengths.forEach((len, r) => {
        for (let i = 0; i < len; i++) {
          for (let c = 0; c < H; c++) {
            const at = (r * seqLen + i) * H + c;
            expect(Math.abs((got[at] as number) - (want[at] as number))).toBeLessThan(1e-5);
          }
        }
      });
    }
  });

  it('attention equals the TypeScript attention on padded rows, odd head sizes and sliding windows', () => {
    const kernel = WasmKernels.create();
    expect(kernel).not.toBeNull();
    const next = rng(13);
    const cases: { heads: number; d: number; seqLen: number; lengths: number[]; window?: number }[] = [
      { heads: 2, d: 8, seqLen: 5, lengths: [5, 3] },
      { heads: 3, d: 6, seqLen: 9, lengths: [9, 1, 4] },
      { heads: 4, d: 16, seqLen: 40, lengths: [40, 33], window: 4 },
      { heads: 1, d: 64, seqLen: 130, lengths: [130], window: 64 },
    ];
    for (const { heads, d, seqLen, lengths, window } of cases) {
      const batch = { size: lengths.length, seqLen, lengths: Uint32Array.from(lengths) };
      const qkv = randomArray(batch.size * seqLen * 3 * heads * d, 2, next);
      const got = kernel?.attention(qkv, batch, heads, d, window) as Float32Array;
      const want = attention(qkv, batch, heads, d, window);
      expect(got.length).toBe(want.length);
      const H = heads * d;
      lengths.forEach((len, r) => {
        for (let i = 0; i < seqLen; i++) {
          for (let c = 0; c < H; c++) {
            const at = (r * seqLen + i) * H + c;
            // Padding rows: zeros, which nothing reads.
            if (i >= len) expect(got[at]).toBe(0);
            else expect(Math.abs((got[at] as number) - (want[at] as number))).toBeLessThan(1e-5);
          }
        }
      });
    }
  });

  it("computes a late-interaction query's expansion rows (past the attended length, up to `computed`) as the TypeScript attention does", () => {
    const kernel = WasmKernels.create();
    const next = rng(19);
    const [heads, d, seqLen] = [3, 8, 14];
    const lengths = [5, 9, 14];
    const computed = [14, 12, 14];
    const batch = { size: 3, seqLen, lengths: Uint32Array.from(lengths), computed: Uint32Array.from(computed) };
    const qkv = randomArray(batch.size * seqLen * 3 * heads * d, 2, next);
    const H = heads * d;
    // A local window of 2 leaves the farthest expansion rows no key at all: zeros, as elsewhere.
    for (const window of [undefined, 2]) {
      const got = kernel?.attention(qkv, batch, heads, d, window) as Float32Array;
      const want = attention(qkv, batch, heads, d, window);
      computed.forEach((n, r) => {
        for (let i = 0; i < seqLen; i++) {
          for (let c = 0; c < H; c++) {
            const at = (r * seqLen + i) * H + c;
            if (i >= n) expect(got[at]).toBe(0);
            else expect(Math.abs((got[at] as number) - (want[at] as number))).toBeLessThan(1e-5);
          }
        }
      });
    }
    const got = kernel?.attention(qkv, batch, heads, d) as Float32Array;
    // The expansion rows are not zeros, and the attended rows are what they are without them.
    expect(Math.abs(got[(0 * seqLen + 10) * H] as number)).toBeGreaterThan(0);
    const plain = kernel?.attention(qkv, { size: 3, seqLen, lengths: batch.lengths }, heads, d) as Float32Array;
    expect(got.subarray(0, 5 * H)).toEqual(plain.subarray(0, 5 * H));
  });

  it('near its memory cap: weights stay in TypeScript, calls run in chunks, and a call that cannot fit is refused', () => {
    // 4 pages: the first placement fills most of it.
    const kernel = WasmKernels.create({ maxBytes: 4 * 65536 }) as WasmKernels;
    const next = rng(17);
    const [N, K] = [64, 768];
    const w = randomArray(N * K, 1, next);
    const b = randomArray(N, 1, next);
    const placed = kernel.place(w, b, N, K);
    expect(placed).not.toBeNull();
    expect(kernel.place(w, b, N, K)).toBeNull();
    // 40 rows of scratch (x and y) need ~130 KB; ~60 KB are left: the call goes in chunks.
    const x = randomArray(40 * K, 1, next);
    const got = kernel.matmul(x, placed as NonNullable<typeof placed>, 40, 'none');
    const want = matmul(x, { w, b, rows: N, cols: K }, 40);
    want.forEach((v, j) => {
      expect(Math.abs((got[j] as number) - v)).toBeLessThan(1e-4);
    });
    const batch = { size: 1, seqLen: 64, lengths: Uint32Array.from([64]) };
    expect(() => kernel.attention(randomArray(64 * 3 * 256, 1, next), batch, 4, 64)).toThrow(UnsupportedError);
  });
});
