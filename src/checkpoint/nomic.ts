import type { EncoderConfig } from '../weights/config.js';
import type { BertWeights, WeightParts } from '../weights/weights.js';
import { gatedBertEmbeddings } from './gated-embeddings.js';
import { readBiasedLinear, readLayerNorm } from './matrix.js';
import type { HfWeightOptions } from './options.js';
import { tensorPrefix } from './prefix.js';
import type { TensorSource } from './safetensors.js';

const WORD_EMBEDDINGS = 'embeddings.word_embeddings.weight';

/**
 * Reads a NomicBERT checkpoint (names from modeling_hf_nomic_bert.py: embeddings.{word_embeddings,
 * token_type_embeddings}, emb_ln, encoder.layers.{l}.{attn.Wqkv, attn.out_proj, norm1, mlp.fc11,
 * mlp.fc12, mlp.fc2, norm2}) into BERT's layer shapes, a layer at a time, quantizing as it goes.
 * The activation applies to fc12, so the gated input stacks fc12's rows over fc11's. Biases are
 * read where the checkpoint has them (qkv_proj_bias / mlp_fc1_bias / mlp_fc2_bias; nomic-embed-text
 * has none) and are zeros otherwise. The vocabulary table may have more rows than the tokenizer
 * (pad_vocab_size_multiple): they are never gathered.
 */
export function nomicReader(
  config: EncoderConfig,
  source: TensorSource,
  options: HfWeightOptions = {},
): WeightParts<BertWeights> {
  const { quant = 'f32', layers: layerCount = config.numLayers, alloc } = options;
  // nomic-embed-text saves NomicBertModel's names bare; NomicBertForPreTraining puts `bert.` in front.
  const p = tensorPrefix(source, WORD_EMBEDDINGS, 'NomicBERT');
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const norm = (name: string) => readLayerNorm(source, `${p}${name}`, H);
  const linear = (names: string[], rows: number, cols: number) =>
    readBiasedLinear(
      source,
      names.map((n) => ({ name: `${p}${n}.weight`, rows, bias: source.has(`${p}${n}.bias`) ? `${p}${n}.bias` : null })),
      cols,
      quant,
      alloc,
    );
  return {
    layerCount,
    async layer(l) {
      const at = `encoder.layers.${l}`;
      return {
        qkv: await linear([`${at}.attn.Wqkv`], 3 * H, H),
        attnOut: await linear([`${at}.attn.out_proj`], H, H),
        attnNorm: await norm(`${at}.norm1`),
        ffnIn: await linear([`${at}.mlp.fc12`, `${at}.mlp.fc11`], I, H),
        ffnOut: await linear([`${at}.mlp.fc2`], H, I),
        ffnNorm: await norm(`${at}.norm2`),
      };
    },
    rest: () =>
      gatedBertEmbeddings(
        config,
        source,
        { word: `${p}${WORD_EMBEDDINGS}`, tokenType: `${p}embeddings.token_type_embeddings.weight`, norm: `${p}emb_ln` },
        options,
      ),
  };
}
