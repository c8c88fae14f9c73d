/**
 * The models the transformers.js comparison runs, each in the two forms the runtimes read: an
 * m3web pack (q8) plus a Hugging Face folder (f32) for m3web, and that folder's ONNX exports
 * (onnx/model.onnx f32, onnx/model_quantized.onnx q8) for transformers.js, all from the same
 * weights. Made once under bench/work/models/ and reused while their source is unchanged.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SafetensorsFile, safetensorsBytes } from '../src/checkpoint/safetensors.js';
import { readPackFolder } from '../src/node/pack-folder.js';
import { packWeights } from '../src/pack/read.js';
import { parseHfConfig } from '../src/weights/config.js';
import { EMBEDDING_GEMMA_300M, EUROBERT_210M, QWEN3_EMBEDDING_06B } from '../test/support/decoder-configs.js';
import { bertConfig, randomArray, randomBert, rng } from '../test/support/random.js';
import { writeHfFolder } from './hf-folder.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MODELS_DIR = join(ROOT, 'bench', 'work', 'models');
const BUNDLED = join(ROOT, 'public', 'models', 'm3-mini');
const PYTHON = '/usr/bin/python3';

export type BenchModelId = 'm3-mini' | 'bert-12x384' | ScriptedId | DecoderModelId;
export const isBenchModel = (id: string): id is BenchModelId =>
  id === 'm3-mini' || id === 'bert-12x384' || isScripted(id) || isDecoderModel(id);

/**
 * The decoder-style embedders at their real widths (heads, head size, FFN, vocabulary shrunk to
 * the bundled tokenizer's 32k), 8 of their layers: per-layer work is what the runtimes are
 * compared on, and the full 28-layer f32 export of Qwen3-0.6B (1.9 GB) is near ONNX's 2 GB file
 * limit. No Dense head on EmbeddingGemma (both runtimes pool and normalise alike; the head is two
 * small matmuls per text).
 */
const DECODERS = {
  'qwen3-0.6b-8l': { config: QWEN3_EMBEDDING_06B, pooling: 'last_token', layers: 28 },
  'embeddinggemma-300m-8l': { config: EMBEDDING_GEMMA_300M, pooling: 'mean', layers: 24 },
  // Its special-token ids (128000..) are past the shrunk vocabulary: the bundled tokenizer's pad id instead.
  'eurobert-210m-8l': {
    config: { ...EUROBERT_210M, head_dim: 64, bos_token_id: 2, eos_token_id: 3, pad_token_id: 0, mask_token_id: 4 },
    pooling: 'mean',
    layers: 12,
  },
} as const;
export type DecoderModelId = keyof typeof DECODERS;
const DECODER_LAYERS = 8;
export const isDecoderModel = (id: string): id is DecoderModelId => id in DECODERS;

export interface BenchModel {
  id: BenchModelId;
  description: string;
  /** Hugging Face folder (f32 safetensors) with onnx/ inside. */
  hfDir: string;
  /** m3web pack with q8 layers. */
  packDir: string;
  /** Decoders: an m3web pack with q4 layers too (transformers.js reads onnx/model_q4.onnx). */
  packQ4Dir?: string;
  /** transformers.js feature-extraction pooling that matches the model's own. */
  pooling: 'mean' | 'last_token';
  layers: number;
  /** The "half depth, quarter width" m3web point. */
  halfLayers: number;
  quarterDims: number;
  /** Where `node` stores this model's results (bench/results/<name>.json / .md); default latest. */
  resultsFile?: string;
}

/**
 * 12 layers x 384 wide (a MiniLM-L12 / e5-small shape) with the bundled model's tokenizer, whose
 * 32,000 pieces are followed by 32 prompt tokens (`m3web convert` refuses a tokenizer with ids past
 * the vocabulary).
 */
