import { describe, expect, it } from 'vitest';
import { type SharedReads, sharedReads } from '../../src/gpu/device.js';
import { AttentionKernel } from '../../src/gpu/kernels/attention.js';
import { EmbedKernel } from '../../src/gpu/kernels/embed.js';
import { LayerNormKernel } from '../../src/gpu/kernels/layernorm.js';
import { MatmulKernel, uploadLinear } from '../../src/gpu/kernels/matmul.js';
import { PoolKernel } from '../../src/gpu/kernels/pool.js';
import { applyRope, attention, layerNorm, matmul, pool } from '../../src/model/cpu-ops.js';
import { finishVector } from '../../src/model/encoder.js';
import { WeightUploads } from '../../src/model/gpu-graph.js';
import { gelu, geluTanh } from '../../src/model/math.js';
import { ropeTable } from '../../src/model/rope.js';
import { dequantizeLinear, quantizeLinear } from '../../src/weights/quantize.js';
import { QUANTS } from '../../src/weights/weights.js';
import { empty, runPass, storage, testGpu } from '../support/gpu.js';
import { maxAbsDiff, randomArray, rng } from '../support/random.js';

const binding = (buffer: GPUBuffer): GPUBufferBinding => ({ buffer, offset: 0, size: buffer.size });

// Both ways of reading shared values on every test adapter: both adapters have subgroups and
// would pick `subgroup` for themselves, which leaves `direct` (the GPU plan) to these tests.
const readPlans = async (): Promise<SharedReads[]> => {
  const gpu = await testGpu();
  expect(sharedReads(gpu)).toBe(gpu.features.subgroups && gpu.adapter.isFallback ? 'subgroup' : 'direct');
  return gpu.features.subgroups ? ['direct', 'subgroup'] : ['direct'];
};

describe.each(await readPlans())('matmul kernel, %s reads', async (reads) => {
  const { device } = await testGpu();
  const kernel = await MatmulKernel.create(device, QUANTS, reads);
  await kernel.prepare([1, 513], { wait: true });
  // Odd sizes on purpose: K and N not multiples of the tile (K = 7, 33 take the scalar weight
  // path, 48 and 40 the vec4 one), M on both sides of the 48-row switch.
  const shapes = [
    [1, 7, 5],
    [7, 33, 65],
    [48, 36, 260],
    [130, 48, 120],
    [513, 40, 70],
  ] as const;
  for (const quant of QUANTS) {
    for (const [M, K, N] of shapes) {
      for (const act of ['none', 'gelu'] as const) {
        it(`${quant} ${M}x${K} . ${N}x${K}^T ${act}`, async () => {
          const next = rng(M * 1000 + K * 10 + N);
          const x = randomArray(M * K, 1, next);
          const linear = quantizeLinear(randomArray(N * K, 1 / Math.sqrt(K), next), N, K, randomArray(N, 0.5, next), quant);
          const y = empty(device, M * N);
          const got = await runPass(device, y, M * N, (pass, u) =>
            kernel.encode(pass, u, storage(device, x), uploadLinear(device, 'w', linear), y, M, act),
          );
          // The reference multiplies by the dequantized matrix: q8/q4 kernels must decode exactly.
          const want = matmul(x, { w: dequantizeLinear(linear), b: linear.bias, rows: N, cols: K }, M);
          if (act === 'gelu') for (let i = 0; i < want.length; i++) want[i] = gelu(want[i] as number);
          expect(maxAbsDiff(got.subarray(0, M * N), want)).toBeLessThan(1e-4);
        });
      }
    }
  }
});

