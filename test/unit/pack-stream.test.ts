import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BLOCK_VALUES, readLinear } from '../../src/checkpoint/matrix.js';
import type { TensorSource } from '../../src/checkpoint/safetensors.js';
import { type ConvertOptions, convertCheckpoint, convertCheckpointTo, type HfCheckpoint } from '../../src/pack/convert.js';
import { sha256Hex } from '../../src/pack/sha256.js';
import type { PackSink } from '../../src/pack/write.js';
import { folderHubStore } from '../../src/source/hub-folder.js';
import type { PackCache } from '../../src/store/cache.js';
import { storeConvertedPack } from '../../src/store/pack-loader.js';
import { parseHfConfig } from '../../src/weights/config.js';
import { quantizeLinear } from '../../src/weights/quantize.js';
import { QUANTS, type Quant } from '../../src/weights/weights.js';
import { randomHfTensors } from '../support/random.js';

const FIXTURE = join(import.meta.dirname, '../oracle/fixtures/bert-tiny');
// 15000 x 72: the vocabulary table spans two blocks, the second a short one; 72 and 100 columns
// leave q4's last group of each row part empty.
const CONFIG = {
  ...JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8')),
  vocab_size: 15000,
  hidden_size: 72,
  intermediate_size: 100,
  num_hidden_layers: 2,
};

/**
 * SHA-256 of every file the converter made before it streamed, from whole tensors (each read
 * and decoded at once, quantized whole), for this checkpoint: randomHfTensors(CONFIG, 11).
 */
const WHOLE_TENSOR_PACKS: Record<Quant, Record<string, string>> = {
  f32: {
    'embeddings.bin': '557b6bb964984e95e3168e26c4335606b6558c3542ddde69a7f55ec2ca107137',
    'layer-00.bin': 'cd48bcf095fedbfca939d61de85df4db303878bb1b50cf980c1d1cbdb2350ff1',
    'manifest.json': 'e39c63f974e466b39be23d11e41f2763995eb8f8fe0c896eaca727c091a557dd',
  },
  f16: {
    'embeddings.bin': 'd8dd1aee5fce91803949e52501fe5b341e1dec68ca7eace58d4de2a1415e895b',
    'layer-00.bin': '52bfe5d4eac1b8b77386a607678bb9785a827d42b06f637df7080417bb3b8476',
    'manifest.json': 'fd401fcf354f394ff8a9194e294efe0cf23c55ffcfc755f84adbb4c965710523',
  },
  q8: {
    'embeddings.bin': '1958cd2f27d9b45a71dddd5820bd26f8682a2e4957ebee0d19041101dfbd0b5c',
    'layer-00.bin': 'dc39fa8057987b653578757d462496de762bdb86e4b2b60749ea943595d07312',
    'manifest.json': '13893c5d125871a854647ab7bc3b7bf6756355c5d84af6aca51e2708bff3014f',
  },
  q4: {
    'embeddings.bin': 'f866ffd2ec0bb613506b135d906342afb75cfff108e44e470da99849c3796402',
    'layer-00.bin': '5b3a7cd21b0c26474fec7fd4f53d1195f3bb52ba3f945388a066ddf9a93cc7f9',
    'manifest.json': '0b8faa7fc75593eef95435e81bb849145ebac61a1b19e865471f77d45fa4a6c2',
  },
};

/** The checkpoint, its tensor reads logged in `events` as `read <name>`. */
function checkpoint(events: string[] = []): HfCheckpoint {
  const source = randomHfTensors(parseHfConfig(CONFIG), 11);
  const weights: TensorSource = {
    ...source,
    get: (name, shape) => {
      events.push(`read ${name}`);
      return source.get(name, shape);
    },
    getRows: (name, shape, from, to) => {
      events.push(`read ${name}`);
      return source.getRows(name, shape, from, to);
    },
  };
  return { config: CONFIG, tokenizer: new Uint8Array(readFileSync(join(FIXTURE, 'tokenizer.json'))), weights };
}

const options = (quant: Quant): ConvertOptions => ({ id: 'stream', quant });

