import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryMB } from '../../src/budget/cost.js';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { cpuLayers } from '../../src/model/cpu-ops.js';
import { WasmKernels } from '../../src/model/wasm/kernels.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { parseManifest } from '../../src/pack/manifest.js';
import { extendPackWeights, packWeights } from '../../src/pack/read.js';
import { parseHfConfig } from '../../src/weights/config.js';
import { groupStart, layerGroup } from '../../src/weights/shapes.js';
import type { BertWeights } from '../../src/weights/weights.js';
import { ELECTRA_SMALL_DISCRIMINATOR, PARAPHRASE_ALBERT_SMALL_V2 } from '../support/bert-variant-configs.js';
import { folderFiles } from '../support/hub-server.js';
import {
  expectHubLikeOracle,
  PACK_BOUNDS,
  packAgainstOracle,
  packSuite,
  ST_FILES,
  serveFakeHub,
} from '../support/oracle-pack.js';

// ALBERT and ELECTRA's small discriminators against test/oracle/make_albert.py, a float64 PyTorch
// forward written from transformers' modeling_albert.py and modeling_electra.py: embeddings
// narrower than the hidden size and widened after their norm, and ALBERT's layers shared by groups.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const ALBERT_TINY = join(FIXTURES, 'albert-tiny');
const ALBERT_ONNX = join(FIXTURES, 'albert-tiny-onnx');
const configOf = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name, 'config.json'), 'utf8'));

describe('ALBERT config', () => {
  it("reads paraphrase-albert-small-v2's: 128-wide embeddings, six layers of one group, tanh GELU", () => {
    expect(parseHfConfig(PARAPHRASE_ALBERT_SMALL_V2)).toMatchObject({
      modelType: 'albert',
      hiddenSize: 768,
      numLayers: 6,
      headDim: 64,
      intermediateSize: 3072,
      maxTokens: 512,
      positionOffset: 0,
      typeVocabSize: 2,
      factorized: { width: 128 },
      layerGroups: 1,
      tanhGelu: true,
    });
  });

  it('runs group trunc(l / (layers / groups)) at layer l, as AlbertTransformer does', () => {
    const c = (numLayers: number, layerGroups: number) => ({ numLayers, layerGroups });
    const groups = (numLayers: number, n: number) => Array.from({ length: numLayers }, (_, l) => layerGroup(c(numLayers, n), l));
    expect(groups(6, 1)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(groups(4, 2)).toEqual([0, 0, 1, 1]);
    // 12 / 5 = 2.4 layers a group: transformers' float division, not an even split.
    expect(groups(12, 5)).toEqual([0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4]);
    expect(Array.from({ length: 12 }, (_, l) => groupStart(c(12, 5), l))).toEqual([0, 0, 0, 3, 3, 5, 5, 5, 8, 8, 10, 10]);
    expect(layerGroup({ numLayers: 4 }, 3)).toBe(3);
  });

  it('refuses what released ALBERTs do not have, naming it', () => {
    const run = (patch: Record<string, unknown>) => () => parseHfConfig({ ...PARAPHRASE_ALBERT_SMALL_V2, ...patch });
    expect(run({ inner_group_num: 2 })).toThrow(UnsupportedError);
    expect(run({ inner_group_num: 2 })).toThrow(/inner_group_num 2/);
    expect(run({ num_hidden_groups: 7 })).toThrow(ModelFormatError);
    expect(run({ hidden_act: 'relu' })).toThrow(/hidden_act "relu"/);
    expect(run({ position_embedding_type: 'relative_key' })).toThrow(UnsupportedError);
    // AlbertConfig's defaults: gelu_new, one group, 128-wide embeddings.
    const bare = {
      ...PARAPHRASE_ALBERT_SMALL_V2,
      hidden_act: undefined,
      num_hidden_groups: undefined,
      embedding_size: undefined,
    };
    expect(parseHfConfig(bare)).toMatchObject({ tanhGelu: true, layerGroups: 1, factorized: { width: 128 } });
  });

  it('tanh GELU is read for BERT-named configs with learned positions only: the gated feed-forwards are exact', () => {
    const bert = configOf('bert-tiny');
    expect(parseHfConfig({ ...bert, hidden_act: 'gelu_new' }).tanhGelu).toBe(true);
    expect(parseHfConfig(bert).tanhGelu).toBeUndefined();
    expect(() => parseHfConfig({ ...configOf('gte-tiny'), hidden_act: 'gelu_new' })).toThrow(UnsupportedError);
    expect(() => parseHfConfig({ ...configOf('jina-tiny'), hidden_act: 'gelu_new' })).toThrow(UnsupportedError);
  });

  it("reads electra-small-discriminator's 128-wide embeddings under a 256-wide encoder", () => {
    expect(parseHfConfig(ELECTRA_SMALL_DISCRIMINATOR)).toMatchObject({
      modelType: 'bert',
      hiddenSize: 256,
      factorized: { width: 128 },
    });
    expect(parseHfConfig(ELECTRA_SMALL_DISCRIMINATOR).layerGroups).toBeUndefined();
  });

  it('counts shared layers once in the memory estimate, and the narrow table at its width', () => {
    const config = parseHfConfig(PARAPHRASE_ALBERT_SMALL_V2);
    const q = { linear: 'q8', embeddings: 'q8' } as const;
    // Deeper plans of one group only add nothing: the layers are one copy.
    expect(memoryMB(6, 768, 1, 128, config, q)).toBeCloseTo(memoryMB(1, 768, 1, 128, config, q), 9);
    const unshared = { ...config, layerGroups: undefined };
    // Five more copies of a 7.1M-parameter layer in q8: 6.8 MiB each.
    expect(memoryMB(6, 768, 1, 128, unshared, q) - memoryMB(6, 768, 1, 128, config, q)).toBeGreaterThan(5 * 6.7);
    // A 30,000 x 128 table in q8 and its widening, not 30,000 x 768.
    const wide = { ...config, factorized: undefined };
    expect(memoryMB(1, 768, 1, 128, wide, q) - memoryMB(1, 768, 1, 128, config, q)).toBeGreaterThan(18);
  });
});

describe('ALBERT and ELECTRA-small packs', () => {
  packSuite(FIXTURES, [
    ['albert-tiny', 'f32'],
    ['albert-tiny', 'q8'],
    ['albert-tiny', 'q4'],
    ['albert-groups-tiny', 'f32'],
    ['albert-groups-tiny', 'q8'],
    ['electra-small-tiny', 'f32'],
    ['electra-small-tiny', 'q8'],
  ]);

  it("stores a group's layer once: one shard per group, holding its first layer's tensors", async () => {
    const shards = async (name: string) => {
      const { manifest } = await packAgainstOracle(join(FIXTURES, name), 'f32');
      return manifest.shards.filter((s) => s.kind === 'layers');
    };
    const one = await shards('albert-tiny');
    expect(one.map((s) => s.layers)).toEqual([[0, 4]]);
    expect(new Set(one[0]?.tensors.map((t) => t.name.split('.')[1]))).toEqual(new Set(['0']));
    const two = await shards('albert-groups-tiny');
    expect(two.map((s) => s.layers)).toEqual([
      [0, 2],
      [2, 4],
    ]);
    expect(two.map((s) => new Set(s.tensors.map((t) => t.name.split('.')[1])))).toEqual([new Set(['0']), new Set(['2'])]);
  });
});

describe('ALBERT weights in memory', () => {
  it("a group's layers are one object, read once and extended from a pack as such", async () => {
    const dir = join(FIXTURES, 'albert-groups-tiny');
    const config = parseHfConfig(configOf('albert-groups-tiny'));
    const file = new SafetensorsFile(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))));
    const layers: readonly object[] = (await weightsFromTensors(config, file)).layers;
    expect(layers.map((l) => layers.indexOf(l))).toEqual([0, 0, 2, 2]);
    const ckpt = await openHfCheckpoint(dir);
    const pack = await convertCheckpoint(ckpt, { id: 'albert', quant: 'q8' }).finally(() => ckpt.close());
    const manifest = parseManifest(JSON.parse(new TextDecoder().decode(pack.files.get('manifest.json'))));
    // Loaded three layers deep, then the fourth: it is the third's object.
    const weights = packWeights(manifest, pack.files, 3);
    extendPackWeights(manifest, weights, pack.files, 4);
    const loaded: readonly object[] = weights.layers;
    expect(loaded.map((l) => loaded.indexOf(l))).toEqual([0, 0, 2, 2]);
    // The CPU places a group's projections in WebAssembly memory once.
    const placed: readonly object[] = cpuLayers((weights as BertWeights).layers, WasmKernels.create()).layers;
    expect(placed.map((l) => placed.indexOf(l))).toEqual([0, 0, 2, 2]);
  });
});

