import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { denseModules } from '../../src/checkpoint/sentence-transformers.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { type GpuContext, sharedReads } from '../../src/gpu/device.js';
import { MatmulKernel, uploadLinear } from '../../src/gpu/kernels/matmul.js';
import { type Elem, markElem } from '../../src/gpu/resources.js';
import { matmul } from '../../src/model/cpu-ops.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { parseHfConfig } from '../../src/weights/config.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/weights/f16.js';
import { dequantizeLinear, quantizeLinear } from '../../src/weights/quantize.js';
import type { Quant } from '../../src/weights/weights.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { preferLavapipe, runPass, storage, testGpu } from '../support/gpu.js';
import { m3Mini } from '../support/m3-mini.js';
import { cosine, randomArray, rng } from '../support/random.js';

/**
 * f16 activations (GpuEncoder's `activations: 'f16'`) against the same float64 PyTorch oracles
 * as parity.test.ts, modernbert-parity.test.ts and decoder-parity.test.ts. They need the
 * adapter's `shader-f16`, which SwiftShader (the Node project's default, and Chromium's) lacks:
 * in Node this file asks Dawn for Mesa's lavapipe instead when its driver is installed
 * (preferLavapipe), and skips, saying why, where no adapter has the feature.
 */
preferLavapipe();
const gpu: GpuContext = await testGpu();
const skip = gpu.features.shaderF16 ? '' : `the adapter (${gpu.adapter.description || gpu.adapter.vendor}) has no shader-f16`;

/** The bound for f16 activations, hidden states and pooled vectors alike. */
const THRESHOLD = 0.9999;
const measured: string[] = [];

afterAll(() => {
  if (measured.length) console.log(`f16 activations (min cosine per text), ${gpu.adapter.description}:\n${measured.join('\n')}`);
});

const f16Buffer = (device: GPUDevice, values: Float32Array): GPUBuffer =>
  markElem(storage(device, Uint16Array.from(values, f32ToF16Bits)), 'f16');
const roundF16 = (v: Float32Array) => v.map((x) => f16BitsToF32(f32ToF16Bits(x)));

/**
 * Minimum cosine per text against the oracle, by weight format: f32 and f16 weights hold the
 * issue's 0.9999 with f16 activations; q8 weights keep their own bound (parity.test.ts), since
 * the format alone measures 0.9995 on these random models. The cost of the activations' own
 * rounding is then held apart: q8 with f16 activations against q8 with f32 activations >= 0.9999.
 */
const ORACLE_THRESHOLD: Partial<Record<Quant, number>> = { f32: THRESHOLD, f16: THRESHOLD, q8: 0.998 };

interface Fixture {
  model: string;
  /** Pooled vectors checked against the oracle: mean and CLS (BERT, ModernBERT), or the sentence-transformers output. */
  pooled: 'mean-cls' | 'st';
  /**
   * The hidden states' bound where it is below the pooled vectors': a mixture of experts sends a
   * token whose second and third router logits nearly tie (nomic-moe-tiny: gaps down to 5.5e-4
   * among 982 routes, by its oracle) to another expert once its input is rounded to f16, as any
   * f16 or bf16 run of the model would; the text's other tokens and its pooled vector stay within
   * the usual bound.
   */
  hidden?: number;
}

const FIXTURES: Fixture[] = [
  { model: 'bert-tiny', pooled: 'mean-cls' },
  { model: 'xlmr-tiny', pooled: 'mean-cls' },
  { model: 'modernbert-tiny', pooled: 'mean-cls' },
  { model: 'gte-tiny', pooled: 'mean-cls' },
  { model: 'nomic-tiny', pooled: 'mean-cls' },
  { model: 'nomic-moe-tiny', pooled: 'mean-cls', hidden: 0.998 },
  { model: 'jina-tiny', pooled: 'mean-cls' },
  { model: 'jina-code-tiny', pooled: 'mean-cls' },
  { model: 'mpnet-tiny', pooled: 'mean-cls' },
  { model: 'deberta-tiny', pooled: 'mean-cls' },
  { model: 't5-gated-tiny', pooled: 'st' },
  { model: 'qwen3-trained', pooled: 'st' },
  { model: 'gemma3-trained', pooled: 'st' },
];
const QUANTS: Quant[] = ['f32', 'f16', 'q8'];

