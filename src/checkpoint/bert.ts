import type { EncoderConfig } from '../weights/config.js';
import type { BertWeights, LayerNormParams, Linear, WeightParts } from '../weights/weights.js';
import { readEmbeddingTable, readLinear } from './matrix.js';
import type { HfWeightOptions } from './options.js';
import { tensorPrefix } from './prefix.js';
import type { TensorSource } from './safetensors.js';

const WORD_EMBEDDINGS = 'embeddings.word_embeddings.weight';

/**
 * Reads the BERT / XLM-R parameters of a Hugging Face checkpoint a layer at a time, each matrix a
 * block of rows at a time (quantized as it goes), so a streamed checkpoint never sits in memory
 * at full precision.
 */
export function bertReader(config: EncoderConfig, source: TensorSource, options: HfWeightOptions = {}): WeightParts<BertWeights> {
  const { quant = 'f32', embeddingQuant = 'f32', layers: layerCount = config.numLayers, alloc } = options;
  const table = options.table ?? readEmbeddingTable;
  // BertModel saves `embeddings...`, BertForMaskedLM `bert.embeddings...`, XLM-R `roberta.embeddings...`.
  const p = tensorPrefix(source, WORD_EMBEDDINGS, 'BERT-family');
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const norm = async (name: string): Promise<LayerNormParams> => {
    const modern = source.has(`${p}${name}.weight`);
    return {
      gamma: await source.get(`${p}${name}.${modern ? 'weight' : 'gamma'}`, [H]),
      beta: await source.get(`${p}${name}.${modern ? 'bias' : 'beta'}`, [H]),
    };
  };
  const linear = async (names: string[], rows: number, cols: number): Promise<Linear> => {
    const bias = new Float32Array(names.length * rows);
    for (const [i, n] of names.entries()) bias.set(await source.get(`${p}${n}.bias`, [rows]), i * rows);
    const runs = names.map((n) => ({ name: `${p}${n}.weight`, rows }));
    return readLinear(source, runs, cols, bias, quant, alloc);
  };
  return {
    layerCount,
    async layer(l) {
      const at = `encoder.layer.${l}`;
      return {
        // Query, key and value stacked: one matmul instead of three.
        qkv: await linear(
          ['query', 'key', 'value'].map((part) => `${at}.attention.self.${part}`),
          H,
          H,
        ),
        attnOut: await linear([`${at}.attention.output.dense`], H, H),
        attnNorm: await norm(`${at}.attention.output.LayerNorm`),
        ffnIn: await linear([`${at}.intermediate.dense`], I, H),
        ffnOut: await linear([`${at}.output.dense`], H, I),
        ffnNorm: await norm(`${at}.output.LayerNorm`),
      };
    },
    async rest() {
      const V = config.vocabSize;
      return {
        family: 'bert',
        config,
        word: await table(source, `${p}${WORD_EMBEDDINGS}`, V, H, embeddingQuant, alloc),
        position: await source.get(`${p}embeddings.position_embeddings.weight`, [config.maxPositions, H]),
        tokenType: await source.get(`${p}embeddings.token_type_embeddings.weight`, [config.typeVocabSize, H]),
        embNorm: await norm('embeddings.LayerNorm'),
      };
    },
  };
}
