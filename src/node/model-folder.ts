import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedModel } from '../checkpoint/load.js';
import { type SentenceTransformersSettings, sentenceTransformersSettings } from '../checkpoint/sentence-transformers.js';
import { ModelFormatError } from '../errors.js';
import { MANIFEST_FILE, type PackManifest, parseManifest } from '../pack/manifest.js';
import { modelFromPack } from '../pack/model.js';
import { parseHfConfig } from '../weights/config.js';
import type { Quant } from '../weights/weights.js';
import { ggufPathOf, openGgufFile } from './gguf-file.js';
import { loadHfFolder } from './hf-checkpoint.js';
import { routedConfigOf, staticModuleOf } from './hf-folder.js';
import { readPackFolder } from './pack-folder.js';

export interface OpenedModel extends LoadedModel {
  /** Present when the folder is a model pack. */
  manifest?: PackManifest;
  /** A Hugging Face folder's sentence-transformers settings (pooling, prompts), where it has them. */
  sentenceTransformers?: SentenceTransformersSettings;
}

const exists = (path: string) =>
  access(path, constants.F_OK).then(
    () => true,
    () => false,
  );

/** JSON of `path`, or undefined where the file is missing or not JSON. */
const jsonOrUndefined = (path: string): Promise<unknown> =>
  readFile(path, 'utf8').then(
    (text) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return undefined;
      }
    },
    () => undefined,
  );

/**
 * A pack is told by its manifest's content (`"format": "m3web-pack"`), not by the file name:
 * Hugging Face folders sometimes hold some other tool's manifest.json beside config.json.
 */
export const isPackFolder = async (dir: string) => {
  const manifest = await jsonOrUndefined(join(dir, MANIFEST_FILE));
  return typeof manifest === 'object' && manifest !== null && (manifest as { format?: unknown }).format === 'm3web-pack';
};

/**
 * Opens a model pack folder (manifest.json) or a plain Hugging Face folder. `quant` applies to
 * Hugging Face folders only: a pack is already quantized. `layers` loads only the first layers.
 */
export async function openModelFolder(dir: string, options: { layers?: number; quant?: Quant } = {}): Promise<OpenedModel> {
  if (await isPackFolder(dir)) {
    const { manifest, files } = await readPackFolder(dir, options.layers);
    const layers = options.layers ?? parseHfConfig(manifest.config).numLayers;
    return { ...modelFromPack(manifest, files, layers), manifest };
  }
  const { sentenceTransformers, ...model } = await loadHfFolder(dir, options);
  return { ...model, sentenceTransformers: sentenceTransformersSettings(sentenceTransformers) };
}

/** The folder's Hugging Face config (from manifest.json in a pack), read without any weights. */
export async function readModelConfig(dir: string): Promise<{ config: unknown; manifest?: PackManifest }> {
  const info = await stat(dir).catch(() => null);
  if (!info) throw new ModelFormatError(`model folder ${dir} does not exist`);
  const gguf = await ggufPathOf(dir);
  if (gguf) {
    const ckpt = await openGgufFile(gguf);
    await ckpt.close();
    return { config: ckpt.config };
  }
  if (!info.isDirectory()) throw new ModelFormatError(`model folder ${dir} is not a directory`);
  if (await isPackFolder(dir)) {
    const manifest = parseManifest(await jsonOrUndefined(join(dir, MANIFEST_FILE)));
    return { config: manifest.config, manifest };
  }
  const path = join(dir, 'config.json');
  const config = (await jsonOrUndefined(path)) ?? (await routedConfigOf(dir));
  if (config !== undefined) return { config };
  const module = await staticModuleOf(dir);
  if (module) return { config: module.config };
  const stray = (await exists(join(dir, MANIFEST_FILE))) ? ` (its ${MANIFEST_FILE} is not an m3web pack manifest)` : '';
  throw new ModelFormatError(
    `${dir} is neither an m3web pack nor a Hugging Face checkpoint: ${path} is missing or not valid JSON${stray}`,
  );
}

/** The folder's model card (README.md), where it has one: sentence-transformers writes the Matryoshka widths it trained into it. */
export const readModelCard = (dir: string): Promise<string | undefined> =>
  readFile(join(dir, 'README.md'), 'utf8').catch(() => undefined);