/** Every layer's hidden states and the final pooled vectors of one backend, per text. */
interface Outputs {
  hidden: Float32Array[][];
  pooled: Float32Array[];
}

/** The suites, defined only where f16 activations can run: a skipped suite still reads its fixtures. */
function f16Suites(): void {
  describe('matmul kernel with f16 activations', async () => {
    const { device } = gpu;
    const quants = ['f32', 'q8'] as const;
    const kernel = await MatmulKernel.create(device, quants, sharedReads(gpu), ['f32', 'f16']);
    await kernel.prepare([5, 130], { wait: true });
    const pairs: [Elem, Elem][] = [
      ['f16', 'f16'],
      ['f16', 'f32'],
      ['f32', 'f16'],
    ];
    for (const quant of quants) {
      for (const [xe, ye] of pairs) {
        for (const [M, K, N] of [
          [5, 36, 70],
          [130, 48, 64],
        ] as const) {
          it(`${quant} x ${xe}, y ${ye}, ${M}x${K} . ${N}x${K}^T, adding into y`, async () => {
            const next = rng(M * 7 + K + N);
            const x = randomArray(M * K, 1, next);
            const y0 = randomArray(M * N, 1, next);
            const linear = quantizeLinear(randomArray(N * K, 1 / Math.sqrt(K), next), N, K, randomArray(N, 0.5, next), quant);
            const xIn = xe === 'f16' ? roundF16(x) : x;
            const yIn = ye === 'f16' ? roundF16(y0) : y0;
            const y = ye === 'f16' ? f16Buffer(device, yIn) : storage(device, yIn);
            const words = ye === 'f16' ? Math.ceil((M * N) / 2) : M * N;
            const raw = await runPass(device, y, words, (pass, u) =>
              kernel.encode(
                pass,
                u,
                xe === 'f16' ? f16Buffer(device, xIn) : storage(device, xIn),
                uploadLinear(device, 'w', linear),
                y,
                M,
                'residual',
              ),
            );
            const values = ye === 'f16' ? Float32Array.from(new Uint16Array(raw.buffer, 0, M * N), f16BitsToF32) : raw;
            // Sums in f32 over f16 inputs, rounded once to f16 where y is f16: within f16's
            // relative step of the f32 result.
            const want = matmul(xIn, { w: dequantizeLinear(linear), b: linear.bias, rows: N, cols: K }, M).map(
              (v, i) => v + (yIn[i] as number),
            );
            want.forEach((w, i) => {
              const tolerance = ye === 'f16' ? Math.abs(w) * 2 ** -10 + 1e-4 : 1e-4;
              expect(Math.abs((values[i] as number) - w)).toBeLessThan(tolerance);
            });
          });
        }
      }
    }
  });

  for (const { model, pooled, hidden } of FIXTURES) {
    describe(`${model} with f16 activations`, async () => {
      const dir = `test/oracle/fixtures/${model}`;
      const config = parseHfConfig(await readFixtureJson(`${dir}/config.json`));
      const weightsFile = new SafetensorsFile(await readFixtureBytes(`${dir}/model.safetensors`));
      const expected = await readFixtureJson<{ ids: number[][]; layers: number; pooling?: 'mean' | 'last' }>(
        `${dir}/expected.json`,
      );
      const oracle = new SafetensorsFile(await readFixtureBytes(`${dir}/expected.safetensors`), 'expected.safetensors');
      const H = config.hiddenSize;
      const L = expected.layers;
      const dense =
        pooled === 'st' && model.startsWith('gemma3')
          ? await Promise.all(
              ['2_Dense', '3_Dense'].map(async (path) => ({
                path,
                config: await readFixtureJson(`${dir}/${path}/config.json`),
                weights: new SafetensorsFile(await readFixtureBytes(`${dir}/${path}/model.safetensors`)),
              })),
            )
          : [];
      const ids = expected.ids;
      // ModernBERT's oracle names pooled vectors by exit convention (parseHfConfig's default: none).
      const pooledName = (pooling: string, i: number) =>
        model.startsWith('modernbert') ? `${pooling}.none.${i}.${L}` : `${pooling}.${i}.${L}`;
      const want: Outputs = {
        hidden: Array.from({ length: L + 1 }, (_, l) => ids.map((t, i) => oracle.get(`hidden.${i}.${l}`, [t.length, H]))),
        pooled:
          pooled === 'st'
            ? ids.map((_, i) => oracle.get(`st.${i}`, [H]))
            : (['mean', 'cls'] as const).flatMap((p) => ids.map((_, i) => oracle.get(pooledName(p, i), [H]))),
      };

      const run = async (quant: Quant, activations: Elem): Promise<Outputs> => {
        const weights = await weightsFromTensors(config, weightsFile, { quant });
        if (pooled === 'st') weights.head = await denseModules({ dense }, H, quant);
        const backend = await GpuEncoder.create(gpu, weights, undefined, { activations });
        expect(backend.activations).toBe(activations);
        try {
          const hidden: Float32Array[][] = [];
          for (let l = 0; l <= L; l++) hidden.push(await backend.hiddenStates(ids, l));
          const out: Float32Array[] = [];
          if (pooled === 'st') {
            out.push(...(await backend.embed(ids, { layers: L, dims: H, pooling: expected.pooling ?? 'mean', normalize: true })));
          } else {
            for (const pooling of ['mean', 'cls'] as const) {
              out.push(...(await backend.embed(ids, { layers: L, dims: H, pooling, normalize: false })));
            }
          }
          return { hidden, pooled: out };
        } finally {
          backend.dispose();
        }
      };
      const minCosine = (a: Outputs, b: Outputs) => ({
        hidden: Math.min(...a.hidden.flatMap((layer, l) => layer.map((h, i) => cosine(h, b.hidden[l]?.[i] as Float32Array)))),
        pooled: Math.min(...a.pooled.map((v, i) => cosine(v, b.pooled[i] as Float32Array))),
      });

      for (const quant of QUANTS) {
        it(`${quant} weights: hidden states at every layer and pooled outputs`, async () => {
          const got = await run(quant, 'f16');
          const vsOracle = minCosine(got, want);
          const bound = ORACLE_THRESHOLD[quant] as number;
          let line = `${model} ${quant} weights: vs PyTorch hidden ${vsOracle.hidden.toFixed(6)}, pooled ${vsOracle.pooled.toFixed(6)}`;
          if (quant === 'q8') {
            const vsF32 = minCosine(got, await run(quant, 'f32'));
            line += `; vs f32 activations hidden ${vsF32.hidden.toFixed(6)}, pooled ${vsF32.pooled.toFixed(6)}`;
            expect(vsF32.hidden).toBeGreaterThanOrEqual(hidden ?? THRESHOLD);
            expect(vsF32.pooled).toBeGreaterThanOrEqual(THRESHOLD);
          }
          measured.push(line);
          expect(vsOracle.hidden).toBeGreaterThanOrEqual(Math.min(bound, hidden ?? bound));
          expect(vsOracle.pooled).toBeGreaterThanOrEqual(bound);
        });
      }
    });
  }

  describe('adaptive depth with f16 activations (bundled m3-mini, q8)', async () => {
    const { weights, exits, ids } = await m3Mini();
    const tokens = [...Array.from({ length: 12 }, (_, i) => i), 24].map((i) => ids[i] as number[]);
    const options = { exits, tolerance: 0.9705, dims: 256, pooling: 'mean' as const, normalize: true };

    it('compacts the f16 stream: each vector is the fixed-depth vector at its exit', async () => {
      const gpuF16 = await GpuEncoder.create(gpu, weights, undefined, { activations: 'f16' });
      try {
        const got = await gpuF16.embedAdaptive(tokens, options);
        // Texts leave at two exits (test/gpu/adaptive.test.ts), so the later stretch ran on compacted rows.
        const reached = [...new Set(got.layers)].sort();
        expect(reached.length).toBeGreaterThan(1);
        for (const exit of reached) {
          const at = tokens.map((_, i) => i).filter((i) => got.layers[i] === exit);
          const fixed = await gpuF16.embed(
            at.map((i) => tokens[i] as number[]),
            { layers: exit, dims: 256, pooling: 'mean', normalize: true },
          );
          for (const [k, t] of at.entries()) {
            expect(cosine(got.vectors[t] as Float32Array, fixed[k] as Float32Array)).toBeGreaterThanOrEqual(THRESHOLD);
          }
        }
      } finally {
        gpuF16.dispose();
      }
    });
  });
}

if (skip) it.skip(`f16 activations: ${skip}`, () => {});
else f16Suites();
