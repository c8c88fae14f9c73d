import type { EncoderConfig } from '../weights/config.js';
import { type Alloc, emptyLinear, quantizeRows, rowStart } from '../weights/quantize.js';
import { isMoeLayer } from '../weights/shapes.js';
import type { BertLayer, BertWeights, Quant, WeightParts } from '../weights/weights.js';
import { gatedBertEmbeddings } from './gated-embeddings.js';
import { readBiasedLinear, readLayerNorm, readLinear } from './matrix.js';
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
 * (pad_vocab_size_multiple): they are never gathered. nomic-embed-text-v2-moe's ungated layers
 * read mlp.fc1 / mlp.fc2, its expert layers (config.moe) mlp.router.layer, mlp.experts.mlp.w1 /
 * w2 and mlp.experts.bias (moeFeedForward).
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
      const attention = {
        qkv: await linear([`${at}.attn.Wqkv`], 3 * H, H),
        attnOut: await linear([`${at}.attn.out_proj`], H, H),
        attnNorm: await norm(`${at}.norm1`),
      };
      const ffnNorm = await norm(`${at}.norm2`);
      if (config.moe && isMoeLayer(config, l)) {
        return {
          ...attention,
          ...(await moeFeedForward(source, `${p}${at}.mlp`, H, I, config.moe.experts, quant, alloc)),
          ffnNorm,
        };
      }
      const ffnIn = config.gatedBert?.gate
        ? await linear([`${at}.mlp.fc12`, `${at}.mlp.fc11`], I, H)
        : await linear([`${at}.mlp.fc1`], I, H);
      return { ...attention, ffnIn, ffnOut: await linear([`${at}.mlp.fc2`], H, I), ffnNorm };
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

/**
 * NomicMoELayer's weights (BertLayer.experts): w1 [E I, H] is already the stacked first projection;
 * w2 is stored [E I, H] too, each expert's [I, H] applied untransposed (x1 @ w2), so expert e's
 * second projection is its block's transpose, [H, I], stored at rows e H, read an expert at a time.
 */
async function moeFeedForward(
  source: TensorSource,
  at: string,
  H: number,
  I: number,
  experts: number,
  quant: Quant,
  alloc: Alloc | undefined,
): Promise<Pick<BertLayer, 'ffnIn' | 'ffnOut' | 'experts'>> {
  const wide = experts * I;
  const router = await readLinear(
    source,
    [{ name: `${at}.router.layer.weight`, rows: experts }],
    H,
    new Float32Array(experts),
    'f32',
  );
  const ffnIn = await readLinear(source, [{ name: `${at}.experts.mlp.w1`, rows: wide }], H, new Float32Array(wide), quant, alloc);
  const ffnOut = emptyLinear(quant, experts * H, I, new Float32Array(experts * H), alloc);
  const down = new Float32Array(H * I);
  for (let e = 0; e < experts; e++) {
    const w2 = await source.getRows(`${at}.experts.mlp.w2`, [wide, H], e * I, (e + 1) * I);
    for (let i = 0; i < I; i++) for (let h = 0; h < H; h++) down[h * I + i] = w2[i * H + h] as number;
    const start = rowStart(quant, I, e * H);
    const end = rowStart(quant, I, (e + 1) * H);
    quantizeRows(down, I, quant, ffnOut.data.subarray(start.byte, end.byte), ffnOut.scales?.subarray(start.scale, end.scale));
  }
  return { experts: { router, bias: await source.get(`${at}.experts.bias`, [H]) }, ffnIn, ffnOut };
}
