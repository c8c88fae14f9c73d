import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ByteSource, bytesSource, SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { TorchCheckpoint } from '../../src/checkpoint/torch-checkpoint.js';
import { createEncoder } from '../../src/client/client.js';
import { ModelFormatError } from '../../src/errors.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import { loadHfFolder } from '../../src/node/hf-checkpoint.js';
import { folderWeights } from '../../src/node/hf-folder.js';
import { folderFiles } from '../support/hub-server.js';
import { expectHubLikeOracle, packAgainstOracle, readOracleJson, serveFakeHub } from '../support/oracle-pack.js';
import { cosine } from '../support/random.js';

// pytorch_model.bin checkpoints, as older Hugging Face repositories hold them (no model.safetensors):
// test/oracle/make_torch_bin.py saves the float64 oracle fixtures' weights with torch.save, bert-tiny's
// in torch's zip format, xlmr-tiny's (f16) in the legacy format in two shards with an index, each with
// the int64 position_ids buffer and the MLM decoder tied to the word table. The oracle's outputs for
// those weights are the expected ones.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const BERT_BIN = join(FIXTURES, 'bert-tiny-bin');
const XLMR_BIN = join(FIXTURES, 'xlmr-tiny-bin');
const read = (...path: string[]) => new Uint8Array(readFileSync(join(FIXTURES, ...path)));

/** A ByteSource that counts the bytes it was asked for. */
function counted(bytes: Uint8Array, name: string): ByteSource & { asked: number } {
  const inner = bytesSource(bytes, name);
  const source = {
    name,
    size: bytes.length,
    asked: 0,
    read: (offset: number, length: number) => {
      source.asked += length;
      return inner.read(offset, length);
    },
  };
  return source;
}

/** Every tensor of the oracle's safetensors is the same read from `weights`; the names only the .bin has are listed. */
async function sameAsSafetensors(
  weights: { names(): Iterable<string>; get(n: string, s: readonly number[]): Float32Array | Promise<Float32Array> },
  fixture: string,
) {
  const st = new SafetensorsFile(read(fixture, 'model.safetensors'));
  const onlyBin = [...weights.names()].filter((n) => !st.has(n));
  for (const [name, info] of st.tensors) expect(await weights.get(name, info.shape), name).toEqual(st.get(name, info.shape));
  return onlyBin.sort();
}

