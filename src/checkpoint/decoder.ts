import { ModelFormatError } from '../errors.js';
import type { EncoderConfig } from '../weights/config.js';
import type { DecoderWeights, Linear, WeightParts } from '../weights/weights.js';
import { readBiasedLinear, readEmbeddingTable, readLinear } from './matrix.js';
import type { HfWeightOptions } from './options.js';
import { tensorPrefix } from './prefix.js';
import type { TensorSource } from './safetensors.js';

const EMBED = 'embed_tokens.weight';

/**
 * Reads a Qwen3, Qwen2, Gemma 3 text or EuroBERT checkpoint (transformers names: embed_tokens, layers.{l}.{input_layernorm,
 * self_attn.{q,k,v,o}_proj, self_attn.{q,k}_norm (not Qwen2's), post_attention_layernorm, mlp.{gate,up,down}_proj}
 * and Gemma's pre/post_feedforward_layernorm, norm; EuroBERT's are Qwen2's without biases) a layer at a
 * time, quantizing as it goes.
 * q/k/v (with Qwen2's biases) and gate/up are stacked so each runs as one matmul. Gemma's RMSNorm
 * factors (1 + w) are folded in here, so every family's norms multiply by the stored weights.
 */
export function decoderReader(
  config: EncoderConfig,
  source: TensorSource,
  options: HfWeightOptions = {},
): WeightParts<DecoderWeights> {
  const spec = config.decoder;
  if (!spec) throw new ModelFormatError(`model_type ${config.modelType} is not a decoder`);
  const { quant = 'f32', embeddingQuant = 'f32', layers: layerCount = config.numLayers, alloc } = options;
  const table = options.table ?? readEmbeddingTable;
  // sentence-transformers saves the bare model (`embed_tokens...`), a Qwen3ForCausalLM `model.embed_tokens...`.
  const p = tensorPrefix(source, EMBED, 'Qwen / Gemma 3 / EuroBERT');
  // Query / key norms the config says the model lacks would be left out silently: another model.
  if (!spec.qkNorm && source.has(`${p}layers.0.self_attn.q_norm.weight`)) {
    throw new ModelFormatError(
      `the checkpoint has query / key norms (layers.0.self_attn.q_norm), which a ${config.modelType} config does not have`,
    );
  }
  const { hiddenSize: H, intermediateSize: I, headDim: D, numHeads } = config;
  const plusOne = config.modelType === 'gemma3';
  const norm = async (name: string, n: number): Promise<Float32Array> => {
    const w = await source.get(`${p}${name}.weight`, [n]);
    return plusOne ? Float32Array.from(w, (v) => 1 + v) : w;
  };
  const linear = (names: string[], rows: number[], cols: number): Promise<Linear> => {
    const runs = names.map((n, i) => ({ name: `${p}${n}.weight`, rows: rows[i] as number }));
    return readLinear(source, runs, cols, new Float32Array(rows.reduce((a, b) => a + b, 0)), quant, alloc);
  };
  const kv = spec.numKvHeads * D;
  const qkv = (a: string): Promise<Linear> => {
    const runs = [`${a}.q_proj`, `${a}.k_proj`, `${a}.v_proj`].map((n, i) => ({
      name: `${p}${n}.weight`,
      rows: i === 0 ? numHeads * D : kv,
      bias: spec.qkvBias ? `${p}${n}.bias` : null,
    }));
    return readBiasedLinear(source, runs, H, quant, alloc);
  };
  return {
    layerCount,
    async layer(l) {
      const at = `layers.${l}`;
      const a = `${at}.self_attn`;
      return {
        qkv: await qkv(a),
        attnOut: await linear([`${a}.o_proj`], [H], numHeads * D),
        ffnIn: await linear([`${at}.mlp.gate_proj`, `${at}.mlp.up_proj`], [I, I], H),
        ffnOut: await linear([`${at}.mlp.down_proj`], [H], I),
        inputNorm: await norm(`${at}.input_layernorm`, H),
        qNorm: spec.qkNorm ? await norm(`${a}.q_norm`, D) : null,
        kNorm: spec.qkNorm ? await norm(`${a}.k_norm`, D) : null,
        postAttnNorm: spec.sandwichNorms ? await norm(`${at}.post_attention_layernorm`, H) : null,
        ffnNorm: await norm(spec.sandwichNorms ? `${at}.pre_feedforward_layernorm` : `${at}.post_attention_layernorm`, H),
        postFfnNorm: spec.sandwichNorms ? await norm(`${at}.post_feedforward_layernorm`, H) : null,
      };
    },
    async rest() {
      const V = config.vocabSize;
      return {
        family: 'decoder',
        config,
        word: await table(source, `${p}${EMBED}`, V, H, embeddingQuant, alloc),
        finalNorm: await norm('norm', H),
      };
    },
  };
}