describe.each(await readPlans())('matmul kernel, %s reads, tanh GELU', async (reads) => {
  const { device } = await testGpu();
  const kernel = await MatmulKernel.create(device, ['f32'], reads);
  await kernel.prepare([7, 130], { wait: true });
  // Outputs of std ~3 reach 2.7, where exact GELU is 4.7e-4 from the tanh form: far outside the
  // kernel's rounding, so a kernel running the wrong one fails.
  for (const M of [7, 130]) {
    it(`${M}x40 . 96x40^T: ALBERT's gelu_new, not exact GELU`, async () => {
      const next = rng(M + 7);
      const [K, N] = [40, 96];
      const x = randomArray(M * K, 3, next);
      const linear = quantizeLinear(randomArray(N * K, 1 / Math.sqrt(K), next), N, K, randomArray(N, 0.5, next), 'f32');
      const y = empty(device, M * N);
      const got = await runPass(device, y, M * N, (pass, u) =>
        kernel.encode(pass, u, storage(device, x), uploadLinear(device, 'w', linear), y, M, 'gelu_tanh'),
      );
      const full = matmul(x, { w: dequantizeLinear(linear), b: linear.bias, rows: N, cols: K }, M);
      expect(maxAbsDiff(got.subarray(0, M * N), full.map(geluTanh))).toBeLessThan(2e-5);
      expect(maxAbsDiff(got.subarray(0, M * N), full.map(gelu))).toBeGreaterThan(1e-4);
    });
  }
});

describe.each(await readPlans())('matmul kernel, %s reads, ModernBERT epilogues', async (reads) => {
  const { device } = await testGpu();
  const quants = ['f32', 'q8'] as const;
  const kernel = await MatmulKernel.create(device, quants, reads);
  await kernel.prepare([7, 130], { wait: true });
  for (const quant of quants) {
    for (const [M, K, N] of [
      [7, 33, 130],
      [130, 48, 64],
    ] as const) {
      it(`${quant} ${M}x${K}: GeGLU over ${N} rows, and adding into y`, async () => {
        const next = rng(M + K + N);
        const x = randomArray(M * K, 1, next);
        const linear = quantizeLinear(randomArray(N * K, 1 / Math.sqrt(K), next), N, K, randomArray(N, 0.5, next), quant);
        const full = matmul(x, { w: dequantizeLinear(linear), b: linear.bias, rows: N, cols: K }, M);
        const I = N / 2;
        const y = empty(device, M * I);
        const got = await runPass(device, y, M * I, (pass, u) =>
          kernel.encode(pass, u, storage(device, x), uploadLinear(device, 'w', linear), y, M, 'geglu'),
        );
        const want = new Float32Array(M * I);
        for (let m = 0; m < M; m++)
          for (let i = 0; i < I; i++) want[m * I + i] = gelu(full[m * N + i] as number) * (full[m * N + I + i] as number);
        expect(maxAbsDiff(got.subarray(0, M * I), want)).toBeLessThan(1e-4);

        const before = randomArray(M * N, 1, next);
        const acc = storage(device, before);
        const summed = await runPass(device, acc, M * N, (pass, u) =>
          kernel.encode(pass, u, storage(device, x), uploadLinear(device, 'w', linear), acc, M, 'residual'),
        );
        expect(
          maxAbsDiff(
            summed.subarray(0, M * N),
            full.map((v, i) => v + (before[i] as number)),
          ),
        ).toBeLessThan(1e-4);
      });
    }
  }
});

describe.each(await readPlans())('attention kernel, %s reads, with RoPE and a sliding window', async (reads) => {
  const { device } = await testGpu();
  const cases = [
    { lengths: [70, 20, 1], seqLen: 70, heads: 2, headDim: 16, window: 5 },
    { lengths: [300, 150], seqLen: 300, heads: 1, headDim: 64, window: 64 },
    { lengths: [40], seqLen: 40, heads: 2, headDim: 32, window: undefined },
  ];
  for (const c of cases) {
    it(`seq ${c.seqLen}, lengths ${c.lengths}, window ${c.window ?? 'none'}`, async () => {
      const kernel = await AttentionKernel.create(device, c.headDim, true, reads);
      const H = c.heads * c.headDim;
      const rows = c.lengths.length;
      const M = rows * c.seqLen;
      const qkv = randomArray(M * 3 * H, 1.5, rng(c.seqLen + H + 1));
      const lengths = new Uint32Array(c.lengths);
      const table = ropeTable(10000, c.headDim, c.seqLen);
      const ctx = empty(device, M * H);
      const got = await runPass(device, ctx, M * H, (pass, u) =>
        kernel.encode(
          pass,
          u,
          storage(device, qkv),
          binding(storage(device, lengths)),
          ctx,
          { rows, seqLen: c.seqLen, heads: c.heads },
          { rope: storage(device, table), ...(c.window === undefined ? {} : { windowHalf: c.window }) },
        ),
      );
      const batch = { size: rows, seqLen: c.seqLen, lengths };
      const rotated = qkv.slice();
      applyRope(rotated, batch, c.heads, c.headDim, table);
      const want = attention(rotated, batch, c.heads, c.headDim, c.window);
      expect(maxAbsDiff(got.subarray(0, M * H), want)).toBeLessThan(1e-4);
    });
  }
});

