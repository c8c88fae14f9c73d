import { ModelFormatError } from '../errors.js';
import type { EncoderConfig } from '../weights/config.js';
import type { LayerNormParams, Linear, ModernBertWeights, WeightParts } from '../weights/weights.js';
import { readEmbeddingTable, readLinear } from './matrix.js';
import type { HfWeightOptions } from './options.js';
import { tensorPrefix } from './prefix.js';
import type { TensorSource } from './safetensors.js';

const TOK_EMBEDDINGS = 'embeddings.tok_embeddings.weight';

/**
 * Reads the ModernBERT parameters of a Hugging Face checkpoint (transformers names:
 * embeddings.{tok_embeddings,norm}, layers.{l}.{attn_norm,attn.Wqkv,attn.Wo,mlp_norm,mlp.Wi,mlp.Wo},
 * final_norm) a layer at a time, quantizing as it goes. Biases the config turns off are zeros.
 */
export function modernBertReader(
  config: EncoderConfig,
  source: TensorSource,
  options: HfWeightOptions = {},
): WeightParts<ModernBertWeights> {
  const spec = config.modern;
  if (!spec) throw new ModelFormatError(`model_type ${config.modelType} is not ModernBERT`);
  const { quant = 'f32', embeddingQuant = 'f32', layers: layerCount = config.numLayers, alloc } = options;
  const table = options.table ?? readEmbeddingTable;
  // ModernBertModel saves `embeddings...`, ModernBertForMaskedLM `model.embeddings...`.
  const p = tensorPrefix(source, TOK_EMBEDDINGS, 'ModernBERT');
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const norm = async (name: string): Promise<LayerNormParams> => ({
    gamma: await source.get(`${p}${name}.weight`, [H]),
    beta: spec.normBias ? await source.get(`${p}${name}.bias`, [H]) : new Float32Array(H),
  });
  const linear = async (name: string, rows: number, cols: number, bias: boolean): Promise<Linear> =>
    readLinear(
      source,
      [{ name: `${p}${name}.weight`, rows }],
      cols,
      bias ? await source.get(`${p}${name}.bias`, [rows]) : new Float32Array(rows),
      quant,
      alloc,
    );
  return {
    layerCount,
    async layer(l) {
      const at = `layers.${l}`;
      return {
        qkv: await linear(`${at}.attn.Wqkv`, 3 * H, H, spec.attentionBias),
        attnOut: await linear(`${at}.attn.Wo`, H, H, spec.attentionBias),
        attnNorm: l === 0 ? null : await norm(`${at}.attn_norm`),
        ffnIn: await linear(`${at}.mlp.Wi`, 2 * I, H, spec.mlpBias),
        ffnOut: await linear(`${at}.mlp.Wo`, H, I, spec.mlpBias),
        ffnNorm: await norm(`${at}.mlp_norm`),
      };
    },
    async rest() {
      const V = config.vocabSize;
      return {
        family: 'modernbert',
        config,
        word: await table(source, `${p}${TOK_EMBEDDINGS}`, V, H, embeddingQuant, alloc),
        embNorm: await norm('embeddings.norm'),
        finalNorm: await norm('final_norm'),
      };
    },
  };
}
