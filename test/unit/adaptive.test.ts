import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { createEncoder } from '../../src/client/client.js';
import { InputError, ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { DEFAULT_TOLERANCE, ExitJudge } from '../../src/model/adaptive.js';
import { bucketize, selectRows } from '../../src/model/batch.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import type { CpuStepper } from '../../src/model/cpu-ops.js';
import type { AdaptiveOptions } from '../../src/model/encoder.js';
import { rowRuns } from '../../src/model/gpu-compact.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { parseManifest } from '../../src/pack/manifest.js';
import { parseHfConfig } from '../../src/weights/config.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { m3Mini } from '../support/m3-mini.js';
import { cosine } from '../support/random.js';

const options = (o: Partial<AdaptiveOptions> = {}): AdaptiveOptions => ({
  exits: [1, 2, 3, 4, 5, 6],
  tolerance: 0.99,
  dims: 256,
  pooling: 'mean',
  normalize: true,
  ...o,
});

describe('adaptive depth: the pieces', () => {
  it('ExitJudge lets a text leave once its vector agrees with the previous exit, and all at the last', () => {
    const judge = new ExitJudge(2, options({ exits: [1, 2, 4], tolerance: 0.9, dims: 2 }));
    // No previous exit to agree with: nobody leaves at the first.
    expect(judge.offer(0, 1, Float32Array.of(1, 0, 9))).toBe(false);
    expect(judge.offer(1, 1, Float32Array.of(1, 0))).toBe(false);
    // Text 0 agrees (cos 0.995 at 2 dims, the third number cut); text 1 turned 90 degrees.
    expect(judge.offer(0, 2, Float32Array.of(10, 1, -9))).toBe(true);
    expect(judge.offer(1, 2, Float32Array.of(0, 1))).toBe(false);
    expect(judge.offer(1, 4, Float32Array.of(-1, 0))).toBe(true);
    expect(judge.result.layers).toEqual([2, 4]);
    expect(Array.from(judge.result.vectors[1] as Float32Array)).toEqual([-1, 0]);
  });

  it('selectRows keeps the chosen rows of a batch; rowRuns moves only what is out of place, in merged runs', () => {
    const [batch] = bucketize([[5, 6, 7], [8, 9], [1], [2, 3]], { padTokenId: 0, positionOffset: 0 });
    if (!batch) throw new Error('one batch expected');
    const kept = selectRows(batch, [1, 3]);
    expect(kept.indices).toEqual([batch.indices[1], batch.indices[3]]);
    expect(Array.from(kept.lengths)).toEqual([batch.lengths[1], batch.lengths[3]]);
    expect(Array.from(kept.ids)).toEqual([...batch.ids.subarray(3, 6), ...batch.ids.subarray(9, 12)]);
    expect(rowRuns([0, 1, 3, 4, 6])).toEqual([
      { from: 3, to: 2, rows: 2 },
      { from: 6, to: 4, rows: 1 },
    ]);
    expect(rowRuns([0, 1, 2])).toEqual([]);
  });
});

describe('measured adaptive depth in a manifest', () => {
  it('is read from quality.adaptive, and a tolerance outside (0, 1] is refused', async () => {
    const raw = await readFixtureJson<Record<string, unknown>>('public/models/m3-mini/manifest.json');
    const quality = { dataset: 'dev', rows: [{ layers: 6, dims: 64, score: 0.6 }] };
    const row = { dims: 64, tolerance: 0.99, meanLayers: 3.4, score: 0.58 };
    expect(parseManifest({ ...raw, quality: { ...quality, adaptive: [row] } }).quality?.adaptive).toEqual([row]);
    expect(() => parseManifest({ ...raw, quality: { ...quality, adaptive: [{ ...row, tolerance: 1.5 }] } })).toThrow(
      ModelFormatError,
    );
  });

  it('m3-mini measures the default tolerance at every width, within 0.5 point of full depth (how it was chosen)', async () => {
    const manifest = parseManifest(await readFixtureJson('public/models/m3-mini/manifest.json'));
    const quality = manifest.quality;
    const deepest = manifest.exits.at(-1) as number;
    for (const dims of manifest.dims) {
      const row = quality?.adaptive?.find((r) => r.dims === dims && r.tolerance === DEFAULT_TOLERANCE);
      const full = quality?.rows.find((r) => r.layers === deepest && r.dims === dims);
      if (!row || !full) throw new Error(`no adaptive row at ${dims} dims and the default tolerance, or no full-depth row`);
      expect(row.score).toBeGreaterThanOrEqual(full.score - 0.005);
      expect(row.meanLayers).toBeGreaterThanOrEqual(manifest.exits[1] as number);
      expect(row.meanLayers).toBeLessThanOrEqual(deepest);
      // The next looser tolerance measured misses the rule at some width.
      const looser = Math.max(...(quality?.adaptive ?? []).map((r) => r.tolerance).filter((t) => t < DEFAULT_TOLERANCE));
      const misses = manifest.dims.some((d) => {
        const r = quality?.adaptive?.find((x) => x.dims === d && x.tolerance === looser);
        const f = quality?.rows.find((x) => x.layers === deepest && x.dims === d);
        return r && f && r.score < f.score - 0.005;
      });
      expect(misses).toBe(true);
    }
  });
});

describe('adaptive depth on the CPU (bundled m3-mini)', async () => {
  const { weights, exits, ids } = await m3Mini();
  const encoder = new CpuEncoder(weights);
  // The 13 short fixture texts (4 languages and "Hi!"). At 256 dims their exit-1 -> exit-2 cosines
  // run 0.949-0.976 and exit 2 -> 3 0.974-0.986, so 0.9705 (>= 5e-4 from every one) splits them
  // between exits 2 and 3; at 64 dims 0.9927 splits them between 3 and 4.
  const tokens = [...Array.from({ length: 12 }, (_, i) => i), 24].map((i) => ids[i] as number[]);

  for (const [dims, tolerance, expected] of [
    [256, 0.9705, [2, 3]],
    [64, 0.9927, [3, 4]],
  ] as const) {
    it(`${dims} dims, tolerance ${tolerance}: each vector is the fixed-depth vector at its exit, and the batch shrinks`, async () => {
      const stepper = (encoder as unknown as { stepper: CpuStepper }).stepper;
      const layer = vi.spyOn(stepper, 'layer');
      try {
        const got = await encoder.embedAdaptive(tokens, options({ exits, tolerance, dims }));
        const rowsRun = exits.map(() => 0);
        for (const [i, , batch] of layer.mock.calls) rowsRun[i] = (rowsRun[i] as number) + batch.size;
        expect([...new Set(got.layers)].sort()).toEqual(expected);
        for (const exit of expected) {
          const at = tokens.map((_, i) => i).filter((i) => got.layers[i] === exit);
          const fixed = await encoder.embed(
            at.map((i) => tokens[i] as number[]),
            { layers: exit, dims, pooling: 'mean', normalize: true },
          );
          for (const [k, t] of at.entries()) {
            expect(cosine(got.vectors[t] as Float32Array, fixed[k] as Float32Array)).toBeGreaterThanOrEqual(0.9999);
          }
        }
        // Every text runs to the first exit it may leave at, then only those still running.
        const running = (l: number) => got.layers.filter((e) => e >= l).length;
        const want = Array.from({ length: 6 }, (_, i) => running(i + 1));
        expect(rowsRun).toEqual(want);
        expect(got.textsPerLayer).toEqual(want);
        expect(want[1]).toBeGreaterThan(want.at(-1) as number);
      } finally {
        layer.mockRestore();
      }
    });
  }

  it('tolerance 1 never stops early; a tiny one stops every text at the first exit it may leave at (the second)', async () => {
    const full = await encoder.embedAdaptive(tokens, options({ exits, tolerance: 1 }));
    expect(full.layers).toEqual(tokens.map(() => 6));
    const tiny = await encoder.embedAdaptive(tokens, options({ exits, tolerance: 1e-6, dims: 64, normalize: false }));
    expect(tiny.layers).toEqual(tokens.map(() => exits[1]));
    expect(tiny.textsPerLayer).toEqual([13, 13, 0, 0, 0, 0]);
    const fixed = await encoder.embed(tokens, { layers: 2, dims: 64, pooling: 'mean', normalize: false });
    for (const [i, v] of tiny.vectors.entries()) expect(cosine(v, fixed[i] as Float32Array)).toBeGreaterThanOrEqual(0.9999);
  });

  it('decides each text alone, whatever bucket it shares', async () => {
    // All 26 fixture texts three times over: more than one bucket of DEFAULT_BATCH_TOKENS.
    const many = [...ids, ...ids, ...ids];
    expect(bucketize(many, weights.config).length).toBeGreaterThan(1);
    const alone = await encoder.embedAdaptive(ids, options({ exits, tolerance: 0.99, dims: 64 }));
    const got = await encoder.embedAdaptive(many, options({ exits, tolerance: 0.99, dims: 64 }));
    expect(got.layers).toEqual([...alone.layers, ...alone.layers, ...alone.layers]);
  });

  it('refuses exits it cannot run, and architectures without a stepped forward', async () => {
    await expect(encoder.embedAdaptive(tokens, options({ exits: [6] }))).rejects.toThrow(InputError);
    await expect(encoder.embedAdaptive(tokens, options({ exits: [3, 2] }))).rejects.toThrow(InputError);
    const dir = 'test/oracle/fixtures/modernbert-tiny';
    const config = parseHfConfig(await readFixtureJson(`${dir}/config.json`));
    const modern = new CpuEncoder(
      await weightsFromTensors(config, new SafetensorsFile(await readFixtureBytes(`${dir}/model.safetensors`))),
    );
    const err = await modern
      .embedAdaptive([[1, 2, 3]], options({ exits: [1, config.numLayers], dims: config.hiddenSize }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(String(err)).toMatch(/BERT-family/);
  });
});

describe("embed(texts, { layers: 'adaptive' }) through createEncoder", () => {
  it('reports each text’s exit, equals the fixed-depth vector there, and validates its options', async () => {
    const encoder = await createEncoder({ model: 'public/models/m3-mini', device: 'cpu' });
    try {
      const texts = ['Hi!', 'What time is it?', 'Wie spät ist es?', 'Der Hund schläft im Garten.'];
      const got = await encoder.embedDetailed(texts, { layers: 'adaptive', tolerance: 0.99, dims: 64 });
      expect(got.layers.every((l) => l >= 2 && l <= 6)).toBe(true);
      for (const [i, text] of texts.entries()) {
        const [fixed] = await encoder.embed([text], { layers: got.layers[i] as number, dims: 64 });
        expect(cosine(got.vectors[i] as Float32Array, fixed as Float32Array)).toBeGreaterThanOrEqual(0.9999);
      }
      expect((await encoder.embedDetailed(texts, { layers: 'adaptive', tolerance: 1 })).layers).toEqual([6, 6, 6, 6]);
      for (const bad of [0, -0.5, 1.01, Number.NaN, '0.9']) {
        await expect(encoder.embed(texts, { layers: 'adaptive', tolerance: bad as number })).rejects.toThrow(InputError);
      }
      await expect(encoder.embed(texts, { layers: 3, tolerance: 0.9 })).rejects.toThrow(/only with layers: 'adaptive'/);
    } finally {
      await encoder.dispose();
    }
  });

  it("refuses 'adaptive' on a model with one exit", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'm3web-adaptive-'));
    const ckpt = await openHfCheckpoint('test/oracle/fixtures/bert-tiny');
    try {
      const pack = await convertCheckpoint(ckpt, { id: 'tiny', quant: 'f32', exits: [4] });
      for (const [name, bytes] of pack.files) writeFileSync(join(dir, name), bytes);
      const encoder = await createEncoder({ model: dir, device: 'cpu' });
      try {
        await expect(encoder.embed(['Hi!'], { layers: 'adaptive' })).rejects.toThrow(/two or more trained exits/);
      } finally {
        await encoder.dispose();
      }
    } finally {
      await ckpt.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
