import { ModelFormatError } from '../errors.js';
import type { EncoderConfig } from '../weights/config.js';
import { embeddingTable } from '../weights/embedding-table.js';
import { quantizeLinear } from '../weights/quantize.js';
import type { DecoderLayer, DecoderWeights, Linear } from '../weights/weights.js';
import type { HfWeightOptions } from './options.js';
import type { TensorSource } from './safetensors.js';

const EMBED = 'embed_tokens.weight';

/** sentence-transformers saves the bare model (`embed_tokens...`), a *ForCausalLM `model.embed_tokens...`. */
function findPrefix(source: TensorSource): string {
  for (const name of source.names()) {
    if (name.endsWith(EMBED)) return name.slice(0, -EMBED.length);
  }
  throw new ModelFormatError(`model.safetensors: missing tensor "${EMBED}" (is this a Qwen3 / Gemma 3 checkpoint?)`);
}

/** Row-stacks [rows_i, cols] matrices into one. */
function stack(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Reads a Qwen3 or Gemma 3 text checkpoint (transformers names: embed_tokens, layers.{l}.{input_layernorm,
 * self_attn.{q,k,v,o}_proj, self_attn.{q,k}_norm, post_attention_layernorm, mlp.{gate,up,down}_proj}
 * and Gemma's pre/post_feedforward_layernorm, norm) tensor by tensor, quantizing as it goes.
 * q/k/v and gate/up are stacked so each runs as one matmul. Gemma's RMSNorm factors (1 + w) are
 * folded in here, so both families' norms multiply by the stored weights.
 */
export async function decoderWeightsFromTensors(
  config: EncoderConfig,
  source: TensorSource,
  options: HfWeightOptions = {},
): Promise<DecoderWeights> {
  const spec = config.decoder;
  if (!spec) throw new ModelFormatError(`model_type ${config.modelType} is not a decoder`);
  const { quant = 'f32', embeddingQuant = 'f32', layers: layerCount = config.numLayers } = options;
  const p = findPrefix(source);
  const { hiddenSize: H, intermediateSize: I, headDim: D, numHeads } = config;
  const plusOne = config.modelType === 'gemma3';
  const norm = async (name: string, n: number): Promise<Float32Array> => {
    const w = await source.get(`${p}${name}.weight`, [n]);
    return plusOne ? Float32Array.from(w, (v) => 1 + v) : w;
  };
  const linear = async (names: string[], rows: number[], cols: number): Promise<Linear> => {
    const parts: Float32Array[] = [];
    // One tensor at a time: a streaming source reads them in order.
    for (const [i, n] of names.entries()) parts.push(await source.get(`${p}${n}.weight`, [rows[i] as number, cols]));
    const total = rows.reduce((a, b) => a + b, 0);
    return quantizeLinear(stack(parts), total, cols, new Float32Array(total), quant);
  };
  const kv = spec.numKvHeads * D;
  const layers: DecoderLayer[] = [];
  for (let l = 0; l < layerCount; l++) {
    const at = `layers.${l}`;
    const a = `${at}.self_attn`;
    layers.push({
      qkv: await linear([`${a}.q_proj`, `${a}.k_proj`, `${a}.v_proj`], [numHeads * D, kv, kv], H),
      attnOut: await linear([`${a}.o_proj`], [H], numHeads * D),
      ffnIn: await linear([`${at}.mlp.gate_proj`, `${at}.mlp.up_proj`], [I, I], H),
      ffnOut: await linear([`${at}.mlp.down_proj`], [H], I),
      inputNorm: await norm(`${at}.input_layernorm`, H),
      qNorm: await norm(`${a}.q_norm`, D),
      kNorm: await norm(`${a}.k_norm`, D),
      postAttnNorm: spec.sandwichNorms ? await norm(`${at}.post_attention_layernorm`, H) : null,
      ffnNorm: await norm(spec.sandwichNorms ? `${at}.pre_feedforward_layernorm` : `${at}.post_attention_layernorm`, H),
      postFfnNorm: spec.sandwichNorms ? await norm(`${at}.post_feedforward_layernorm`, H) : null,
    });
  }
  const V = config.vocabSize;
  return {
    family: 'decoder',
    config,
    word: embeddingTable(await source.get(`${p}${EMBED}`, [V, H]), V, H, embeddingQuant),
    layers,
    finalNorm: await norm('norm', H),
  };
}
