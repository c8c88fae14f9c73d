import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TensorSource } from '../../src/checkpoint/safetensors.js';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder, type Encoder } from '../../src/client/client.js';
import { ModelFormatError } from '../../src/errors.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint, type HfCheckpoint } from '../../src/pack/convert.js';
import { parseManifest } from '../../src/pack/manifest.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/weights/f16.js';
import { readFixtureBytes, readFixtureJson } from '../support/fixtures.js';
import { cosine, rng } from '../support/random.js';

/**
 * The projection of prompted text: a checkpoint's `projection.{exit}.weight` matrices go into the
 * pack, and embed({ kind }) maps the pooled vector by its exit's matrix before truncating and
 * normalising, while plain text keeps its vector.
 */
const HF = join(import.meta.dirname, '../oracle/fixtures/bert-tiny');
const H = 48;
const PREFIXES = { query: 'question: ', passage: 'text: ' };

/** The checkpoint's tensors plus `extra`, as a converter reads them. */
function withTensors(base: TensorSource, extra: Map<string, Float32Array>): TensorSource {
  return {
    has: (n) => extra.has(n) || base.has(n),
    names: () => [...base.names(), ...extra.keys()],
    shape: (n) => (extra.has(n) ? [H, H] : base.shape(n)),
    get: (n, shape) => extra.get(n) ?? base.get(n, shape),
    getRows: (n, shape, from, to) => {
      const t = extra.get(n);
      return t ? t.subarray(from * H, to * H) : base.getRows(n, shape, from, to);
    },
  };
}

function randomMatrices(exits: number[]): Map<string, Float32Array> {
  const next = rng(7);
  return new Map(exits.map((e) => [`projection.${e}.weight`, Float32Array.from({ length: H * H }, () => next() - 0.5)]));
}

async function packDir(ckpt: HfCheckpoint, prefixes?: typeof PREFIXES): Promise<string> {
  const pack = await convertCheckpoint(ckpt, { id: 'tiny', quant: 'q8', dims: [16, 48], ...(prefixes ? { prefixes } : {}) });
  const dir = mkdtempSync(join(tmpdir(), 'm3web-projection-'));
  for (const [name, bytes] of pack.files) writeFileSync(join(dir, name), bytes);
  return dir;
}

/** y = W x, W row-major [H, H], rounded to f16 as the pack stores it. */
function project(w: Float32Array, x: Float32Array): Float32Array {
  const half = w.map((v) => f16BitsToF32(f32ToF16Bits(v)));
  return Float32Array.from({ length: H }, (_, r) =>
    half.subarray(r * H, (r + 1) * H).reduce((s, v, c) => s + v * (x[c] as number), 0),
  );
}

const unit = (v: Float32Array, d: number) => {
  const t = v.slice(0, d);
  const n = Math.hypot(...t);
  return t.map((x) => x / n);
};

