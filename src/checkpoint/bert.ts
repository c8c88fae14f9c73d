import { ModelFormatError } from '../errors.js';
import type { EncoderConfig } from '../weights/config.js';
import { embeddingTable } from '../weights/embedding-table.js';
import { quantizeLinear } from '../weights/quantize.js';
import type { BertLayer, BertWeights, LayerNormParams, Linear } from '../weights/weights.js';
import type { HfWeightOptions } from './options.js';
import type { TensorSource } from './safetensors.js';

const WORD_EMBEDDINGS = 'embeddings.word_embeddings.weight';

/**
 * Checkpoints name the same tensors with different heads in front: BertModel saves
 * `embeddings...`, BertForMaskedLM `bert.embeddings...`, XLM-R `roberta.embeddings...`.
 */
function findPrefix(source: TensorSource): string {
  for (const name of source.names()) {
    if (name.endsWith(WORD_EMBEDDINGS)) return name.slice(0, -WORD_EMBEDDINGS.length);
  }
  throw new ModelFormatError(`model.safetensors: missing tensor "${WORD_EMBEDDINGS}" (is this a BERT-family checkpoint?)`);
}

/**
 * Reads the BERT / XLM-R parameters of a Hugging Face checkpoint tensor by tensor, quantizing as it
 * goes, so a streamed checkpoint never sits in memory at full precision all at once.
 */
export async function bertWeightsFromTensors(
  config: EncoderConfig,
  source: TensorSource,
  options: HfWeightOptions = {},
): Promise<BertWeights> {
  const { quant = 'f32', embeddingQuant = 'f32', layers: layerCount = config.numLayers } = options;
  const p = findPrefix(source);
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const norm = async (name: string): Promise<LayerNormParams> => {
    const modern = source.has(`${p}${name}.weight`);
    return {
      gamma: await source.get(`${p}${name}.${modern ? 'weight' : 'gamma'}`, [H]),
      beta: await source.get(`${p}${name}.${modern ? 'bias' : 'beta'}`, [H]),
    };
  };
  const linear = async (name: string, rows: number, cols: number): Promise<Linear> =>
    quantizeLinear(
      await source.get(`${p}${name}.weight`, [rows, cols]),
      rows,
      cols,
      await source.get(`${p}${name}.bias`, [rows]),
      quant,
    );

  const layers: BertLayer[] = [];
  for (let l = 0; l < layerCount; l++) {
    const at = `encoder.layer.${l}`;
    const qkvW = new Float32Array(3 * H * H);
    const qkvB = new Float32Array(3 * H);
    for (const [i, part] of ['query', 'key', 'value'].entries()) {
      qkvW.set(await source.get(`${p}${at}.attention.self.${part}.weight`, [H, H]), i * H * H);
      qkvB.set(await source.get(`${p}${at}.attention.self.${part}.bias`, [H]), i * H);
    }
    layers.push({
      qkv: quantizeLinear(qkvW, 3 * H, H, qkvB, quant),
      attnOut: await linear(`${at}.attention.output.dense`, H, H),
      attnNorm: await norm(`${at}.attention.output.LayerNorm`),
      ffnIn: await linear(`${at}.intermediate.dense`, I, H),
      ffnOut: await linear(`${at}.output.dense`, H, I),
      ffnNorm: await norm(`${at}.output.LayerNorm`),
    });
  }
  const V = config.vocabSize;
  const table = await source.get(`${p}${WORD_EMBEDDINGS}`, [V, H]);
  return {
    family: 'bert',
    config,
    word: embeddingTable(table, V, H, embeddingQuant),
    position: await source.get(`${p}embeddings.position_embeddings.weight`, [config.maxPositions, H]),
    tokenType: await source.get(`${p}embeddings.token_type_embeddings.weight`, [config.typeVocabSize, H]),
    embNorm: await norm('embeddings.LayerNorm'),
    layers,
  };
}
