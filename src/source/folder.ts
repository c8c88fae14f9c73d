import { sentenceTransformersSettings } from '../checkpoint/sentence-transformers.js';
import { InputError } from '../errors.js';
import { loadHfFolder } from '../node/hf-checkpoint.js';
import { readModelCard, readModelConfig } from '../node/model-folder.js';
import { readPackFolder } from '../node/pack-folder.js';
import { intList } from '../pack/convert.js';
import { rerankerInfo } from '../tokenizer/rerank-input.js';
import { everyExit } from '../weights/config.js';
import { defaultWidths } from '../weights/static-config.js';
import { type ModelHandle, openPack, sparseInfo } from './model-source.js';
import { declaredWidths } from './trained-widths.js';

/**
 * A pack folder or a Hugging Face folder as a ModelHandle for createEncoder in Node. `dims`
 * declares the Matryoshka widths of a Hugging Face folder (a pack declares its own).
 */
export async function openFolderHandle(dir: string, layers: number | undefined, dims?: number[]): Promise<ModelHandle> {
  const { manifest, config } = await readModelConfig(dir);
  if (manifest) {
    if (dims) throw new InputError(`dims are declared by the pack in ${dir} (${manifest.dims.join(', ')}); leave them out`);
    return openPack(dir, async (l, have) => ({ ...(await readPackFolder(dir, l, have)), fromCache: false }), layers);
  }
  // A plain checkpoint has no manifest: every layer is an exit, only the full width (or the
  // widths declared) is promised, and it loads whole (quantizing on the fly would cost more than
  // it saves). Its sentence-transformers files say how to pool and which prompts to use.
  const { sentenceTransformers, ...model } = await loadHfFolder(dir);
  const st = sentenceTransformersSettings(sentenceTransformers);
  const { numLayers, hiddenSize } = model.config;
  const maxTokens = Math.min(model.config.maxTokens, st.maxTokens ?? Number.POSITIVE_INFINITY);
  model.config = { ...model.config, maxTokens };
  if (dims !== undefined && (!Array.isArray(dims) || dims.length === 0)) {
    throw new InputError(`dims must be a non-empty list of integers in 1..${hiddenSize}, got ${JSON.stringify(dims)}`);
  }
  const declared = declaredWidths(hiddenSize, config, await readModelCard(dir));
  const widths = intList('dims', dims ?? declared ?? defaultWidths(model.config), 1, hiddenSize);
  return {
    info: {
      id: dir.split(/[\\/]/).filter(Boolean).pop() ?? dir,
      source: dir,
      layers: numLayers,
      hiddenSize,
      // A SPLADE head was trained on the last layer's states only.
      exits: model.config.splade ? [numLayers] : everyExit(numLayers),
      dims: widths,
      pooling: st.pooling ?? 'mean',
      maxTokens,
      quantization: 'f32',
      prefixes: st.prefixes ?? {},
      ...(model.config.lora ? { tasks: [...model.config.lora.tasks] } : {}),
      ...rerankerInfo(model.config),
      ...sparseInfo(model.config),
      quality: null,
    },
    model,
    fromCache: false,
    // Loaded whole: nothing is left to fetch.
    fetchLayers: async () => {},
    ensureLayers: async () => false,
  };
}