describe('projection of prompted text', () => {
  const open: Encoder[] = [];
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const e of open) await e.dispose();
    for (const c of closers) await c();
  });
  const checkpoint = async (extra: Map<string, Float32Array>): Promise<HfCheckpoint> => {
    const ckpt = await openHfCheckpoint(HF);
    closers.push(() => ckpt.close());
    return { ...ckpt, weights: withTensors(ckpt.weights, extra) };
  };

  it('goes into the pack as f16 matrices, one per exit, and applies to query and passage text only', async () => {
    const matrices = randomMatrices([1, 2, 3, 4]);
    const dir = await packDir(await checkpoint(matrices), PREFIXES);
    const manifest = parseManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
    expect(manifest.projection).toEqual({ kinds: ['query', 'passage'] });
    const head = manifest.shards.find((s) => s.kind === 'head');
    expect(head?.tensors.map((t) => `${t.name}:${t.dtype}`)).toEqual([1, 2, 3, 4].map((e) => `projection.${e}.weight:f16`));

    const enc = await createEncoder({ model: dir, device: 'cpu', cache: false });
    open.push(enc);
    for (const [kind, layers] of [
      ['query', 4],
      ['passage', 2],
    ] as const) {
      const text = 'the projection maps it';
      // The same tokens as the kind's call: the prefix typed by hand, embedded as plain text.
      const [raw] = await enc.embed([PREFIXES[kind] + text], { layers, normalize: false });
      const want = project(matrices.get(`projection.${layers}.weight`) as Float32Array, raw as Float32Array);
      const [got] = await enc.embed([text], { kind, layers, normalize: false });
      expect(cosine(got as Float32Array, want)).toBeGreaterThan(0.99999);
      expect(cosine(raw as Float32Array, want)).toBeLessThan(0.9);
      const [narrow] = await enc.embed([text], { kind, layers, dims: 16 });
      expect(cosine(narrow as Float32Array, unit(want, 16))).toBeGreaterThan(0.99999);
      expect(Math.hypot(...(narrow as Float32Array))).toBeCloseTo(1, 5);
    }
    const [plain] = await enc.embed(['the projection maps it'], { normalize: false });
    const [plainAgain] = await enc.embed(['the projection maps it'], { normalize: false });
    expect(plain).toEqual(plainAgain);
  });

  it('is refused when an exit has no matrix, or when there is no prompt for it to follow', async () => {
    await expect(packDir(await checkpoint(randomMatrices([1, 2, 4])), PREFIXES)).rejects.toThrow(
      /no projection\.3\.weight \(exit 3\)/,
    );
    await expect(packDir(await checkpoint(randomMatrices([1, 2, 3, 4])))).rejects.toThrow(ModelFormatError);
  });

  it('manifest: kinds must be query and/or passage, with one head shard holding the matrices', async () => {
    const dir = await packDir(await checkpoint(randomMatrices([1, 2, 3, 4])), PREFIXES);
    const raw = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(() => parseManifest({ ...raw, projection: { kinds: ['document'] } })).toThrow(/projection\.kinds must list/);
    expect(() => parseManifest({ ...raw, projection: { kinds: [] } })).toThrow(/projection\.kinds must list/);
    const noHead = { ...raw, shards: raw.shards.filter((s: { kind: string }) => s.kind !== 'head') };
    expect(() => parseManifest(noHead)).toThrow(/needs exactly one head shard/);
  });
});

describe('projection of the bundled m3-mini against the PyTorch oracle', () => {
  it('embed({ kind }) at every exit equals make_m3mini.py’s projected vectors', async () => {
    const expected = await readFixtureJson<{ ids: number[][]; prompted: ['query' | 'passage', string, number][] }>(
      'test/oracle/fixtures/m3-mini/expected.json',
    );
    expect(expected.prompted.map((p) => p[0])).toEqual(['query', 'passage']);
    const oracle = new SafetensorsFile(await readFixtureBytes('test/oracle/fixtures/m3-mini/expected.safetensors'), 'expected');
    const L = 6;
    const width = 256;
    const projected = await oracle.get('projected', [expected.prompted.length, L, width]);
    const pooled = await oracle.get('pooled', [expected.ids.length, L, width]);
    const enc = await createEncoder({ model: 'public/models/m3-mini', device: 'cpu', cache: false });
    try {
      for (const [j, [kind, text, i]] of expected.prompted.entries()) {
        for (let layers = 1; layers <= L; layers++) {
          const [got] = await enc.embed([text], { kind, layers, normalize: false });
          const want = projected.subarray((j * L + layers - 1) * width, (j * L + layers) * width);
          expect(cosine(got as Float32Array, want)).toBeGreaterThan(0.9999);
          // The projection is not close to the identity: a call that skipped it would fail above.
          const unprojected = pooled.subarray((i * L + layers - 1) * width, (i * L + layers) * width);
          expect(cosine(unprojected, want)).toBeLessThan(0.99);
        }
      }
    } finally {
      await enc.dispose();
    }
  }, 60_000);
});
