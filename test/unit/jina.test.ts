import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { alibiSlopes } from '../../src/model/alibi.js';
import { parseHfConfig } from '../../src/weights/config.js';
import { JINA_EMBEDDINGS_V2_SMALL_EN } from '../support/gated-bert-configs.js';
import { folderFiles } from '../support/hub-server.js';
import { expectHubLikeOracle, packSuite, readOracleJson, ST_FILES, serveFakeHub } from '../support/oracle-pack.js';

// JinaBERT v2 (jina-embeddings-v2-*) against test/oracle/make_jina.py, a float64 PyTorch forward
// written from JinaBertModel as its ports give it: ALiBi, GeGLU, post-norm; and its qk-post-norm
// variant (jina-embeddings-v2-base-code).

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const TINY = join(FIXTURES, 'jina-tiny');
const SIX = join(FIXTURES, 'jina-6head-tiny');
const CODE = join(FIXTURES, 'jina-code-tiny');

describe('JinaBERT v2 config', () => {
  it('reads jina-embeddings-v2-small-en: model_type bert with ALiBi and GeGLU', () => {
    const c = parseHfConfig(JINA_EMBEDDINGS_V2_SMALL_EN);
    expect(c).toMatchObject({
      modelType: 'jina_bert',
      hiddenSize: 512,
      numHeads: 8,
      headDim: 64,
      intermediateSize: 2048,
      numLayers: 4,
      maxTokens: 8192,
      typeVocabSize: 2,
      positionOffset: 0,
    });
    expect(c.gatedBert).toEqual({ positions: { type: 'alibi' }, gate: 'gelu', truncateNorm: false });
  });

  it.each(['original', 'reglu', 'glu'])('refuses feed_forward_type %s', (type) => {
    const run = () => parseHfConfig({ ...JINA_EMBEDDINGS_V2_SMALL_EN, feed_forward_type: type });
    expect(run).toThrow(UnsupportedError);
    expect(run).toThrow(new RegExp(`feed_forward_type "${type}"`));
  });

  it("gives the oracle's ALiBi slopes, for a power of two heads and for six", () => {
    for (const dir of [TINY, SIX]) {
      const { slopes } = readOracleJson<{ slopes: number[] }>(join(dir, 'expected.json'));
      expect([...alibiSlopes(slopes.length)]).toEqual(slopes);
    }
  });

  it('knows the query / key norm variant (jina-embeddings-v2-base-code) by the remote code its auto_map names', () => {
    const code = parseHfConfig(readOracleJson(join(CODE, 'config.json')));
    expect(code.gatedBert).toEqual({ positions: { type: 'alibi' }, gate: 'gelu', truncateNorm: false, qkPostNorm: true });
    expect(parseHfConfig(readOracleJson(join(TINY, 'config.json'))).gatedBert?.qkPostNorm).toBeUndefined();
  });

  it("refuses that variant's tensors under a config that does not name its code", async () => {
    const file = new SafetensorsFile(new Uint8Array(readFileSync(join(CODE, 'model.safetensors'))));
    const config = parseHfConfig(readOracleJson(join(TINY, 'config.json')));
    await expect(weightsFromTensors(config, file)).rejects.toThrow(ModelFormatError);
    await expect(weightsFromTensors(config, file)).rejects.toThrow(/qk-post-norm/);
  });
});

describe('JinaBERT v2 packs', () => {
  packSuite(FIXTURES, [
    ['jina-tiny', 'f32'],
    ['jina-tiny', 'q8'],
    ['jina-tiny', 'q4'],
    ['jina-6head-tiny', 'f32'],
    ['jina-6head-tiny', 'q8'],
    ['jina-code-tiny', 'f32'],
    ['jina-code-tiny', 'q8'],
    ['jina-code-tiny', 'q4'],
  ]);
});

describe('jina-embeddings-v2 by hub id', { timeout: 120_000 }, () => {
  const hub = serveFakeHub(
    'jina',
    () =>
      new Map([
        ['jinaai/jina-embeddings-v2-small-en', { files: folderFiles(TINY, ST_FILES), commit: 'ba5e' }],
        ['jinaai/jina-embeddings-v2-base-code', { files: folderFiles(CODE, ST_FILES), commit: 'c0de' }],
      ]),
  );

  it('mean pooling from the repository, as the oracle at the last layer, on the CPU', () =>
    expectHubLikeOracle(hub.url, 'jinaai/jina-embeddings-v2-small-en', TINY));

  it('the qk-post-norm variant (jina-embeddings-v2-base-code) too', () =>
    expectHubLikeOracle(hub.url, 'jinaai/jina-embeddings-v2-base-code', CODE));
});