describe('streamed conversion', () => {
  it.each(QUANTS)('gives the shards of the whole-tensor converter (%s), a shard at a time', async (quant) => {
    const events: string[] = [];
    const hashes = new Map<string, string>();
    const sink: PackSink = {
      put: async (file, bytes) => {
        events.push(`put ${file}`);
        hashes.set(file, await sha256Hex(bytes));
      },
    };
    await convertCheckpointTo(checkpoint(events), options(quant), sink);
    const puts = events.filter((e) => e.startsWith('put '));
    expect(puts).toEqual(
      ['tokenizer.json', 'embeddings.bin', 'layer-00.bin', 'layer-01.bin', 'manifest.json'].map((f) => `put ${f}`),
    );
    for (const [file, sha] of Object.entries(WHOLE_TENSOR_PACKS[quant])) expect(hashes.get(file), file).toBe(sha);
    // This checkpoint's two layers are drawn alike.
    expect(hashes.get('layer-01.bin')).toBe(WHOLE_TENSOR_PACKS[quant]['layer-00.bin']);
    // Each shard is handed over before the next one's tensors are read.
    const firstRead = (prefix: string) => events.findIndex((e) => e.startsWith(`read ${prefix}`));
    expect(events.indexOf('put embeddings.bin')).toBeLessThan(firstRead('encoder.layer.0.'));
    expect(events.indexOf('put layer-00.bin')).toBeLessThan(firstRead('encoder.layer.1.'));
    // The vocabulary table is read in blocks, not whole.
    expect(events.filter((e) => e === 'read embeddings.word_embeddings.weight')).toHaveLength(2);

    const pack = await convertCheckpoint(checkpoint(), options(quant));
    for (const [file, bytes] of pack.files) expect(await sha256Hex(bytes), file).toBe(hashes.get(file));
  });

  it.each(QUANTS)('quantizes a stacked matrix block by block exactly as whole (%s)', async (quant) => {
    const cols = 100;
    const big = Math.floor(BLOCK_VALUES / cols) + 7;
    const small = 3;
    const config = parseHfConfig({
      ...CONFIG,
      vocab_size: big,
      type_vocab_size: small,
      hidden_size: cols,
      num_attention_heads: 4,
    });
    const source = randomHfTensors(config, 5);
    const runs = [
      { name: 'embeddings.word_embeddings.weight', rows: big },
      { name: 'embeddings.token_type_embeddings.weight', rows: small },
    ];
    const bias = new Float32Array(big + small).fill(0.5);
    const whole = new Float32Array((big + small) * cols);
    whole.set(await source.get('embeddings.word_embeddings.weight', [big, cols]));
    whole.set(await source.get('embeddings.token_type_embeddings.weight', [small, cols]), big * cols);
    const expected = quantizeLinear(whole, big + small, cols, bias, quant);
    const got = await readLinear(source, runs, cols, bias, quant);
    // Compared as bytes: a deep equality over a million elements takes seconds.
    const bytes = (a?: ArrayBufferView) => a && Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    expect(bytes(got.data)?.equals(bytes(expected.data) as Buffer)).toBe(true);
    expect(bytes(got.scales)?.equals(bytes(expected.scales) as Buffer) ?? expected.scales === undefined).toBe(true);
    expect([got.rows, got.cols, got.bias]).toEqual([expected.rows, expected.cols, bias]);
  });
});

/** An in-memory PackCache whose put fails once `failAt` files are stored. */
function memoryCache(failAt = Number.POSITIVE_INFINITY) {
  const files = new Map<string, Uint8Array>();
  const manifests = new Map<string, { text: string; hash: string; storedAt: number }>();
  const cache: Partial<PackCache> = {
    put: async (key, bytes) => {
      if (files.size >= failAt) throw new Error('disk unplugged');
      files.set(key, bytes);
    },
    delete: async (keys) => {
      for (const k of keys) files.delete(k);
    },
    getManifest: async (url) => manifests.get(url),
    putManifest: async (url, text, hash) => {
      manifests.set(url, { text, hash, storedAt: 0 });
    },
    ensureRoom: async () => {},
    pruneStale: async () => {},
  };
  return { cache: cache as PackCache, files, manifests };
}

describe('an interrupted streamed conversion', () => {
  it('stores no manifest in the IndexedDB store and removes the shards it stored', async () => {
    const { cache, files, manifests } = memoryCache(2);
    await expect(
      storeConvertedPack('hf:x/y@main', 'stream', 'v1', cache, (sink) => convertCheckpointTo(checkpoint(), options('q8'), sink)),
    ).rejects.toThrow('disk unplugged');
    expect(manifests.size).toBe(0);
    expect(files.size).toBe(0);

    const done = memoryCache();
    await storeConvertedPack('hf:x/y@main', 'stream', 'v1', done.cache, (sink) =>
      convertCheckpointTo(checkpoint(), options('q8'), sink),
    );
    expect([...done.manifests.keys()]).toEqual(['hf:x/y@main/manifest.json']);
    expect([...done.files.keys()].sort()).toEqual(
      ['embeddings.bin', 'layer-00.bin', 'layer-01.bin', 'tokenizer.json'].map((f) => `stream@v1/${f}`),
    );
  });

  it('leaves no pack folder in the Node store', async () => {
    const root = mkdtempSync(join(tmpdir(), 'm3web-stream-'));
    const store = folderHubStore(root);
    const keys = { exact: 'hf:x/y@main#abc (q8)', latest: 'hf:x/y@main (q8)' };
    const failing = (sink: PackSink) =>
      convertCheckpointTo(checkpoint(), options('q8'), {
        put: async (file, bytes) => {
          if (file === 'layer-01.bin') throw new Error('cut off');
          await sink.put(file, bytes);
        },
      });
    await expect(store.save(keys, 'stream', failing)).rejects.toThrow('cut off');
    expect(await store.find(keys)).toBeNull();
    expect(readdirSync(root)).toEqual([]);

    const saved = await store.save(keys, 'stream', (sink) => convertCheckpointTo(checkpoint(), options('q8'), sink));
    expect(await store.find(keys)).toBe(saved.location);
    expect(existsSync(join(saved.location, 'manifest.json'))).toBe(true);
  });
});
