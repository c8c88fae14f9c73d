import { ModelFormatError } from '../errors.js';
import type { EncoderConfig } from '../weights/config.js';
import type { DecoderWeights, Linear, WeightParts } from '../weights/weights.js';
import { readEmbeddingTable, readLinear } from './matrix.js';
import type { HfWeightOptions } from './options.js';
import { tensorPrefix } from './prefix.js';
import type { TensorSource } from './safetensors.js';

const FINAL_NORM = 'encoder.final_layer_norm.weight';

/**
 * Reads a T5 / mT5 encoder (T5EncoderModel's names, or a full T5ForConditionalGeneration whose
 * decoder is skipped: shared, encoder.block.{l}.layer.0.{layer_norm, SelfAttention.{q,k,v,o}},
 * layer.1.{layer_norm, DenseReluDense.{wi | wi_0, wi_1, wo}}, encoder.final_layer_norm, and block
 * 0's relative_attention_bias, which every layer uses) into the pre-norm layers the decoder
 * forward runs: q, k and v stacked, the gated input's wi_0 (activated) rows before wi_1's. No
 * projection has a bias. The vocabulary table is `shared` (save_pretrained drops the tied
 * encoder.embed_tokens), or encoder.embed_tokens where only it was saved.
 */
export function t5Reader(
  config: EncoderConfig,
  source: TensorSource,
  options: HfWeightOptions = {},
): WeightParts<DecoderWeights> {
  const spec = config.decoder;
  const relative = config.relativeAttention;
  if (!spec || !relative) throw new ModelFormatError(`model_type ${config.modelType} is not T5`);
  const { quant = 'f32', embeddingQuant = 'f32', layers: layerCount = config.numLayers, alloc } = options;
  const table = options.table ?? readEmbeddingTable;
  const p = tensorPrefix(source, FINAL_NORM, 'T5 encoder');
  const { hiddenSize: H, intermediateSize: I, headDim: D, numHeads } = config;
  const inner = numHeads * D;
  const norm = (name: string) => source.get(`${p}${name}.weight`, [H]);
  const linear = (names: string[], rows: number, cols: number): Promise<Linear> => {
    const runs = names.map((n) => ({ name: `${p}${n}.weight`, rows }));
    return readLinear(source, runs, cols, new Float32Array(rows * names.length), quant, alloc);
  };
  return {
    layerCount,
    async layer(l) {
      const at = `encoder.block.${l}.layer`;
      const a = `${at}.0.SelfAttention`;
      const f = `${at}.1.DenseReluDense`;
      return {
        qkv: await linear([`${a}.q`, `${a}.k`, `${a}.v`], inner, H),
        attnOut: await linear([`${a}.o`], H, inner),
        ffnIn: await linear(spec.gated ? [`${f}.wi_0`, `${f}.wi_1`] : [`${f}.wi`], I, H),
        ffnOut: await linear([`${f}.wo`], H, I),
        inputNorm: await norm(`${at}.0.layer_norm`),
        qNorm: null,
        kNorm: null,
        postAttnNorm: null,
        ffnNorm: await norm(`${at}.1.layer_norm`),
        postFfnNorm: null,
      };
    },
    async rest() {
      const word = source.has(`${p}shared.weight`) ? `${p}shared.weight` : `${p}encoder.embed_tokens.weight`;
      const bias = `${p}encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight`;
      return {
        family: 'decoder',
        config,
        word: await table(source, word, config.vocabSize, H, embeddingQuant, alloc),
        finalNorm: await source.get(`${p}${FINAL_NORM}`, [H]),
        relativeBias: await source.get(bias, [relative.tableRows, numHeads]),
      };
    },
  };
}