describe("ALBERT from an ONNX export (make_onnx.py: the shared layer's later calls read its weights through Identity nodes)", () => {
  it('converts to packs that pool like the oracle at every exit (f32 and q8)', async () => {
    for (const quant of ['f32', 'q8'] as const) {
      const { tokensMatch, mean, cls } = await packAgainstOracle(ALBERT_ONNX, quant, undefined, ALBERT_TINY);
      expect(tokensMatch).toBe(true);
      expect(mean).toBeGreaterThan(PACK_BOUNDS.mean[quant]);
      expect(cls).toBeGreaterThan(PACK_BOUNDS.cls[quant]);
    }
  });
});

describe('ALBERT by hub id', { timeout: 120_000 }, () => {
  const hub = serveFakeHub(
    'albert',
    () =>
      new Map([
        ['sentence-transformers/paraphrase-albert-small-v2', { files: folderFiles(ALBERT_TINY, ST_FILES), commit: 'a1be' }],
        // transformers.js's copy: onnx/model.onnx and no safetensors.
        [
          'Xenova/paraphrase-albert-small-v2',
          {
            files: folderFiles(ALBERT_ONNX, [...ST_FILES.filter((f) => f !== 'model.safetensors'), 'onnx/model.onnx']),
            commit: 'a1bf',
          },
        ],
      ]),
  );

  it.each(['sentence-transformers/paraphrase-albert-small-v2', 'Xenova/paraphrase-albert-small-v2'])(
    '%s: mean pooling from the repository, as the oracle at the last layer, on the CPU',
    (repo) => expectHubLikeOracle(hub.url, repo, ALBERT_TINY),
  );
});
