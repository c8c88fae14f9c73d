import type { LoadedModel } from '../checkpoint/load.js';
import { ModelFormatError } from '../errors.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { tokenizing } from '../weights/static-config.js';
import type { PackManifest } from './manifest.js';
import { packWeights } from './read.js';

/** Tokenizer and the first `layers` layers' weights from a pack's verified files. */
export function modelFromPack(manifest: PackManifest, files: ReadonlyMap<string, Uint8Array>, layers: number): LoadedModel {
  const tokBytes = files.get(manifest.tokenizer.file);
  if (!tokBytes) throw new ModelFormatError(`pack file ${manifest.tokenizer.file} was not loaded`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(tokBytes));
  } catch (cause) {
    throw new ModelFormatError(`${manifest.tokenizer.file} is not valid JSON`, { cause });
  }
  const tokenizer = TextTokenizer.fromJson(json, manifest.tokenizer.config, tokenizing(manifest.config));
  const weights = packWeights(manifest, files, layers);
  if (tokenizer.maxTokenId >= weights.config.vocabSize) {
    throw new ModelFormatError(
      `the pack's tokenizer has token id ${tokenizer.maxTokenId} but its vocab_size is ${weights.config.vocabSize}`,
    );
  }
  return { config: { ...weights.config, maxTokens: Math.min(weights.config.maxTokens, manifest.maxTokens) }, weights, tokenizer };
}
