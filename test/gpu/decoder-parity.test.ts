import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { denseModules } from '../../src/checkpoint/sentence-transformers.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { parseHfConfig } from '../../src/weights/config.js';
import type { Quant } from '../../src/weights/weights.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { testGpu } from '../support/gpu.js';
import { cosine } from '../support/random.js';

/**
 * Qwen3-Embedding and EmbeddingGemma on WebGPU against test/oracle/make_decoder_embedders.py
 * (PyTorch, float64): hidden states at every exit and the final sentence-transformers vectors
 * (last-token pooling; mean pooling + two Dense modules). Grouped-query heads, Qwen's causal mask,
 * Gemma's windows, RoPE bases and sandwich norms all differ from BERT's kernels' defaults.
 */
/**
 * Minimum cosine. The vocabulary stays f32 here (packs also quantize it: decoder-embedders.test.ts).
 * q4 on these random weights measures 0.87-0.93, as the CPU does: its bound guards that level; the
 * q4 >= 0.99 target needs a trained-like model (as for BERT, see test/oracle/README.md).
 */
const THRESHOLD: Record<Quant, number> = { f32: 0.99999, f16: 0.9999, q8: 0.999, q4: 0.85 };
const measured: string[] = [];

afterAll(() => {
  console.log(`decoder parity (min cosine vs PyTorch):\n${measured.join('\n')}`);
});

for (const model of ['qwen3-tiny', 'gemma3-tiny']) {
  describe(model, async () => {
    const dir = `test/oracle/fixtures/${model}`;
    const config = parseHfConfig(await readFixtureJson(`${dir}/config.json`));
    const weightsFile = new SafetensorsFile(await readFixtureBytes(`${dir}/model.safetensors`));
    const expected = await readFixtureJson<{ ids: number[][]; layers: number; pooling: 'mean' | 'last' }>(`${dir}/expected.json`);
    const oracle = new SafetensorsFile(await readFixtureBytes(`${dir}/expected.safetensors`), 'expected.safetensors');
    const dense = await Promise.all(
      ['2_Dense', '3_Dense']
        .filter(() => model === 'gemma3-tiny')
        .map(async (path) => ({
          path,
          config: await readFixtureJson(`${dir}/${path}/config.json`),
          weights: new SafetensorsFile(await readFixtureBytes(`${dir}/${path}/model.safetensors`)),
        })),
    );
    const H = config.hiddenSize;
    const L = expected.layers;

    for (const quant of ['f32', 'f16', 'q8', 'q4'] as const) {
      it(`webgpu ${quant}: every exit and the sentence-transformers output`, async () => {
        const weights = await weightsFromTensors(config, weightsFile, { quant });
        weights.head = await denseModules({ dense }, H, quant);
        const backend = await GpuEncoder.create(await testGpu(), weights);
        let minHidden = 1;
        let minSt = 1;
        try {
          for (let l = 0; l <= L; l++) {
            const hidden = await backend.hiddenStates(expected.ids, l);
            hidden.forEach((h, i) => {
              minHidden = Math.min(minHidden, cosine(h, oracle.get(`hidden.${i}.${l}`, [expected.ids[i]?.length ?? 0, H])));
            });
          }
          const st = await backend.embed(expected.ids, { layers: L, dims: H, pooling: expected.pooling, normalize: true });
          st.forEach((v, i) => {
            minSt = Math.min(minSt, cosine(v, oracle.get(`st.${i}`, [H])));
          });
        } finally {
          backend.dispose();
        }
        measured.push(`${model} webgpu ${quant}: hidden ${minHidden.toFixed(7)}, sentence vectors ${minSt.toFixed(7)}`);
        expect(minHidden).toBeGreaterThan(THRESHOLD[quant]);
        expect(minSt).toBeGreaterThan(THRESHOLD[quant]);
      });
    }
  });
}
