import { describe, expect, it } from 'vitest';
import { loadHfModel } from '../../src/checkpoint/load.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { SpladeHead } from '../../src/model/splade.js';
import { WasmKernels } from '../../src/model/wasm/kernels.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { testGpu } from '../support/gpu.js';

// A SPLADE encoder's forward on WebGPU (Dawn in Node, Chromium's adapter in the browser) against
// test/oracle/make_splade.py: the last layer's token states read back, the masked-LM head and
// SpladePooling on the CPU, as the engine runs them.

interface Expected {
  ids: number[][];
  sparse: Record<string, { indices: number[]; values: number[] }[]>;
}

const DIR = 'test/oracle/fixtures/splade-bert-tiny';

describe('SPLADE on WebGPU', () => {
  it("splade-bert-tiny: the GPU's token states through the head give the oracle's weights", async () => {
    const json = (f: string) => readFixtureJson<Record<string, unknown>>(`${DIR}/${f}`);
    const model = await loadHfModel({
      config: await json('config.json'),
      tokenizer: await json('tokenizer.json'),
      tokenizerConfig: await json('tokenizer_config.json'),
      safetensors: await readFixtureBytes(`${DIR}/model.safetensors`),
      sentenceTransformers: {
        modules: await json('modules.json'),
        splade: { config: await json('1_SpladePooling/config.json') },
      },
    });
    const { config, weights } = model;
    if (!config.splade || !weights.mlmHead || weights.family !== 'bert') throw new Error('no SPLADE head was read');
    const expected = await readFixtureJson<Expected>(`${DIR}/expected.json`);
    const head = new SpladeHead(weights.mlmHead, config.splade, weights.word, config.layerNormEps, WasmKernels.create());
    const backend = await GpuEncoder.create(await testGpu(), weights);
    try {
      const states = await backend.hiddenStates(expected.ids, config.numLayers);
      let worst = 0;
      states.forEach((s, i) => {
        const got = head.vector(s, (expected.ids[i] as number[]).length);
        const want = expected.sparse.max_relu?.[i] as { indices: number[]; values: number[] };
        const oracle = new Map(want.indices.map((id, k) => [id, want.values[k] as number]));
        const have = new Map([...got.indices].map((id, k) => [id, got.values[k] as number]));
        for (const id of new Set([...oracle.keys(), ...have.keys()]))
          worst = Math.max(worst, Math.abs((have.get(id) ?? 0) - (oracle.get(id) ?? 0)));
      });
      console.log(`splade-bert-tiny webgpu f32: max |weight - oracle| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(5e-5);
    } finally {
      backend.dispose();
    }
  });
});
