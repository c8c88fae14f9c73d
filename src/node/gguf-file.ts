import { open, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { type GgufCheckpoint, openGguf, pickGgufFile } from '../checkpoint/gguf-model.js';
import { type FileSource, fileSource } from './files.js';

/** A folder's own weights, which come before any GGUF file beside them. */
const WEIGHT_FILES = ['model.safetensors', 'model.safetensors.index.json', 'onnx', 'model.onnx', '0_StaticEmbedding'];

/** Whether the file starts with GGUF's magic: Ollama keeps its models as blobs named by digest, with no extension. */
async function startsAsGguf(path: string): Promise<boolean> {
  const file = await open(path, 'r').catch(() => null);
  if (!file) return false;
  try {
    const head = new Uint8Array(4);
    const { bytesRead } = await file.read(head, 0, 4, 0);
    return bytesRead === 4 && new TextDecoder().decode(head) === 'GGUF';
  } finally {
    await file.close();
  }
}

/**
 * The GGUF file `path` names: the path itself when it is a GGUF file (by its extension or its
 * first bytes), else the one a folder without other weights holds (the best quantization where
 * there are several); null otherwise.
 */
export async function ggufPathOf(path: string): Promise<string | null> {
  const info = await stat(path).catch(() => null);
  if (!info) return null;
  if (info.isFile()) return /\.gguf$/i.test(path) || (await startsAsGguf(path)) ? path : null;
  const names = await readdir(path);
  if (names.some((n) => WEIGHT_FILES.includes(n))) return null;
  const file = pickGgufFile(names);
  return file && join(path, file);
}

/** A GGUF file opened as a checkpoint, read by ranges through one handle: `close()` when done. */
export async function openGgufFile(path: string): Promise<GgufCheckpoint & { name: string; close(): Promise<void> }> {
  const source: FileSource = await fileSource(path, basename(path));
  try {
    return { ...(await openGguf(source)), name: basename(path).replace(/\.gguf$/i, ''), close: () => source.close() };
  } catch (err) {
    await source.close();
    throw err;
  }
}
