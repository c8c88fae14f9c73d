import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { type LoadedModel, type LoadOptions, loadHfModel } from '../checkpoint/load.js';
import { routedSplade } from '../checkpoint/router.js';
import { SafetensorsFile, type TensorSource } from '../checkpoint/safetensors.js';
import type { SentenceTransformersFiles } from '../checkpoint/sentence-transformers.js';
import { ModelFormatError } from '../errors.js';
import { type HfCheckpoint, sentenceTransformersFiles } from '../pack/convert.js';
import { type FileSource, fileSource } from './files.js';
import { ggufPathOf, openGgufFile } from './gguf-file.js';
import { type FileOpener, modelWeights, readHfFolder, staticModuleOf, tokenizerOf } from './hf-folder.js';

async function optionalJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelFormatError(`reading ${path} failed: ${String(cause)}`, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ModelFormatError(`${path} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

async function requiredJson(dir: string, name: string): Promise<unknown> {
  const v = await optionalJson(join(dir, name));
  if (v === undefined) throw new ModelFormatError(`${name} not found in model folder ${dir}`);
  return v;
}

/** A small file read whole; undefined where it is missing. */
async function optionalBytes(path: string): Promise<Uint8Array | undefined> {
  const bytes = await readFile(path).catch((cause: NodeJS.ErrnoException) => {
    if (cause.code === 'ENOENT') return undefined;
    throw new ModelFormatError(`reading ${path} failed: ${String(cause)}`, { cause });
  });
  return bytes && new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A small checkpoint (a Dense module's) read whole; undefined where the file is missing. */
async function optionalTensors(path: string): Promise<TensorSource | undefined> {
  const bytes = await optionalBytes(path);
  return bytes && new SafetensorsFile(bytes, path);
}

/**
 * The folder's sentence-transformers files (modules, pooling, Dense, prompts, max length, a sparse
 * head), those it has, and the folder holding its transformer's files: `dir`, or an inference-free
 * SPLADE model's document module (router.ts).
 */
async function readSentenceTransformers(dir: string): Promise<{ root: string; files: SentenceTransformersFiles }> {
  const at = (name: string) => join(dir, ...name.split('/'));
  const json = (name: string) => optionalJson(at(name));
  const tensors = (name: string) => optionalTensors(at(name));
  const files = await sentenceTransformersFiles(json, tensors, (name) => optionalBytes(at(name)));
  const routed = await routedSplade(files, json, tensors);
  return routed ? { root: join(dir, routed.dir), files: routed.files } : { root: dir, files };
}

/** A FileOpener whose files are closed together by `close`. */
function openedFiles(): { open: FileOpener; close: () => Promise<void> } {
  const opened: FileSource[] = [];
  return {
    open: async (path, name) => {
      const source = await fileSource(path, name);
      opened.push(source);
      return source;
    },
    close: async () => {
      await Promise.all(opened.map((f) => f.close()));
    },
  };
}

/**
 * Opens a Hugging Face folder for conversion, streaming the weights (folderWeights: safetensors or
 * pytorch_model.bin, single-file or sharded, or an ONNX export and its external data). Call
 * `close()` when done.
 */
export async function openHfCheckpoint(dir: string): Promise<HfCheckpoint & { close(): Promise<void> }> {
  const gguf = await ggufPathOf(dir);
  if (gguf) return openGgufFile(gguf);
  const { root, files: sentenceTransformers } = await readSentenceTransformers(dir);
  const config = await optionalJson(join(root, 'config.json'));
  // sentence-transformers' static layout keeps its tokenizer and table in the module's folder.
  const module = config === undefined ? await staticModuleOf(dir) : null;
  if (config === undefined && !module) await requiredJson(root, 'config.json');
  const at = module ? join(dir, module.path) : root;
  const tokenizer = await tokenizerOf(at, module?.config ?? config);
  const { open, close } = openedFiles();
  try {
    const weights = await modelWeights(at, module?.config ?? config, open);
    return {
      config: module?.config ?? config,
      tokenizer,
      tokenizerConfig: await optionalJson(join(root, 'tokenizer_config.json')),
      sentenceTransformers,
      weights,
      name: basename(resolve(dir)),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Loads a Hugging Face folder (or a GGUF file) into memory with its sentence-transformers files,
 * reading the weight files by ranges as the readers ask, so a checkpoint is never held whole
 * beside the weights made from it; the files are closed once loaded.
 */
export async function loadHfFolder(
  dir: string,
  options: LoadOptions = {},
): Promise<LoadedModel & { sentenceTransformers: SentenceTransformersFiles }> {
  const { open, close } = openedFiles();
  try {
    const folder = (await ggufPathOf(dir)) ? null : await readSentenceTransformers(dir);
    const files = await readHfFolder(folder?.root ?? dir, open);
    // A GGUF file carries its pooling; a folder keeps it in its sentence-transformers files.
    const sentenceTransformers = folder?.files ?? files.sentenceTransformers ?? {};
    // The model is named after the folder given, not the module folder its transformer is in.
    const named = folder ? { ...files, name: basename(resolve(dir)) } : files;
    return { ...(await loadHfModel({ ...named, sentenceTransformers }, options)), sentenceTransformers };
  } finally {
    await close();
  }
}
