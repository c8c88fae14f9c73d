/**
 * The models the transformers.js comparison runs, each in the two forms the runtimes read: an
 * m3web pack (q8) plus a Hugging Face folder (f32) for m3web, and that folder's ONNX exports
 * (onnx/model.onnx f32, onnx/model_quantized.onnx q8) for transformers.js, all from the same
 * weights. Made once under bench/work/models/ and reused while their source is unchanged.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPackFolder } from '../src/node/pack-folder.js';
import { packWeights } from '../src/pack/read.js';
import { parseHfConfig } from '../src/weights/config.js';
import { bertConfig, randomBert } from '../test/support/random.js';
import { writeHfFolder } from './hf-folder.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MODELS_DIR = join(ROOT, 'bench', 'work', 'models');
const BUNDLED = join(ROOT, 'public', 'models', 'm3-mini');
const PYTHON = '/usr/bin/python3';

export type BenchModelId = 'm3-mini' | 'bert-12x384';

export interface BenchModel {
  id: BenchModelId;
  description: string;
  /** Hugging Face folder (f32 safetensors) with onnx/ inside. */
  hfDir: string;
  /** m3web pack with q8 layers. */
  packDir: string;
  layers: number;
  /** The "half depth, quarter width" m3web point. */
  halfLayers: number;
  quarterDims: number;
}

/** 12 layers x 384 wide (a MiniLM-L12 / e5-small shape) with the bundled model's tokenizer. */
export const RANDOM_CONFIG = bertConfig({
  vocabSize: 32000,
  hiddenSize: 384,
  numLayers: 12,
  numHeads: 12,
  intermediateSize: 1536,
  maxPositions: 512,
});

export async function bundledTokenizer(): Promise<{ json: string; config: Record<string, unknown> }> {
  const manifest = JSON.parse(await readFile(join(BUNDLED, 'manifest.json'), 'utf8'));
  return { json: await readFile(join(BUNDLED, 'tokenizer.json'), 'utf8'), config: manifest.tokenizer.config ?? {} };
}

function run(command: string, args: string[], what: string): void {
  const r = spawnSync(command, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    const why = r.error ? r.error.message : r.stderr.trim().split('\n').slice(-5).join('\n');
    throw new Error(`${what} failed: ${why}`);
  }
}

function exportOnnx(hfDir: string): void {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: the ONNX export needs Debian's python3-torch and python3-onnx`);
  run(
    PYTHON,
    [join(ROOT, 'training', 'onnx_export.py'), hfDir],
    'ONNX export (training/onnx_export.py; needs python3-torch, python3-onnx)',
  );
}

/** Rebuilds `dir` unless its stamp matches `key`. */
async function cached(dir: string, key: string, build: () => Promise<void>, log: (s: string) => void): Promise<void> {
  const stamp = join(dir, 'bench-stamp.txt');
  if (existsSync(stamp) && (await readFile(stamp, 'utf8')) === key) return;
  log(`building ${dir} (once; reused while its source is unchanged)...`);
  await rm(dir, { recursive: true, force: true });
  await build();
  await writeFile(stamp, key);
}

export async function prepareModel(id: BenchModelId, log: (s: string) => void): Promise<BenchModel> {
  const hfDir = join(MODELS_DIR, id);
  if (id === 'm3-mini') {
    const key = createHash('sha256')
      .update(await readFile(join(BUNDLED, 'manifest.json')))
      .digest('hex');
    await cached(
      hfDir,
      key,
      async () => {
        const { manifest, files } = await readPackFolder(BUNDLED);
        const config = parseHfConfig(manifest.config);
        // The q8 pack's weights, dequantised: the f32 model both runtimes run is the one shipped.
        const weights = packWeights(manifest, files, config.numLayers);
        if (weights.family !== 'bert') throw new Error(`${BUNDLED} is not a BERT pack; the ONNX export writes BERT graphs`);
        await writeHfFolder(hfDir, weights, await bundledTokenizer());
        exportOnnx(hfDir);
      },
      log,
    );
    return {
      id,
      description: 'bundled m3-mini: BERT, 6 layers, 256 wide, 4 heads, FFN 1024, vocab 32k',
      hfDir,
      packDir: BUNDLED,
      layers: 6,
      halfLayers: 3,
      quarterDims: 64,
    };
  }
  const packDir = join(MODELS_DIR, `${id}-q8`);
  const c = RANDOM_CONFIG;
  const key = `random seed 1 ${JSON.stringify(c)}`;
  await cached(
    hfDir,
    key,
    async () => {
      await writeHfFolder(hfDir, randomBert(c, 'f32', 1), await bundledTokenizer());
      exportOnnx(hfDir);
    },
    log,
  );
  const q = c.hiddenSize / 4;
  await cached(
    packDir,
    key,
    async () =>
      run(
        process.execPath,
        [
          join(ROOT, 'bin', 'm3web.js'),
          'convert',
          hfDir,
          '--out',
          packDir,
          '--quant',
          'q8',
          '--name',
          id,
          '--dims',
          `${q},${q * 2},${c.hiddenSize}`,
        ],
        'm3web convert',
      ),
    log,
  );
  return {
    id,
    description: `random-weight BERT, ${c.numLayers} layers, ${c.hiddenSize} wide, ${c.numHeads} heads, FFN ${c.intermediateSize}, m3-mini's 32k tokenizer`,
    hfDir,
    packDir,
    layers: c.numLayers,
    halfLayers: c.numLayers / 2,
    quarterDims: q,
  };
}