describe.each(await readPlans())('attention kernel, %s reads', async (reads) => {
  const { device } = await testGpu();
  const cases = [
    { lengths: [1], seqLen: 1, heads: 2, headDim: 16 },
    // 10: a head that is not a whole number of vec4s.
    { lengths: [7, 3, 1], seqLen: 7, heads: 3, headDim: 10 },
    { lengths: [513, 200], seqLen: 513, heads: 2, headDim: 64 },
    { lengths: [70, 65], seqLen: 70, heads: 1, headDim: 128 },
  ];
  for (const c of cases) {
    it(`seq ${c.seqLen}, lengths ${c.lengths}, ${c.heads} heads of ${c.headDim}`, async () => {
      const kernel = await AttentionKernel.create(device, c.headDim, false, reads);
      const H = c.heads * c.headDim;
      const rows = c.lengths.length;
      const M = rows * c.seqLen;
      const qkv = randomArray(M * 3 * H, 1.5, rng(c.seqLen + H));
      const lengths = new Uint32Array(c.lengths);
      const ctx = empty(device, M * H);
      const got = await runPass(device, ctx, M * H, (pass, u) =>
        kernel.encode(pass, u, storage(device, qkv), binding(storage(device, lengths)), ctx, {
          rows,
          seqLen: c.seqLen,
          heads: c.heads,
        }),
      );
      const want = attention(qkv, { size: rows, seqLen: c.seqLen, lengths }, c.heads, c.headDim);
      expect(maxAbsDiff(got.subarray(0, M * H), want)).toBeLessThan(1e-4);
    });
  }
});

describe('layernorm kernel', async () => {
  const { device } = await testGpu();
  for (const H of [3, 48, 100, 384]) {
    for (const residual of [true, false]) {
      it(`H=${H} ${residual ? 'with' : 'without'} residual`, async () => {
        const eps = 1e-5;
        const kernel = await LayerNormKernel.create(device, eps);
        const M = 9;
        const next = rng(H);
        const x = randomArray(M * H, 3, next).map((v) => v + 5);
        const r = randomArray(M * H, 1, next);
        const norm = { gamma: randomArray(H, 0.2, next).map((v) => v + 1), beta: randomArray(H, 0.2, next) };
        const xb = storage(device, x);
        const got = await runPass(device, xb, M * H, (pass, u) =>
          kernel.encode(
            pass,
            u,
            xb,
            residual ? storage(device, r) : null,
            { gamma: storage(device, norm.gamma), beta: storage(device, norm.beta) },
            M,
            H,
          ),
        );
        const want = x.slice();
        layerNorm(want, residual ? r : null, norm, H, eps);
        expect(maxAbsDiff(got.subarray(0, M * H), want)).toBeLessThan(1e-4);
      });
    }
    it(`H=${H} into another buffer, leaving x as it was`, async () => {
      const eps = 1e-5;
      const kernel = await LayerNormKernel.create(device, eps);
      const M = 5;
      const next = rng(H + 1);
      const x = randomArray(M * H, 3, next).map((v) => v + 5);
      const norm = { gamma: randomArray(H, 0.2, next).map((v) => v + 1), beta: randomArray(H, 0.2, next) };
      const xb = storage(device, x);
      const out = empty(device, M * H);
      const got = await runPass(device, out, M * H, (pass, u) =>
        kernel.encodeTo(pass, u, xb, out, { gamma: storage(device, norm.gamma), beta: storage(device, norm.beta) }, M, H),
      );
      const want = x.slice();
      layerNorm(want, null, norm, H, eps);
      expect(maxAbsDiff(got.subarray(0, M * H), want)).toBeLessThan(1e-4);
      const kept = await runPass(device, xb, M * H, () => {});
      expect(maxAbsDiff(kept.subarray(0, M * H), x)).toBe(0);
    });
  }
});

