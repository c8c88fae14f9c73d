import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type ModelHandle, openPack } from '../api/model-source.js';
import { ModelFormatError } from '../errors.js';
import { parseHfConfig } from '../model/config.js';
import { type LoadedModel, loadHfModel } from '../model/load.js';
import { modelFromPack } from '../model/pack-model.js';
import type { Quant } from '../model/weights.js';
import { MANIFEST_FILE, type PackManifest, parseManifest } from '../pack/manifest.js';
import { readHfFolder } from './hf-folder.js';
import { readPackFolder } from './pack-folder.js';

export interface OpenedModel extends LoadedModel {
  /** Present when the folder is a model pack. */
  manifest?: PackManifest;
}

export const isPackFolder = (dir: string) =>
  access(join(dir, MANIFEST_FILE), constants.F_OK).then(
    () => true,
    () => false,
  );

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
  const files = await readHfFolder(dir);
  return loadHfModel(files, options);
}

/** The folder's Hugging Face config (from manifest.json in a pack), read without any weights. */
export async function readModelConfig(dir: string): Promise<{ config: unknown; manifest?: PackManifest }> {
  const info = await stat(dir).catch(() => null);
  if (!info) throw new ModelFormatError(`model folder ${dir} does not exist`);
  if (!info.isDirectory()) throw new ModelFormatError(`model folder ${dir} is not a directory`);
  const pack = await isPackFolder(dir);
  const path = join(dir, pack ? MANIFEST_FILE : 'config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new ModelFormatError(`${path} is missing or not valid JSON (is ${dir} a model folder?)`, { cause });
  }
  if (!pack) return { config: raw };
  const manifest = parseManifest(raw);
  return { config: manifest.config, manifest };
}

/** A pack folder or a Hugging Face folder as a ModelHandle for createEncoder in Node. */
export async function openFolderHandle(dir: string, layers: number | undefined): Promise<ModelHandle> {
  await readModelConfig(dir);
  if (await isPackFolder(dir)) {
    return openPack(dir, async (l, have) => ({ ...(await readPackFolder(dir, l, have)), fromCache: false }), layers);
  }
  // A plain checkpoint has no manifest: every layer is an exit, only the full width is
  // promised, and it loads whole (quantizing on the fly would cost more than it saves).
  const model = await loadHfModel(await readHfFolder(dir));
  const { numLayers, hiddenSize, maxTokens } = model.config;
  return {
    info: {
      id: dir.split(/[\\/]/).filter(Boolean).pop() ?? dir,
      source: dir,
      layers: numLayers,
      hiddenSize,
      exits: Array.from({ length: numLayers }, (_, i) => i + 1),
      dims: [hiddenSize],
      pooling: 'mean',
      maxTokens,
      quantization: 'f32',
      prefixes: {},
      quality: null,
    },
    model,
    fromCache: false,
    ensureLayers: async () => false,
  };
}
