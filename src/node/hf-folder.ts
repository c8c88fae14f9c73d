import { constants } from 'node:fs';
import { access, open, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { openGguf } from '../checkpoint/gguf-model.js';
import type { HfModelFiles } from '../checkpoint/load.js';
import { withJinaV5Adapter } from '../checkpoint/lora-merge.js';
import { ONNX_WEIGHT_FILES, OnnxTensors } from '../checkpoint/onnx.js';
import { hasRouter, spladeRoutes } from '../checkpoint/router.js';
import { type ByteSource, bytesSource, SafetensorsReader, type TensorSource } from '../checkpoint/safetensors.js';
import { staticEmbeddingPath } from '../checkpoint/sentence-transformers.js';
import { folderTokenizer } from '../checkpoint/tokenizer-files.js';
import { checkpointWeights } from '../checkpoint/weight-files.js';
import { ModelFormatError } from '../errors.js';
import { sentenceTransformersStaticConfig } from '../weights/static-config.js';
import { ggufPathOf } from './gguf-file.js';

const exists = (path: string) =>
  access(path, constants.F_OK).then(
    () => true,
    () => false,
  );

async function readJson(dir: string, name: string, optional: true): Promise<unknown | undefined>;
async function readJson(dir: string, name: string, optional?: false): Promise<unknown>;
async function readJson(dir: string, name: string, optional = false): Promise<unknown | undefined> {
  const path = join(dir, name);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
      if (optional) return undefined;
      throw new ModelFormatError(`${name} not found in model folder ${dir}`, { cause });
    }
    throw new ModelFormatError(`reading ${path} failed: ${String(cause)}`, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ModelFormatError(`${path} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

/** Reads a whole file in chunks: fs.readFile refuses files over 2 GiB, and f32 checkpoints get that big. */
async function readBytes(path: string): Promise<Uint8Array> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const bytes = new Uint8Array(size);
    const CHUNK = 1 << 26;
    let done = 0;
    while (done < size) {
      const { bytesRead } = await file.read(bytes, done, Math.min(CHUNK, size - done), done);
      if (bytesRead === 0) throw new ModelFormatError(`${path}: file shrank while being read`);
      done += bytesRead;
    }
    return bytes;
  } finally {
    await file.close();
  }
}

/** Opens a file of a model folder for reading: `name` is how errors name it. */
export type FileOpener = (path: string, name: string) => Promise<ByteSource>;

/** Reads the file whole into memory (what loadHfModel's in-memory model needs). */
const readWhole: FileOpener = async (path, name) => bytesSource(await readBytes(path), name);

/** The folder's tokenizer.json (or one made from a slow tokenizer's files: folderTokenizer), as bytes. */
export async function tokenizerOf(dir: string, config: unknown): Promise<Uint8Array> {
  const tokenizer = await folderTokenizer(async (name) => {
    try {
      return new Uint8Array(await readFile(join(dir, name)));
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ModelFormatError(`reading ${join(dir, name)} failed: ${String(cause)}`, { cause });
    }
  }, config);
  if (!tokenizer) throw new ModelFormatError(`tokenizer.json not found in model folder ${dir} (nor a slow tokenizer's files)`);
  return tokenizer;
}

const parsedTokenizer = async (dir: string, config: unknown): Promise<unknown> => {
  const bytes = await tokenizerOf(dir, config);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new ModelFormatError(`${join(dir, 'tokenizer.json')} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
};

/**
 * A model folder's weights: safetensors or pytorch_model.bin (one file or an index's shards), else
 * a float ONNX export and its external data; each file opened with `openFile`.
 */
export async function folderWeights(dir: string, openFile: FileOpener = readWhole): Promise<TensorSource> {
  const weights =
    (await checkpointWeights({
      json: (name) => readJson(dir, name, true),
      open: async (name) => ((await exists(join(dir, name))) ? openFile(join(dir, name), name) : undefined),
    })) ?? (await onnxWeightsOf(dir, openFile));
  if (!weights) {
    throw new ModelFormatError(
      `model.safetensors not found in model folder ${dir} (nor pytorch_model.bin, their index.json, or onnx/model.onnx)`,
    );
  }
  return weights;
}

/**
 * folderWeights with, in a jina-embeddings-v5 folder, the retrieval adapter merged in
 * (lora-merge.ts); any other model's weights as they are.
 */
export async function modelWeights(dir: string, config: unknown, openFile: FileOpener = readWhole): Promise<TensorSource> {
  const weights = await folderWeights(dir, openFile);
  return withJinaV5Adapter(config, weights, {
    json: (name) => readJson(dir, name, true),
    tensors: async (name) => {
      const path = join(dir, ...name.split('/'));
      return (await exists(path)) ? SafetensorsReader.open(await openFile(path, name)) : undefined;
    },
  });
}

async function onnxWeightsOf(dir: string, openFile: FileOpener): Promise<TensorSource | undefined> {
  for (const file of ONNX_WEIGHT_FILES) {
    const path = join(dir, ...file.split('/'));
    if (!(await exists(path))) continue;
    return OnnxTensors.open(await openFile(path, file), (external) => openFile(join(dirname(path), external), external));
  }
  return undefined;
}

/**
 * sentence-transformers' static layout in `dir` (no config.json; see staticEmbeddingPath): its
 * module's folder and the config it stands for, completed from the table when read; else null.
 */
export async function staticModuleOf(dir: string): Promise<{ path: string; config: Record<string, unknown> } | null> {
  const path = staticEmbeddingPath(await readJson(dir, 'modules.json', true));
  return path ? { path, config: sentenceTransformersStaticConfig() } : null;
}

/**
 * An inference-free SPLADE folder's masked-LM config.json, in its document module's folder (see
 * router.ts); undefined for a folder without a Router, or one that keeps that model at its root.
 */
export async function routedConfigOf(dir: string): Promise<unknown> {
  const modules = await readJson(dir, 'modules.json', true);
  if (!hasRouter(modules)) return undefined;
  const { document } = spladeRoutes(modules, await readJson(dir, 'router_config.json', true));
  return readJson(join(dir, document), 'config.json', true);
}

/**
 * Reads a Hugging Face model folder (config.json, tokenizer.json, optional tokenizer_config.json,
 * the weights; or sentence-transformers' static layout; or a GGUF file) for loadHfModel. Weight
 * files are opened with `openFile`: read whole into memory by default, so nothing needs closing.
 */
export async function readHfFolder(dir: string, openFile: FileOpener = readWhole): Promise<HfModelFiles> {
  const abs = resolve(dir);
  const info = await stat(abs).catch(() => null);
  if (!info) throw new ModelFormatError(`model folder ${dir} does not exist`);
  const gguf = await ggufPathOf(abs);
  if (gguf) {
    const name = basename(gguf);
    const ckpt = await openGguf(await openFile(gguf, name));
    const tokenizer: unknown = JSON.parse(new TextDecoder().decode(ckpt.tokenizer));
    return { ...ckpt, tokenizer, name: name.replace(/\.gguf$/i, '') };
  }
  if (!info.isDirectory()) throw new ModelFormatError(`model folder ${dir} is not a directory`);
  const config = await readJson(dir, 'config.json', true);
  if (config === undefined) {
    const module = await staticModuleOf(dir);
    if (!module) throw new ModelFormatError(`config.json not found in model folder ${dir}`);
    const moduleDir = join(dir, module.path);
    return {
      config: module.config,
      tokenizer: await parsedTokenizer(moduleDir, module.config),
      weights: await folderWeights(moduleDir, openFile),
    };
  }
  const tokenizer = await parsedTokenizer(dir, config);
  const tokenizerConfig = await readJson(dir, 'tokenizer_config.json', true);
  const weights = await modelWeights(dir, config, openFile);
  const name = basename(abs);
  return tokenizerConfig === undefined
    ? { config, tokenizer, name, weights }
    : { config, tokenizer, tokenizerConfig, name, weights };
}
