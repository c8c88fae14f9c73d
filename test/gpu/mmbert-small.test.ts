import { describe, expect, it } from 'vitest';
import { CpuEncoder } from '../../src/model/cpu.js';
import { GpuEncoder } from '../../src/model/gpu.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { parseManifest } from '../../src/pack/manifest.js';
import { modelFromPack } from '../../src/pack/model.js';
import { parseHfConfig } from '../../src/weights/config.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { testGpu } from '../support/gpu.js';
import { MMBERT_SMALL_CONFIG } from '../support/mmbert.js';
import { cosine, randomModernBertTensors } from '../support/random.js';

/**
 * The mmBERT-small shape end to end, in Node (Dawn) and in Chromium: the public config verbatim
 * (22 layers, 384 wide, 256k vocabulary) with random weights, converted to a q8 pack, loaded and
 * run on WebGPU against the CPU forward. Software adapters manage well under 1 GFLOP/s, so the
 * texts are short (the window and RoPE conventions are checked by modernbert-parity.test.ts).
 */
describe('mmBERT-small shape (random weights)', () => {
  it('converts to q8, and embeds on WebGPU as on the CPU at a truncated and the full depth', { timeout: 600_000 }, async () => {
    const dir = 'test/oracle/fixtures/modernbert-tiny';
    const pack = await convertCheckpoint(
      {
        config: MMBERT_SMALL_CONFIG,
        tokenizer: await readFixtureBytes(`${dir}/tokenizer.json`),
        tokenizerConfig: await readFixtureJson(`${dir}/tokenizer_config.json`),
        weights: randomModernBertTensors(parseHfConfig(MMBERT_SMALL_CONFIG), 11),
      },
      { id: 'mmbert-small-random', quant: 'q8', dims: [64, 128, 256, 384] },
    );
    const manifest = parseManifest(JSON.parse(new TextDecoder().decode(pack.files.get('manifest.json'))));
    expect(manifest).toMatchObject({ exitNorm: 'none', exits: Array.from({ length: 22 }, (_, i) => i + 1) });
    const model = modelFromPack(manifest, pack.files, 22);
    const texts = ['Matryoshka embeddings in the browser.', 'Ein kurzer deutscher Satz, mit Komma.'];
    const tokens = texts.map((t) => model.tokenizer.encode(t, model.config.maxTokens).ids);
    const count = tokens.reduce((n, t) => n + t.length, 0);

    const gpu = await GpuEncoder.create(await testGpu(), model.weights);
    const cpu = new CpuEncoder(model.weights);
    try {
      let ms = 0;
      for (const layers of [6, 22]) {
        const options = { layers, dims: 256, pooling: 'mean' as const, normalize: true };
        const started = performance.now();
        const got = await gpu.embed(tokens, options);
        ms = performance.now() - started;
        const want = await cpu.embed(tokens, options);
        got.forEach((v, i) => {
          expect(v).toHaveLength(256);
          expect(cosine(v, want[i] as Float32Array)).toBeGreaterThan(0.9999);
        });
      }
      const { adapter } = gpu.gpu;
      const where = [adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' / ');
      console.log(
        `mmBERT-small shape, q8, 22 layers, ${tokens.length} texts / ${count} tokens: ${ms.toFixed(0)} ms, ` +
          `${((count / ms) * 1000).toFixed(1)} tokens/s on ${typeof window === 'undefined' ? 'Node (Dawn)' : 'Chromium'}, ${where}`,
      );
    } finally {
      gpu.dispose();
    }
  });
});