describe('embed kernel', async () => {
  const { device } = await testGpu();
  it('adds position and token-type rows to gathered word rows', async () => {
    const kernel = await EmbedKernel.create(device);
    const H = 40;
    const M = 11;
    const next = rng(3);
    const word = randomArray(M * H, 1, next);
    const table = randomArray(20 * H, 1, next);
    const type = randomArray(H, 1, next);
    const positions = new Uint32Array(Array.from({ length: M }, (_, i) => (i * 7) % 20));
    const x = empty(device, M * H);
    const got = await runPass(device, x, M * H, (pass, u) =>
      kernel.encode(
        pass,
        u,
        {
          wordRows: binding(storage(device, word)),
          positions: binding(storage(device, positions)),
          positionTable: storage(device, table),
          tokenType: storage(device, type),
        },
        x,
        M,
        H,
      ),
    );
    const want = word.map(
      (v, i) => v + (table[(positions[Math.floor(i / H)] as number) * H + (i % H)] as number) + (type[i % H] as number),
    );
    expect(maxAbsDiff(got.subarray(0, M * H), want)).toBeLessThan(1e-5);
  });
});

describe('pool kernel', async () => {
  const { device } = await testGpu();
  const kernel = await PoolKernel.create(device);
  for (const pooling of ['mean', 'cls'] as const) {
    for (const [H, dims, normalize] of [
      [48, 48, true],
      [100, 33, true],
      [384, 64, false],
    ] as const) {
      it(`${pooling} H=${H} dims=${dims} normalize=${normalize}`, async () => {
        const seqLen = 7;
        const lengths = new Uint32Array([7, 1, 4]);
        const hidden = randomArray(lengths.length * seqLen * H, 1, rng(H + dims));
        const outRow0 = 2;
        const out = empty(device, (outRow0 + lengths.length) * dims);
        const got = await runPass(device, out, (outRow0 + lengths.length) * dims, (pass, u) =>
          kernel.encode(pass, u, storage(device, hidden), binding(storage(device, lengths)), out, {
            rows: lengths.length,
            seqLen,
            hidden: H,
            dims,
            outRow0,
            pooling,
            normalize,
          }),
        );
        lengths.forEach((len, row) => {
          const tokens = hidden.subarray(row * seqLen * H, (row + 1) * seqLen * H);
          const want = finishVector(pool(tokens, len, H, pooling), dims, normalize);
          const start = (outRow0 + row) * dims;
          expect(maxAbsDiff(got.subarray(start, start + dims), want)).toBeLessThan(1e-5);
        });
      });
    }
  }
});

describe('weight uploads', async () => {
  const { device } = await testGpu();
  it("upload a Linear or an array once however many layers name it (ALBERT's shared groups), others apart", () => {
    const up = new WeightUploads(device);
    const next = rng(5);
    const shared = quantizeLinear(randomArray(8 * 4, 1, next), 8, 4, randomArray(8, 1, next), 'q8');
    const other = quantizeLinear(randomArray(8 * 4, 1, next), 8, 4, randomArray(8, 1, next), 'q8');
    expect(up.linear('layer0.qkv', shared)).toBe(up.linear('layer1.qkv', shared));
    expect(up.linear('layer2.qkv', other)).not.toBe(up.linear('layer0.qkv', shared));
    const norm = { gamma: randomArray(4, 1, next), beta: randomArray(4, 1, next) };
    const [first, again] = [up.norm('layer0.attn_norm', norm), up.norm('layer1.attn_norm', norm)];
    expect(again.gamma).toBe(first.gamma);
    expect(again.beta).toBe(first.beta);
    expect(first.beta).not.toBe(first.gamma);
    up.destroy();
  });
});
