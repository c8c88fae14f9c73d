import { UnsupportedError } from '../errors.js';
import type { EncoderConfig } from '../weights/config.js';
import type { BertWeights, WeightParts } from '../weights/weights.js';
import { gatedBertEmbeddings } from './gated-embeddings.js';
import { readBiasedLinear, readEmbeddingTable, readLayerNorm } from './matrix.js';
import type { HfWeightOptions } from './options.js';
import { tensorPrefix } from './prefix.js';
import type { TensorSource } from './safetensors.js';

const WORD_EMBEDDINGS = 'embeddings.word_embeddings.weight';

/**
 * Reads the BERT / XLM-R / JinaBERT v2 parameters of a Hugging Face checkpoint a layer at a time,
 * each matrix a block of rows at a time (quantized as it goes), so a streamed checkpoint never
 * sits in memory at full precision. JinaBERT's feed-forward is mlp.{gated_layers (GELU rows first,
 * no bias), wo, layernorm}, and it has no position table.
 */
export function bertReader(config: EncoderConfig, source: TensorSource, options: HfWeightOptions = {}): WeightParts<BertWeights> {
  const { quant = 'f32', embeddingQuant = 'f32', layers: layerCount = config.numLayers, alloc } = options;
  const table = options.table ?? readEmbeddingTable;
  // BertModel saves `embeddings...`, BertForMaskedLM `bert.embeddings...`, XLM-R `roberta.embeddings...`.
  const p = tensorPrefix(source, WORD_EMBEDDINGS, 'BERT-family');
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const norm = (name: string) => readLayerNorm(source, `${p}${name}`, H);
  const jina = config.modelType === 'jina_bert';
  // jina-embeddings-v2-base-code's qk-post-norm variant names its feed-forward otherwise and norms q and k.
  if (jina && source.has(`${p}encoder.layer.0.mlp.up_gated_layer.weight`)) {
    throw new UnsupportedError('JinaBERT with query / key norms (jina-bert-v2-qk-post-norm) is not supported');
  }
  const linear = (names: string[], rows: number, cols: number, bias = true) =>
    readBiasedLinear(
      source,
      names.map((n) => ({ name: `${p}${n}.weight`, rows, bias: bias ? `${p}${n}.bias` : null })),
      cols,
      quant,
      alloc,
    );
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
        ...(jina
          ? {
              ffnIn: await linear([`${at}.mlp.gated_layers`], 2 * I, H, false),
              ffnOut: await linear([`${at}.mlp.wo`], H, I),
              ffnNorm: await norm(`${at}.mlp.layernorm`),
            }
          : {
              ffnIn: await linear([`${at}.intermediate.dense`], I, H),
              ffnOut: await linear([`${at}.output.dense`], H, I),
              ffnNorm: await norm(`${at}.output.LayerNorm`),
            }),
      };
    },
    async rest() {
      const V = config.vocabSize;
      if (jina) {
        const names = {
          word: `${p}${WORD_EMBEDDINGS}`,
          tokenType: `${p}embeddings.token_type_embeddings.weight`,
          norm: `${p}embeddings.LayerNorm`,
        };
        return gatedBertEmbeddings(config, source, names, options);
      }
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
