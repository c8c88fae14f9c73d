import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { IntegrityError, ModelFormatError } from '../../src/errors.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { readPackFolder } from '../../src/node/pack-folder.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { parseManifest } from '../../src/pack/manifest.js';
import { modelFromPack } from '../../src/pack/model.js';
import type { Quant } from '../../src/weights/weights.js';
import { bertConfig, cosine, randomHfTensors } from '../support/random.js';

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');

/** Least cosine between pack embeddings and the PyTorch oracle, per quantization (as in parity.test.ts). */
const MIN_COSINE: Record<Quant, number> = { f32: 0.99999, f16: 0.9999, q8: 0.999, q4: 0.9 };

async function convertFixture(dir: string, quant: Quant) {
  const ckpt = await openHfCheckpoint(join(FIXTURES, dir));
  try {
    return await convertCheckpoint(ckpt, { id: dir, quant, dims: [16, 32] });
  } finally {
    await ckpt.close();
  }
}

describe.each(['bert-tiny', 'xlmr-tiny'])('pack round trip (%s)', (dir) => {
  const expected = JSON.parse(readFileSync(join(FIXTURES, dir, 'expected.json'), 'utf8')) as { texts: string[] };
  const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(FIXTURES, dir, 'expected.safetensors'))));

  it.each(['f32', 'f16', 'q8', 'q4'] as const)('%s pack embeds like the oracle at every exit', async (quant) => {
    const pack = await convertFixture(dir, quant);
    const manifest = parseManifest(JSON.parse(new TextDecoder().decode(pack.files.get('manifest.json'))));
    expect(manifest.quantization).toEqual({ linear: quant, embeddings: quant });
    const L = manifest.exits.length;
    expect(manifest.exits).toEqual(Array.from({ length: L }, (_, i) => i + 1));
    const model = modelFromPack(manifest, pack.files, L);
    const H = model.config.hiddenSize;
    const cpu = new CpuEncoder(model.weights);
    const tokens = expected.texts.map((t) => model.tokenizer.encode(t, model.config.maxTokens).ids);
    const pooled = await cpu.pooledAtExits(tokens, manifest.exits, 'mean');
    let worst = 1;
    manifest.exits.forEach((layers, e) => {
      expected.texts.forEach((_, i) => {
        worst = Math.min(worst, cosine(pooled[e]?.[i] as Float32Array, oracle.get(`mean.${i}.${layers}`, [H])));
      });
    });
    expect(worst).toBeGreaterThan(MIN_COSINE[quant]);
  });

  it('loads only the shards of the first layers', async () => {
    const pack = await convertFixture(dir, 'q8');
    const manifest = parseManifest(JSON.parse(new TextDecoder().decode(pack.files.get('manifest.json'))));
    const partial = new Map([...pack.files].filter(([name]) => !/^layer-0[1-9]/.test(name)));
    const model = modelFromPack(manifest, partial, 1);
    expect(model.weights.layers).toHaveLength(1);
    expect(() => modelFromPack(manifest, partial, 2)).toThrow(/layer-01\.bin was not loaded/);
  });
});

describe('pack sizes (12 layers, 384 wide, 30k vocabulary)', () => {
  // Three conversions of a 33M-parameter model: 30 s alone on 2 cores, 90 s beside the other test
  // files (vitest.config.ts), too close to the default limit.
  it('q8 is at most 0.3x and q4 at most 0.17x of f32', { timeout: 400_000 }, async () => {
    const config = {
      model_type: 'bert',
      vocab_size: 30522,
      hidden_size: 384,
      num_hidden_layers: 12,
      num_attention_heads: 12,
      intermediate_size: 1536,
      max_position_embeddings: 512,
    };
    const tokenizer = readFileSync(join(FIXTURES, 'bert-tiny', 'tokenizer.json'));
    const weights = randomHfTensors(
      bertConfig({ vocabSize: 30522, hiddenSize: 384, numLayers: 12, numHeads: 12, intermediateSize: 1536 }),
    );
    const size = async (quant: Quant) => {
      const pack = await convertCheckpoint({ config, tokenizer: new Uint8Array(tokenizer), weights }, { id: 'size', quant });
      let bytes = 0;
      for (const [name, data] of pack.files) if (name.endsWith('.bin')) bytes += data.length;
      return bytes;
    };
    const f32 = await size('f32');
    expect(f32).toBeGreaterThan(130e6);
    expect((await size('q8')) / f32).toBeLessThanOrEqual(0.3);
    expect((await size('q4')) / f32).toBeLessThanOrEqual(0.17);
  });
});

describe('readPackFolder', () => {
  it('verifies every file it reads', async () => {
    const pack = await convertFixture('bert-tiny', 'q8');
    const dir = mkdtempSync(join(tmpdir(), 'm3web-pack-'));
    for (const [name, data] of pack.files) writeFileSync(join(dir, name), data);
    const { manifest, files } = await readPackFolder(dir, 2);
    expect([...files.keys()].sort()).toEqual(['embeddings.bin', 'layer-00.bin', 'layer-01.bin', 'tokenizer.json']);
    expect(manifest.id).toBe('bert-tiny');

    const shard = readFileSync(join(dir, 'layer-01.bin'));
    shard[100] = (shard[100] as number) ^ 0xff;
    writeFileSync(join(dir, 'layer-01.bin'), shard);
    await expect(readPackFolder(dir, 2)).rejects.toThrow(IntegrityError);
    await expect(readPackFolder(dir, 1)).resolves.toBeTruthy();
    writeFileSync(join(dir, 'layer-01.bin'), shard.subarray(0, 50));
    await expect(readPackFolder(dir, 2)).rejects.toThrow(/layer-01\.bin has 50 bytes, the manifest says \d+ \(truncated\?\)/);
    writeFileSync(join(dir, 'manifest.json'), '{"format": "m3web-pack", "version": 99}');
    await expect(readPackFolder(dir)).rejects.toThrow(ModelFormatError);
    await expect(readPackFolder(dir)).rejects.toThrow(/version 99 is newer/);
  });
});
