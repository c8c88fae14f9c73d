import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { denseModules, sentenceTransformersSettings } from '../../src/checkpoint/sentence-transformers.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { parseHfConfig } from '../../src/weights/config.js';
import type { Quant } from '../../src/weights/weights.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { exitsNamed, parityExits, parityQuants, testGpu } from '../support/gpu.js';
import { cosine } from '../support/random.js';

/**
 * Qwen3-Embedding, EmbeddingGemma and T5 encoders on WebGPU against test/oracle/make_decoder_embedders.py
 * and make_t5.py (PyTorch, float64): hidden states at every exit and the final sentence-transformers
 * vectors (last-token pooling; mean pooling + Dense modules). Grouped-query heads, Qwen's causal mask,
 * Gemma's windows, RoPE bases and sandwich norms, T5's relative bias, unscaled scores and ReLU all
 * differ from BERT's kernels' defaults.
 */
/**
 * Minimum cosine per weight format. The vocabulary stays f32 here (packs also quantize it:
 * decoder-embedders.test.ts). Random weights amplify quantization error (q4 measures 0.87-0.93 on
 * them, on the CPU alike), so the random fixtures, whose weights make every convention mistake
 * visible, run at f32 and q8; every format's bound, q4 >= 0.99 included, is held on the trained
 * fixtures (make_decoder_trained.py), as for BERT on m3-mini.
 */
const THRESHOLD: Record<Quant, number> = { f32: 0.99999, f16: 0.9999, q8: 0.999, q4: 0.99 };
/**
 * Fixture, the formats it runs at, its sentence-transformers Dense modules, and whether the
 * browser project runs its kernels with another fixture already (parityQuants): a Qwen3 attending
 * both ways runs EuroBERT's bidirectional attention and Qwen3's q/k norms.
 */
const FIXTURES: [string, Quant[], string[], boolean?][] = [
  ['qwen3-tiny', ['f32', 'q8'], []],
  ['gemma3-tiny', ['f32', 'q8'], ['2_Dense', '3_Dense']],
  ['eurobert-tiny', ['f32', 'q8'], []],
  ['qwen3-bidir-tiny', ['f32'], [], true],
  ['pplx-tiny', ['f32'], [], true],
  ['gemma3-causal-tiny', ['f32'], []],
  ['qwen3-trained', ['f32', 'f16', 'q8', 'q4'], []],
  ['gemma3-trained', ['f32', 'f16', 'q8', 'q4'], ['2_Dense', '3_Dense']],
  ['t5-st-tiny', ['f32', 'q8'], ['2_Dense']],
  ['t5-gated-tiny', ['f32', 'q8'], []],
];
const measured: string[] = [];

afterAll(() => {
  console.log(`decoder parity (min cosine vs PyTorch):\n${measured.join('\n')}`);
});

for (const [model, quants, densePaths, kernelsSeen] of FIXTURES) {
  const formats = parityQuants(quants, false, kernelsSeen);
  if (formats.length === 0) continue;
  describe(model, async () => {
    const dir = `test/oracle/fixtures/${model}`;
    const config = parseHfConfig(await readFixtureJson(`${dir}/config.json`));
    const weightsFile = new SafetensorsFile(await readFixtureBytes(`${dir}/model.safetensors`));
    const expected = await readFixtureJson<{ ids: number[][]; layers: number; pooling: 'mean' | 'last' }>(`${dir}/expected.json`);
    const oracle = new SafetensorsFile(await readFixtureBytes(`${dir}/expected.safetensors`), 'expected.safetensors');
    const dense = await Promise.all(
      densePaths.map(async (path) => ({
        path,
        config: await readFixtureJson(`${dir}/${path}/config.json`),
        weights: new SafetensorsFile(await readFixtureBytes(`${dir}/${path}/model.safetensors`)),
      })),
    );
    const H = config.hiddenSize;
    const L = expected.layers;
    // pplx-embed's quantizer after pooling (its modules.json's FlexibleQuantizer); T5 encoders have no modules.json.
    const modules = await readFixtureJson(`${dir}/modules.json`).catch(() => undefined);
    const { quantizer } = sentenceTransformersSettings({ modules });

    for (const quant of formats) {
      it(`webgpu ${quant}: ${exitsNamed(L)} and the sentence-transformers output`, async () => {
        const weights = await weightsFromTensors(config, weightsFile, { quant });
        weights.head = await denseModules({ dense }, H, quant);
        if (quantizer) weights.quantizer = quantizer;
        const backend = await GpuEncoder.create(await testGpu(), weights);
        let minHidden = 1;
        let minSt = 1;
        try {
          for (const l of parityExits(L)) {
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