describe('pytorch_model.bin', () => {
  it('zip format: every tensor as safetensors holds it, the tied decoder and the int64 buffer too', async () => {
    const ckpt = await TorchCheckpoint.open(bytesSource(read('bert-tiny-bin', 'pytorch_model.bin'), 'pytorch_model.bin'));
    expect(await sameAsSafetensors(ckpt, 'bert-tiny')).toEqual([
      'bert.embeddings.position_ids',
      'cls.predictions.decoder.weight',
    ]);
    const table = ckpt.shape('bert.embeddings.word_embeddings.weight') as number[];
    expect(await ckpt.get('cls.predictions.decoder.weight', table)).toEqual(
      await ckpt.get('bert.embeddings.word_embeddings.weight', table),
    );
    expect([...(await ckpt.get('bert.embeddings.position_ids', [1, 160]))]).toEqual(Array.from({ length: 160 }, (_, i) => i));
    // A block of rows, as a conversion reads a large table.
    const rows = await ckpt.getRows('bert.embeddings.word_embeddings.weight', table, 100, 103);
    expect([...rows]).toEqual([
      ...(await ckpt.get('bert.embeddings.word_embeddings.weight', table)).subarray(100 * 48, 103 * 48),
    ]);
  });

  it('opens by reading the zip directory and the pickle, and then only the tensors asked for (each a Range request on the hub)', async () => {
    const bytes = read('bert-tiny-bin', 'pytorch_model.bin');
    const source = counted(bytes, 'pytorch_model.bin');
    const ckpt = await TorchCheckpoint.open(source);
    expect(ckpt.has('bert.encoder.layer.3.output.dense.weight')).toBe(true);
    expect(source.asked).toBeLessThan(bytes.length / 10);
    const before = source.asked;
    await ckpt.get('bert.encoder.layer.3.output.dense.weight', [48, 120]);
    // The entry's local header comes in the same read: 64-byte padding and slack at most.
    expect(source.asked - before).toBeLessThan(48 * 120 * 4 + 256);
    // A storage first touched in its middle: its header alone, then the rows, not everything before them.
    const table = [2062, 48];
    const mid = source.asked;
    const row = await ckpt.getRows('bert.embeddings.word_embeddings.weight', table, 2000, 2001);
    expect(source.asked - mid).toBeLessThan(48 * 4 + 256);
    expect([...row]).toEqual([
      ...(await ckpt.get('bert.embeddings.word_embeddings.weight', table)).subarray(2000 * 48, 2001 * 48),
    ]);
  });

  it('reads a strided view block by block as it reads it whole', async () => {
    const file = join(FIXTURES, 'torch-state-dicts', 'transposed.pt');
    const ckpt = await TorchCheckpoint.open(bytesSource(new Uint8Array(readFileSync(file)), 'transposed.pt'));
    const whole = await ckpt.get('t', [4, 3]);
    const blocks = [];
    for (let r = 0; r < 4; r++) blocks.push(...(await ckpt.getRows('t', [4, 3], r, r + 1)));
    expect(blocks).toEqual([...whole]);
    expect([...whole]).toEqual([...(await ckpt.get('w', [3, 4]))].map((_, i, w) => w[(i % 3) * 4 + Math.floor(i / 3)]));
  });

  it('legacy format in shards: a folder reads through its index as the safetensors fixture does', async () => {
    const weights = await folderWeights(XLMR_BIN);
    expect(await sameAsSafetensors(weights, 'xlmr-tiny')).toEqual(['lm_head.decoder.weight', 'roberta.embeddings.position_ids']);
  });

  it.each([
    ['bert-tiny-bin', 'bert-tiny'],
    ['xlmr-tiny-bin', 'xlmr-tiny'],
  ])('%s converts to a pack that pools like the oracle at every exit (f32 and q8)', async (dir, oracle) => {
    for (const quant of ['f32', 'q8'] as const) {
      const { tokensMatch, mean, cls } = await packAgainstOracle(join(FIXTURES, dir), quant, undefined, join(FIXTURES, oracle));
      expect(tokensMatch).toBe(true);
      expect(mean).toBeGreaterThan(quant === 'f32' ? 0.99999 : 0.999);
      expect(cls).toBeGreaterThan(quant === 'f32' ? 0.99999 : 0.998);
    }
  });

  it('a Node folder loads in memory, its shards read by ranges, and embeds like the oracle', async () => {
    const { config, weights } = await loadHfFolder(XLMR_BIN);
    const expected = readOracleJson(join(FIXTURES, 'xlmr-tiny', 'expected.json'));
    const oracle = new SafetensorsFile(read('xlmr-tiny', 'expected.safetensors'));
    const cpu = new CpuEncoder(weights);
    const got = await cpu.embed(expected.ids, {
      layers: expected.layers,
      dims: config.hiddenSize,
      pooling: 'mean',
      normalize: false,
    });
    got.forEach((v, i) => {
      expect(cosine(v, oracle.get(`mean.${i}.${expected.layers}`, [expected.hidden]))).toBeGreaterThan(0.99999);
    });
    cpu.dispose();
  });

  it('names what is wrong: a cut file, a storage missing from the archive', async () => {
    const bytes = read('bert-tiny-bin', 'pytorch_model.bin');
    await expect(TorchCheckpoint.open(bytesSource(bytes.subarray(0, bytes.length - 30), 'cut.bin'))).rejects.toThrow(
      /^cut\.bin: is not a zip archive/,
    );
    await expect(TorchCheckpoint.open(bytesSource(bytes.subarray(0, 3), 'cut.bin'))).rejects.toThrow(ModelFormatError);
    const legacy = read('xlmr-tiny-bin', 'pytorch_model-00001-of-00002.bin');
    await expect(TorchCheckpoint.open(bytesSource(legacy.subarray(0, legacy.length - 1), 'cut.bin'))).rejects.toThrow(
      /^cut\.bin: truncated file: its storages need \d+ bytes, it has \d+$/,
    );
    // The archive's directory names storage entries "<archive>/data/<key>": renaming one hides it.
    const renamed = bytes.slice();
    const entry = Buffer.from(renamed).lastIndexOf('pytorch_model/data/0');
    renamed[entry + 'pytorch_model/data/'.length] = 'x'.charCodeAt(0);
    await expect(TorchCheckpoint.open(bytesSource(renamed, 'renamed.bin'))).rejects.toThrow(
      /^renamed\.bin: storage "0" is missing from the archive$/,
    );
  });
});

describe('pytorch_model.bin repositories by hub id', { timeout: 120_000 }, () => {
  const hub = serveFakeHub(
    'torch-bin',
    () =>
      new Map([
        ['old/bert-tiny', { files: folderFiles(BERT_BIN, readdirSync(BERT_BIN)), commit: '0b1' }],
        ['old/xlmr-tiny-sharded', { files: folderFiles(XLMR_BIN, readdirSync(XLMR_BIN)), commit: '0b2' }],
        [
          'old/missing-shard',
          {
            files: folderFiles(
              XLMR_BIN,
              readdirSync(XLMR_BIN).filter((f) => f !== 'pytorch_model-00002-of-00002.bin'),
            ),
            commit: '0b3',
          },
        ],
        [
          'old/both',
          {
            // safetensors come first: the pickle beside them is never read.
            files: new Map([
              ...folderFiles(join(FIXTURES, 'bert-tiny'), [
                'config.json',
                'tokenizer.json',
                'tokenizer_config.json',
                'model.safetensors',
              ]),
              ['pytorch_model.bin', new Uint8Array(64)],
            ]),
            commit: '0b4',
          },
        ],
      ]),
  );

  it.each([
    ['old/bert-tiny', 'bert-tiny'],
    ['old/xlmr-tiny-sharded', 'xlmr-tiny'],
    ['old/both', 'bert-tiny'],
  ])('%s embeds like the oracle', (repo, oracle) => expectHubLikeOracle(hub.url, repo, join(FIXTURES, oracle)));

  it('names the shard an index lists that the repository lacks', async () => {
    await expect(createEncoder({ model: 'hf:old/missing-shard', hub: { url: hub.url }, device: 'cpu' })).rejects.toMatchObject({
      code: 'MODEL_FORMAT',
      message: 'pytorch_model.bin.index.json lists pytorch_model-00002-of-00002.bin, which is missing',
    });
  });
});
