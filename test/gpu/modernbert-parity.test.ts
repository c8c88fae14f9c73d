import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import type { EncoderBackend } from '../../src/model/encoder.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { EXIT_NORMS, parseHfConfig } from '../../src/weights/config.js';
import type { Quant } from '../../src/weights/weights.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { exitsNamed, parityExits, parityQuants, testGpu } from '../support/gpu.js';
import { cosine } from '../support/random.js';

/**
 * ModernBERT parity against test/oracle/make_modernbert.py (PyTorch, float64, written from the
 * transformers definition): hidden states and pooled vectors at every exit, in both exit
 * conventions. Texts run past the local window, and global and local RoPE thetas differ.
 */
/**
 * Minimum cosine per text. The CPU with q8 weights measures the same as WebGPU q8: that loss is the
 * format's, not the kernels'. q4's bounds guard the measured level (as for BERT, see README).
 */
const THRESHOLD: Record<Quant, number> = { f32: 0.99999, f16: 0.9999, q8: 0.999, q4: 0.9 };
/** CLS reads one token, with no averaging over the text, so quantization noise shows more. */
const CLS_THRESHOLD: Record<Quant, number> = { f32: 0.99999, f16: 0.9999, q8: 0.998, q4: 0.85 };
const MODELS = ['modernbert-tiny', 'modernbert-bias-tiny'];
const measured: string[] = [];

afterAll(() => {
  console.log(`modernbert parity (min cosine per text vs PyTorch):\n${measured.join('\n')}`);
});

for (const model of MODELS) {
  describe(model, async () => {
    const dir = `test/oracle/fixtures/${model}`;
    const rawConfig = await readFixtureJson(`${dir}/config.json`);
    const weightsFile = new SafetensorsFile(await readFixtureBytes(`${dir}/model.safetensors`));
    const expected = await readFixtureJson<{ ids: number[][]; layers: number }>(`${dir}/expected.json`);
    const oracle = new SafetensorsFile(await readFixtureBytes(`${dir}/expected.safetensors`), 'expected.safetensors');
    const L = expected.layers;

    for (const exitNorm of EXIT_NORMS) {
      const config = parseHfConfig(rawConfig, { exitNorm });
      const H = config.hiddenSize;
      const backends: [string, Quant, () => Promise<EncoderBackend>][] = [
        ['cpu', 'f32', async () => new CpuEncoder(await weightsFromTensors(config, weightsFile))],
        ['cpu', 'q8', async () => new CpuEncoder(await weightsFromTensors(config, weightsFile, { quant: 'q8' }))],
        ...parityQuants(['f32', 'f16', 'q8', 'q4'] as const).map(
          (q) =>
            [
              'webgpu',
              q,
              async () => GpuEncoder.create(await testGpu(), await weightsFromTensors(config, weightsFile, { quant: q })),
            ] as [string, Quant, () => Promise<EncoderBackend>],
        ),
      ];

      for (const [kind, quant, make] of backends) {
        it(`${kind} ${quant}, exitNorm ${exitNorm}: ${exitsNamed(L)}`, async () => {
          const backend = await make();
          let minHidden = 1;
          let minMean = 1;
          let minCls = 1;
          try {
            for (const l of parityExits(L)) {
              // The oracle's hidden states are the default convention's exits; they agree with
              // 'final' at the embedding output and the last layer.
              if (exitNorm === 'none' || l === 0 || l === L) {
                const hidden = await backend.hiddenStates(expected.ids, l);
                hidden.forEach((h, i) => {
                  const want = oracle.get(`hidden.${i}.${l}`, [expected.ids[i]?.length ?? 0, H]);
                  minHidden = Math.min(minHidden, cosine(h, want));
                });
              }
              if (l === 0) continue;
              for (const pooling of ['mean', 'cls'] as const) {
                const pooled = await backend.embed(expected.ids, { layers: l, dims: H, pooling, normalize: false });
                for (const [i, v] of pooled.entries()) {
                  const c = cosine(v, oracle.get(`${pooling}.${exitNorm}.${i}.${l}`, [H]));
                  if (pooling === 'mean') minMean = Math.min(minMean, c);
                  else minCls = Math.min(minCls, c);
                }
              }
            }
          } finally {
            backend.dispose();
          }
          measured.push(
            `${model} ${kind} ${quant} exitNorm=${exitNorm}: hidden ${minHidden.toFixed(6)}, mean ${minMean.toFixed(6)}, cls ${minCls.toFixed(6)}`,
          );
          expect(minHidden).toBeGreaterThanOrEqual(THRESHOLD[quant]);
          expect(minMean).toBeGreaterThanOrEqual(THRESHOLD[quant]);
          expect(minCls).toBeGreaterThanOrEqual(CLS_THRESHOLD[quant]);
        });
      }
    }
  });
}