export const RANDOM_CONFIG = bertConfig({
  vocabSize: 32032,
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

/**
 * `m3web convert` of a Hugging Face folder into a pack with `quant` layers, run from the sources
 * (tsx's loader flags are in execArgv) as the runtimes are: bin/m3web.js runs dist/, which may be
 * older than the working tree (and not know a model type the sources read).
 */
function convert(hfDir: string, packDir: string, quant: 'q8' | 'q4', name: string, dims: number[]): void {
  const args = ['convert', hfDir, '--out', packDir, '--quant', quant, '--name', name, '--dims', dims.join(',')];
  run(process.execPath, [...process.execArgv, join(ROOT, 'src', 'cli', 'm3web.ts'), ...args], 'm3web convert');
}

/**
 * A decoder folder: config.json (real fields, DECODER_LAYERS layers, 32k vocabulary), the bundled
 * tokenizer (padded on the left for last-token pooling), sentence-transformers pooling without
 * prompts (both runtimes embed the same ids); weights and ONNX exports from bench/onnx_decoder.py.
 */
async function writeDecoderFolder(id: DecoderModelId, hfDir: string): Promise<void> {
  const spec = DECODERS[id];
  // The bundled tokenizer's 32,000 pieces and its 32 prompt tokens (as RANDOM_CONFIG).
  const config: Record<string, unknown> = { ...spec.config, vocab_size: 32032, num_hidden_layers: DECODER_LAYERS };
  if ('layer_types' in spec.config) config.layer_types = spec.config.layer_types.slice(0, DECODER_LAYERS);
  const tokenizer = await bundledTokenizer();
  const last = spec.pooling === 'last_token';
  const files: Record<string, unknown> = {
    'config.json': config,
    'tokenizer_config.json': { ...tokenizer.config, ...(last ? { padding_side: 'left' } : {}) },
    'modules.json': [
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
      { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
    ],
    '1_Pooling/config.json': {
      word_embedding_dimension: spec.config.hidden_size,
      pooling_mode_mean_tokens: !last,
      pooling_mode_lasttoken: last,
    },
  };
  await mkdir(join(hfDir, '1_Pooling'), { recursive: true });
  for (const [name, value] of Object.entries(files)) await writeFile(join(hfDir, name), JSON.stringify(value, null, 1));
  await writeFile(join(hfDir, 'tokenizer.json'), tokenizer.json);
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: the ONNX export needs Debian's python3-torch and python3-onnx`);
  run(
    PYTHON,
    [join(ROOT, 'bench', 'onnx_decoder.py'), hfDir],
    'ONNX export (bench/onnx_decoder.py; needs python3-torch, python3-onnx)',
  );
}

async function prepareDecoder(id: DecoderModelId, log: (s: string) => void): Promise<BenchModel> {
  const spec = DECODERS[id];
  const hfDir = join(MODELS_DIR, id);
  const key = createHash('sha256')
    .update(JSON.stringify(spec))
    .update(await readFile(join(ROOT, 'bench', 'onnx_decoder.py')))
    .digest('hex');
  await cached(hfDir, key, () => writeDecoderFolder(id, hfDir), log);
  const H = spec.config.hidden_size;
  const dims = [H / 4, H / 2, H];
  const packs = { q8: `${hfDir}-q8`, q4: `${hfDir}-q4` };
  for (const quant of ['q8', 'q4'] as const)
    await cached(packs[quant], key, async () => convert(hfDir, packs[quant], quant, id, dims), log);
  return {
    id,
    description: `random-weight ${spec.config.model_type} at ${id.replace(/-8l$/, '')}'s widths (hidden ${H}, ${spec.config.num_attention_heads} / ${spec.config.num_key_value_heads} heads of ${spec.config.head_dim}, FFN ${spec.config.intermediate_size}), ${DECODER_LAYERS} of ${spec.layers} layers, m3-mini's 32k tokenizer, ${spec.pooling} pooling`,
    hfDir,
    packDir: packs.q8,
    packQ4Dir: packs.q4,
    pooling: spec.pooling,
    layers: DECODER_LAYERS,
    halfLayers: DECODER_LAYERS / 2,
    quarterDims: H / 4,
    resultsFile: `node-${id.replace(/-8l$/, '')}-latest`,
  };
}

/**
 * Random-weight models that a bench script writes (the Hugging Face folder: config, seeded F32 weights,
 * the bundled tokenizer; and its ONNX exports, traced from an oracle's forward) from a shape, each
 * with its own results file: MPNet at all-MiniLM-L12 / bert-12x384's widths, JinaBERT v2 at
 * jina-embeddings-v2-small-en's, ModernBERT at gte-modernbert-base's (8 of its 22 layers).
 */
const SCRIPTED = {
  'mpnet-12x384': {
    script: 'bench/onnx_mpnet.py',
    sources: ['test/oracle/make_onnx.py', 'training/onnx_export.py'],
    shape: { layers: 12, hidden: 384, heads: 12, ffn: 1536 },
    description: (s: ScriptedShape) =>
      `random-weight MPNet, ${s.layers} layers, ${s.hidden} wide, ${s.heads} heads, FFN ${s.ffn}, relative attention bias, m3-mini's 32k tokenizer`,
    resultsFile: 'node-mpnet-latest',
  },
  'jina-4x512': {
    script: 'bench/onnx_jina.py',
    sources: [
      'bench/traced_folder.py',
      'test/oracle/make_jina.py',
      'test/oracle/post_norm_oracle.py',
      'test/oracle/make_onnx.py',
      'training/onnx_export.py',
    ],
    shape: { layers: 4, hidden: 512, heads: 8, ffn: 2048 },
    description: (s: ScriptedShape) =>
      `random-weight JinaBERT v2 at jina-embeddings-v2-small-en's shape, ${s.layers} layers, ${s.hidden} wide, ${s.heads} heads, GeGLU FFN ${s.ffn}, ALiBi, m3-mini's 32k tokenizer`,
    resultsFile: 'node-jina-latest',
  },
  'modernbert-8x768': {
    script: 'bench/onnx_modernbert.py',
    sources: ['bench/traced_folder.py', 'test/oracle/make_modernbert.py', 'test/oracle/make_onnx.py', 'training/onnx_export.py'],
    shape: { layers: 8, hidden: 768, heads: 12, ffn: 1152 },
    description: (s: ScriptedShape) =>
      `random-weight ModernBERT at gte-modernbert-base's widths, ${s.layers} of its 22 layers, ${s.hidden} wide, ${s.heads} heads, GeGLU FFN ${s.ffn}, windows of 128 in two of three layers, m3-mini's 32k tokenizer`,
    resultsFile: 'node-modernbert-latest',
  },
} as const;
type ScriptedId = keyof typeof SCRIPTED;
interface ScriptedShape {
  layers: number;
  hidden: number;
  heads: number;
  ffn: number;
}
const isScripted = (id: string): id is ScriptedId => id in SCRIPTED;

/** A SCRIPTED model's folder, made once by its script, and m3web's q8 pack of it. */
async function prepareScripted(id: ScriptedId, log: (s: string) => void): Promise<BenchModel> {
  const spec = SCRIPTED[id];
  const hfDir = join(MODELS_DIR, id);
  const packDir = `${hfDir}-q8`;
  const hash = createHash('sha256').update(JSON.stringify(spec.shape));
  for (const file of [spec.script, ...spec.sources]) hash.update(await readFile(join(ROOT, file)));
  hash.update(await readFile(join(BUNDLED, 'manifest.json')));
  const key = hash.digest('hex');
  await cached(
    hfDir,
    key,
    async () => {
      if (!existsSync(PYTHON))
        throw new Error(`${PYTHON} is missing: the ONNX export needs Debian's python3-torch and python3-onnx`);
      const shape = Object.entries(spec.shape).flatMap(([k, v]) => [`--${k}`, String(v)]);
      run(PYTHON, [join(ROOT, spec.script), hfDir, ...shape], `ONNX export (${spec.script}; needs python3-torch, python3-onnx)`);
    },
    log,
  );
  const { layers, hidden } = spec.shape;
  const q = hidden / 4;
  await cached(packDir, key, async () => convert(hfDir, packDir, 'q8', id, [q, q * 2, hidden]), log);
  return {
    id,
    description: spec.description(spec.shape),
    hfDir,
    packDir,
    pooling: 'mean',
    layers,
    halfLayers: layers / 2,
    quarterDims: q,
    resultsFile: spec.resultsFile,
  };
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
  if (isDecoderModel(id)) return prepareDecoder(id, log);
  if (isScripted(id)) return prepareScripted(id, log);
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
      pooling: 'mean',
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
  await cached(packDir, key, async () => convert(hfDir, packDir, 'q8', id, [q, q * 2, c.hiddenSize]), log);
  return {
    id,
    description: `random-weight BERT, ${c.numLayers} layers, ${c.hiddenSize} wide, ${c.numHeads} heads, FFN ${c.intermediateSize}, m3-mini's 32k tokenizer`,
    hfDir,
    packDir,
    pooling: 'mean',
    layers: c.numLayers,
    halfLayers: c.numLayers / 2,
    quarterDims: q,
  };
}

/** The reranking comparison's cross-encoder: bert-12x384 with a pooler and a one-label classifier. */
export interface BenchCrossEncoder {
  description: string;
  /** Hugging Face BertForSequenceClassification folder (f32) with onnx/ inside. */
  hfDir: string;
  /** m3web pack with q8 layers (the head in f32). */
  packDir: string;
}

/**
 * A cross-encoder that `script` (run by /usr/bin/python3) writes from bert-12x384's folder as a
 * Hugging Face folder with its ONNX exports, and its m3web q8 pack; rebuilt when `key` changes.
 */
async function scriptedCrossEncoder(
  o: { id: string; script: string; key: string; description: (base: string) => string },
  log: (s: string) => void,
): Promise<BenchCrossEncoder> {
  const base = await prepareModel('bert-12x384', log);
  const hfDir = join(MODELS_DIR, o.id);
  const packDir = join(MODELS_DIR, `${o.id}-q8`);
  const key = `from ${base.id}, ${o.key}`;
  await cached(
    hfDir,
    key,
    async () => {
      if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: the export needs Debian's python3-torch and python3-onnx`);
      run(PYTHON, [join(ROOT, o.script), base.hfDir, hfDir], o.script);
    },
    log,
  );
  await cached(packDir, key, async () => convert(hfDir, packDir, 'q8', o.id, [RANDOM_CONFIG.hiddenSize]), log);
  return { description: o.description(base.description), hfDir, packDir };
}

/**
 * bert-12x384's weights as a BertForSequenceClassification (ms-marco-MiniLM-L-12's shape) in the
 * forms both runtimes read, made once by bench/onnx_cross_encoder.py from the same numbers.
 */
export const prepareCrossEncoder = (log: (s: string) => void): Promise<BenchCrossEncoder> =>
  scriptedCrossEncoder(
    {
      id: 'ce-12x384',
      script: 'bench/onnx_cross_encoder.py',
      key: `pooler and classifier seed 7 ${JSON.stringify(RANDOM_CONFIG)}`,
      description: (base) => `${base}, as a one-label BertForSequenceClassification`,
    },
    log,
  );

/**
 * A DeBERTa-v3 reranker at mxbai-rerank-xsmall-v1's shape (12 x 384, random weights over the bench
 * tokenizer) in the forms both runtimes read, made once by bench/onnx_deberta.py from the same numbers.
 */
export async function prepareDebertaCrossEncoder(log: (s: string) => void): Promise<BenchCrossEncoder> {
  const hash = createHash('sha256');
  for (const file of ['bench/onnx_deberta.py', 'test/oracle/make_deberta.py', 'training/onnx_export.py'])
    hash.update(await readFile(join(ROOT, file)));
  return scriptedCrossEncoder(
    {
      id: 'ce-deberta-12x384',
      script: 'bench/onnx_deberta.py',
      key: `its tokenizer, ${hash.digest('hex')}`,
      description: () => "a random DeBERTa-v3 reranker at mxbai-rerank-xsmall-v1's shape (12 x 384, 6 heads, 256 buckets)",
    },
    log,
  );
}

/** The late-interaction comparison's settings: what both runtimes tokenize queries and documents by. */
export interface LateBench {
  queryMarker: number;
  documentMarker: number;
  mask: number;
  queryLength: number;
  documentLength: number;
  dim: number;
}

/** answerai-colbert-small-v1's shape: 96-dim token vectors, 32-token queries, documents cut at 180. */
const COLBERT = { dim: 96, queryLength: 32, documentLength: 180, markers: ['[Q00]', '[Q01]'] } as const;

/**
 * The late-interaction comparison's model: bert-12x384 as a stanford HF_ColBERT checkpoint (a seeded
 * 96 x 384 `linear.weight` beside the encoder; artifact.metadata naming two of the bundled
 * tokenizer's prompt tokens as markers) with its ONNX exports for transformers.js's AutoModel.
 */
export async function prepareColbert(log: (s: string) => void): Promise<BenchCrossEncoder & { late: LateBench }> {
  const base = await prepareModel('bert-12x384', log);
  const id = 'colbert-12x384';
  const hfDir = join(MODELS_DIR, id);
  const packDir = join(MODELS_DIR, `${id}-q8`);
  const key = `from ${base.id}, linear seed 11 ${JSON.stringify(COLBERT)} ${JSON.stringify(RANDOM_CONFIG)}`;
  const H = RANDOM_CONFIG.hiddenSize;
  await cached(
    hfDir,
    key,
    async () => {
      const config = JSON.parse(await readFile(join(base.hfDir, 'config.json'), 'utf8'));
      const source = new SafetensorsFile(new Uint8Array(await readFile(join(base.hfDir, 'model.safetensors'))));
      const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
      for (const name of source.names()) {
        const shape = [...(source.shape(name) as readonly number[])];
        tensors.set(name, { shape, data: await source.get(name, shape) });
      }
      tensors.set('linear.weight', { shape: [COLBERT.dim, H], data: randomArray(COLBERT.dim * H, 1 / Math.sqrt(H), rng(11)) });
      await mkdir(join(hfDir, 'onnx'), { recursive: true });
      await writeFile(join(hfDir, 'config.json'), `${JSON.stringify({ ...config, architectures: ['HF_ColBERT'] }, null, 1)}\n`);
      await writeFile(join(hfDir, 'model.safetensors'), safetensorsBytes(tensors));
      const metadata = {
        query_token_id: COLBERT.markers[0],
        doc_token_id: COLBERT.markers[1],
        query_maxlen: COLBERT.queryLength,
        doc_maxlen: COLBERT.documentLength,
        dim: COLBERT.dim,
        attend_to_mask_tokens: false,
        // No skiplist, so that the JavaScript ColBERT on transformers.js keeps the same tokens.
        mask_punctuation: false,
      };
      await writeFile(join(hfDir, 'artifact.metadata'), `${JSON.stringify(metadata, null, 1)}\n`);
      for (const f of ['tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx', 'onnx/model_quantized.onnx'])
        await copyFile(join(base.hfDir, f), join(hfDir, f));
    },
    log,
  );
  await cached(packDir, key, async () => convert(hfDir, packDir, 'q8', id, [H]), log);
  const tokenizer = JSON.parse(await readFile(join(hfDir, 'tokenizer.json'), 'utf8')) as {
    added_tokens: { id: number; content: string }[];
  };
  const idOf = (token: string) => {
    const found = tokenizer.added_tokens.find((t) => t.content === token);
    if (!found) throw new Error(`the bench tokenizer has no ${token}`);
    return found.id;
  };
  return {
    description: `${base.description}, as a ColBERT (HF_ColBERT) with a ${COLBERT.dim}-dim projection`,
    hfDir,
    packDir,
    late: {
      queryMarker: idOf(COLBERT.markers[0]),
      documentMarker: idOf(COLBERT.markers[1]),
      mask: idOf('[MASK]'),
      queryLength: COLBERT.queryLength,
      documentLength: COLBERT.documentLength,
      dim: COLBERT.dim,
    },
  };
}
