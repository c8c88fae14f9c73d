import { loadHfModel } from '../checkpoint/load.js';
import { readHfFolder } from '../node/hf-folder.js';
import { readModelConfig } from '../node/model-folder.js';
import { readPackFolder } from '../node/pack-folder.js';
import { type ModelHandle, openPack } from './model-source.js';

/** A pack folder or a Hugging Face folder as a ModelHandle for createEncoder in Node. */
export async function openFolderHandle(dir: string, layers: number | undefined): Promise<ModelHandle> {
  const { manifest } = await readModelConfig(dir);
  if (manifest) {
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
