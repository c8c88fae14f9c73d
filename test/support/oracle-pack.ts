import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder } from '../../src/client/client.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { type PackManifest, parseManifest } from '../../src/pack/manifest.js';
import { modelFromPack } from '../../src/pack/model.js';
import type { Quant } from '../../src/weights/weights.js';
import { type FakeHub, type FakeRepo, startFakeHub } from './hub-server.js';
import { cosine } from './random.js';

/** What the oracle scripts write into expected.json. */
export interface OracleExpected {
  texts: string[];
  ids: number[][];
  layers: number;
  hidden: number;
}

/** The files of a sentence-transformers folder the hub tests serve (Transformer, Pooling, Normalize). */
export const ST_FILES = [
  'config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'model.safetensors',
  'modules.json',
  '1_Pooling/config.json',
  'sentence_bert_config.json',
];

export const readOracleJson = <T = OracleExpected>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/**
 * The Hugging Face folder `dir` converted to a `quant` pack and run on the CPU: its tokens must be
 * the oracle's (the caller checks `tokensMatch`), and the worst cosine over every exit and text
 * of its mean- and CLS-pooled vectors against the oracle's `{mean,cls}.{i}.{layers}` (in
 * `oracleDir`, where the folder is another export of the same weights).
 */
export async function packAgainstOracle(
  dir: string,
  quant: Quant,
  dims?: number[],
  oracleDir = dir,
): Promise<{ manifest: PackManifest; tokensMatch: boolean; mean: number; cls: number }> {
  const expected = readOracleJson(join(oracleDir, 'expected.json'));
  const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(oracleDir, 'expected.safetensors'))));
  const ckpt = await openHfCheckpoint(dir);
  const pack = await convertCheckpoint(ckpt, { id: 'oracle', quant, ...(dims ? { dims } : {}) }).finally(() => ckpt.close());
  const manifest = parseManifest(JSON.parse(new TextDecoder().decode(pack.files.get('manifest.json'))));
  const model = modelFromPack(manifest, pack.files, expected.layers);
  const tokens = expected.texts.map((t) => model.tokenizer.encode(t, model.config.maxTokens).ids);
  const cpu = new CpuEncoder(model.weights);
  const worst = { mean: 1, cls: 1 };
  for (const pooling of ['mean', 'cls'] as const) {
    const pooled = await cpu.pooledAtExits(tokens, manifest.exits, pooling);
    manifest.exits.forEach((layers, e) => {
      expected.texts.forEach((_, i) => {
        const want = oracle.get(`${pooling}.${i}.${layers}`, [expected.hidden]);
        worst[pooling] = Math.min(worst[pooling], cosine(pooled[e]?.[i] as Float32Array, want));
      });
    });
  }
  cpu.dispose();
  return { manifest, tokensMatch: JSON.stringify(tokens) === JSON.stringify(expected.ids), ...worst };
}

/**
 * A fake hub serving `repos` to one test file's suites, with a cache folder of its own: read
 * `url` inside the tests (it is set in beforeAll).
 */
export function serveFakeHub(label: string, repos: () => Map<string, FakeRepo>): { url: string; log: FakeHub['log'] } {
  const served: { url: string; log: FakeHub['log'] } = { url: '', log: [] };
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    process.env.M3WEB_CACHE_DIR = mkdtempSync(join(tmpdir(), `m3web-${label}-hub-`));
    const hub = await startFakeHub(repos());
    served.url = hub.url;
    served.log = hub.log;
    close = () => hub.close();
  });
  afterAll(async () => {
    await close?.();
    delete process.env.M3WEB_CACHE_DIR;
  });
  return served;
}

/** Pack bounds per weight format: f32 exact, q8 within its rounding, q4 a floor these random models hold (README, "Parity"). */
export const PACK_BOUNDS: Readonly<Record<'mean' | 'cls', Readonly<Record<Quant, number>>>> = {
  mean: { f32: 0.99999, f16: 0.9999, q8: 0.999, q4: 0.9 },
  cls: { f32: 0.99999, f16: 0.9999, q8: 0.998, q4: 0.85 },
};

/** One test per (fixture folder under `fixtures`, format): as a pack it pools like its oracle at every exit. */
export function packSuite(fixtures: string, cases: readonly (readonly [string, Quant])[], bounds = PACK_BOUNDS): void {
  it.each(cases)('%s as a %s pack pools like the oracle at every exit', async (model, quant) => {
    const { tokensMatch, mean, cls } = await packAgainstOracle(join(fixtures, model), quant);
    expect(tokensMatch).toBe(true);
    expect(mean).toBeGreaterThan(bounds.mean[quant]);
    expect(cls).toBeGreaterThan(bounds.cls[quant]);
  });
}

/**
 * `hf:repo` from the fake hub at `hubUrl`, on the CPU in f32: it pools by mean, as its
 * sentence-transformers files say, and each text's vector is the oracle's (in `oracleDir`) last
 * layer mean within `bound`.
 */
export async function expectHubLikeOracle(hubUrl: string, repo: string, oracleDir: string, bound = 0.99999): Promise<void> {
  const expected = readOracleJson(join(oracleDir, 'expected.json'));
  const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(oracleDir, 'expected.safetensors'))));
  const enc = await createEncoder({ model: `hf:${repo}`, hub: { url: hubUrl }, device: 'cpu', dtype: 'f32' });
  try {
    expect((await enc.info()).model).toMatchObject({ pooling: 'mean' });
    const vectors = await enc.embed(expected.texts);
    vectors.forEach((v, i) => {
      expect(cosine(v, oracle.get(`mean.${i}.${expected.layers}`, [expected.hidden]))).toBeGreaterThanOrEqual(bound);
    });
  } finally {
    await enc.dispose();
  }
}

/** The Matryoshka widths `model` opens with on the CPU (from the fake hub at `hubUrl` where it is a hub id), `dims` given or not. */
export async function openedDims(model: string, hubUrl: string, dims?: number[]): Promise<readonly number[]> {
  const enc = await createEncoder({ model, hub: { url: hubUrl }, device: 'cpu', ...(dims ? { dims } : {}) });
  try {
    return (await enc.info()).model.dims;
  } finally {
    await enc.dispose();
  }
}
