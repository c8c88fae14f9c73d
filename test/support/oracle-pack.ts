import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { type PackManifest, parseManifest } from '../../src/pack/manifest.js';
import { modelFromPack } from '../../src/pack/model.js';
import type { Quant } from '../../src/weights/weights.js';
import { type FakeRepo, startFakeHub } from './hub-server.js';
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
export function serveFakeHub(label: string, repos: () => Map<string, FakeRepo>): { url: string } {
  const served = { url: '' };
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    process.env.M3WEB_CACHE_DIR = mkdtempSync(join(tmpdir(), `m3web-${label}-hub-`));
    const hub = await startFakeHub(repos());
    served.url = hub.url;
    close = () => hub.close();
  });
  afterAll(async () => {
    await close?.();
    delete process.env.M3WEB_CACHE_DIR;
  });
  return served;
}
