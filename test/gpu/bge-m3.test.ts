import { describe, expect, it } from 'vitest';
import { lateInteractionOf } from '../../src/checkpoint/late-interaction.js';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { sparseHeadOf } from '../../src/checkpoint/sparse.js';
import { readTorchStateDict } from '../../src/checkpoint/torch-state-dict.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { LateInteractionScorer } from '../../src/model/late-interaction.js';
import { lexicalWeights } from '../../src/model/sparse.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { parseHfConfig } from '../../src/weights/config.js';
import type { Quant } from '../../src/weights/weights.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { testGpu } from '../support/gpu.js';

// BGE-M3's lexical weights and multi-vector output on WebGPU (Dawn in Node, Chromium's adapter in
// the browser) against test/oracle/make_bge_m3.py: every token's state through the sparse head on
// the GPU, one number per token read back (ReLU, the special tokens and the max per id on the
// CPU); every token's state through colbert_linear on the GPU (normalisation and MaxSim on the CPU).

interface Expected {
  ids: number[][];
  exclude: number[];
  lexical: { scores: number[]; indices: number[]; values: number[] }[];
  colbert: number[][];
}

const BASE = 'test/oracle/fixtures/xlmr-tiny';
const HEADS = 'test/oracle/fixtures/bge-m3-tiny';
/**
 * xlmr-tiny with BGE-M3's heads, read as a checkpoint reads them (src/checkpoint/sparse.ts and
 * late-interaction.ts): the lexical-weights head and spec, and the multi-vector projection and spec.
 */
async function setup(quant: Quant) {
  const raw = await readFixtureJson<Record<string, unknown>>(`${BASE}/config.json`);
  const config = parseHfConfig(raw);
  const tensors = new SafetensorsFile(await readFixtureBytes(`${BASE}/model.safetensors`));
  const tokenizerConfig = await readFixtureJson(`${BASE}/tokenizer_config.json`);
  const tokenizer = TextTokenizer.fromJson(await readFixtureJson(`${BASE}/tokenizer.json`), tokenizerConfig);
  const head = async (file: string) => readTorchStateDict(await readFixtureBytes(`${HEADS}/${file}`), file);
  const sparse = sparseHeadOf(await head('sparse_linear.pt'), tokenizer, tokenizerConfig, config.hiddenSize);
  const multi = await lateInteractionOf(
    { config: raw, tokenizerConfig, sentenceTransformers: { colbertLinear: await head('colbert_linear.pt') }, weights: tensors },
    tokenizer,
    config.hiddenSize,
    config.maxTokens,
  );
  if (!sparse || !multi) throw new Error('the heads were not read');
  const weights = {
    ...(await weightsFromTensors(config, tensors, { quant })),
    sparseHead: sparse.head,
    lateProjection: multi.projection,
  };
  const expected = await readFixtureJson<Expected>(`${HEADS}/expected.json`);
  return { weights, spec: sparse.spec, multi: multi.spec, expected, L: config.numLayers };
}

/** embed's options at the last layer, as BGE-M3 pools (CLS). */
const forward = (L: number) => ({ layers: L, dims: 64, pooling: 'cls' as const, normalize: true });

const worstScore = (got: Float32Array[], expected: Expected) =>
  Math.max(...got.flatMap((s, i) => Array.from(s, (x, j) => Math.abs(x - (expected.lexical[i]?.scores[j] as number)))));

describe('BGE-M3 heads on WebGPU', () => {
  it("f32: every token's head output and the lexical weights are the oracle's", async () => {
    const { weights, spec, expected, L } = await setup('f32');
    expect([...spec.exclude]).toEqual(expected.exclude);
    const backend = await GpuEncoder.create(await testGpu(), weights);
    try {
      const { scores } = await backend.embedWithScores(expected.ids, forward(L));
      expect(scores.map((s) => s.length)).toEqual(expected.ids.map((t) => t.length));
      const worst = worstScore(scores, expected);
      console.log(`bge-m3-tiny webgpu f32: max |score - oracle| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-4);
      scores.forEach((s, i) => {
        const got = lexicalWeights(s, expected.ids[i] as number[], spec);
        const want = expected.lexical[i] as Expected['lexical'][number];
        expect([...got.indices]).toEqual(want.indices);
        expect(Math.max(...Array.from(got.values, (v, k) => Math.abs(v - (want.values[k] as number))))).toBeLessThan(1e-4);
      });
    } finally {
      backend.dispose();
    }
  });

  it('f32: the dense vectors that come with the scores are the ones embed gives', async () => {
    const { weights, expected, L } = await setup('f32');
    const backend = await GpuEncoder.create(await testGpu(), weights);
    try {
      const both = await backend.embedWithScores(expected.ids, forward(L));
      const vectors = await backend.embed(expected.ids, forward(L));
      const apart = Math.max(
        ...both.vectors.flatMap((v, i) => Array.from(v, (x, j) => Math.abs(x - (vectors[i]?.[j] as number)))),
      );
      expect(apart).toBeLessThan(1e-6);
    } finally {
      backend.dispose();
    }
  });

  it("f32: every token but the first through colbert_linear gives the oracle's multi-vector scores", async () => {
    const { weights, multi, expected, L } = await setup('f32');
    expect(multi).toMatchObject({ dim: 64, firstToken: false, score: 'mean', pooled: true, expansionToken: null });
    const backend = await GpuEncoder.create(await testGpu(), weights);
    try {
      const scorer = new LateInteractionScorer(multi);
      const vectors = (await backend.tokenVectors(expected.ids, L)).map((v, i) =>
        scorer.vectors(v, expected.ids[i] as number[], true),
      );
      const worst = Math.max(
        ...vectors.flatMap((q, i) => vectors.map((d, j) => Math.abs(scorer.score(q, d) - (expected.colbert[i]?.[j] as number)))),
      );
      console.log(`bge-m3-tiny colbert webgpu f32: max |score - oracle| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-4);
    } finally {
      backend.dispose();
    }
  });

  it('q8: the GPU gives the CPU backend’s scores over the same quantized weights, near the oracle', async () => {
    const { weights, expected, L } = await setup('q8');
    const gpu = await GpuEncoder.create(await testGpu(), weights);
    const cpu = new CpuEncoder(weights);
    try {
      const [{ scores: onGpu }, { scores: onCpu }] = await Promise.all([
        gpu.embedWithScores(expected.ids, forward(L)),
        cpu.embedWithScores(expected.ids, forward(L)),
      ]);
      const apart = Math.max(...onGpu.flatMap((s, i) => Array.from(s, (x, j) => Math.abs(x - (onCpu[i]?.[j] as number)))));
      const worst = worstScore(onGpu, expected);
      console.log(`bge-m3-tiny webgpu q8: max |gpu - cpu| ${apart.toExponential(2)}, max |score - oracle| ${worst.toFixed(4)}`);
      expect(apart).toBeLessThan(1e-3);
      // Pre-ReLU scores of every token, negative ones too: q8 over random weights moves them by up to ~0.13 (sd 0.5).
      expect(worst).toBeLessThan(0.2);
    } finally {
      gpu.dispose();
      cpu.dispose();
    }
  });
});
