import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import type { Elem } from '../../src/gpu/resources.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { parseHfConfig } from '../../src/weights/config.js';
import type { Quant } from '../../src/weights/weights.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { exitsNamed, parityExits, parityQuants, preferLavapipe, testGpu } from '../support/gpu.js';
import { cosine } from '../support/random.js';

// jina-embeddings-v3's task adapters (shaders/lora.wgsl) on WebGPU against test/oracle/make_jina_v3.py:
// each task's mean at every layer, by embed and by adaptive depth.

const DIR = 'test/oracle/fixtures/jina-v3-tiny';
/** The adapters the fixture stores means for: retrieval.query, retrieval.passage, text-matching. */
const TASKS = [0, 1, 4];
const BOUND: Record<string, number> = { 'f32 f32': 0.99999, 'q8 f32': 0.999, 'f32 f16': 0.9999 };

// lavapipe, where installed, has shader-f16 (and runs these kernels faster than SwiftShader).
preferLavapipe();
const gpu = await testGpu();
const CASES: [Quant, Elem][] = [
  ...parityQuants(['f32', 'q8'] as const).map((q): [Quant, Elem] => [q, 'f32']),
  ...(gpu.features.shaderF16 ? [['f32', 'f16'] as [Quant, Elem]] : []),
];

describe('jina-v3-tiny: task adapters on WebGPU', async () => {
  const config = parseHfConfig(await readFixtureJson(`${DIR}/config.json`));
  const weightsFile = new SafetensorsFile(await readFixtureBytes(`${DIR}/model.safetensors`));
  const expected = await readFixtureJson<{ ids: number[][]; layers: number }>(`${DIR}/expected.json`);
  const oracle = new SafetensorsFile(await readFixtureBytes(`${DIR}/expected.safetensors`), 'expected.safetensors');
  const H = config.hiddenSize;
  const want = (task: number, i: number, layers: number) => oracle.get(`task.${task}.mean.${i}.${layers}`, [H]);

  if (!gpu.features.shaderF16) it.skip(`f16 activations: the adapter (${gpu.adapter.description}) has no shader-f16`, () => {});
  it.each(CASES)(`%s weights, %s activations: every task at ${exitsNamed(expected.layers)}`, async (quant, activations) => {
    const weights = await weightsFromTensors(config, weightsFile, { quant });
    const backend = await GpuEncoder.create(gpu, weights, undefined, { activations });
    let worst = 1;
    try {
      for (const task of TASKS) {
        for (const layers of parityExits(expected.layers).filter((l) => l > 0)) {
          const pooled = await backend.embed(expected.ids, { layers, dims: H, pooling: 'mean', normalize: false, task });
          pooled.forEach((v, i) => {
            worst = Math.min(worst, cosine(v, want(task, i, layers)));
          });
        }
        // Adaptive depth runs the same adapter through its stretches (no cosine reaches 2: all go to the end).
        const options = { exits: [1, expected.layers], tolerance: 2, dims: H, pooling: 'mean', normalize: false, task } as const;
        const adaptive = await backend.embedAdaptive(expected.ids, options);
        adaptive.vectors.forEach((v, i) => {
          worst = Math.min(worst, cosine(v, want(task, i, expected.layers)));
        });
      }
    } finally {
      backend.dispose();
    }
    console.log(`jina-v3-tiny webgpu ${quant} weights, ${activations} activations: min task cosine ${worst.toFixed(6)}`);
    expect(worst).toBeGreaterThanOrEqual(BOUND[`${quant} ${activations}`] as number);
  });
});
