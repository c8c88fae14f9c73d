import type { EncoderConfig } from '../weights/config.js';
import type { BertWeights, WeightParts } from '../weights/weights.js';
import { gatedBertEmbeddings } from './gated-embeddings.js';
import { type RowRun, readBiasedLinear, readLayerNorm } from './matrix.js';
import type { HfWeightOptions } from './options.js';
import { tensorPrefix } from './prefix.js';
import type { TensorSource } from './safetensors.js';

const WORD_EMBEDDINGS = 'embeddings.word_embeddings.weight';

/**
 * Reads a GTE checkpoint (names from new-impl's modeling.py: embeddings.{word_embeddings,
 * token_type_embeddings,LayerNorm}, encoder.layer.{l}.{attention.qkv_proj (or q/k/v_proj),
 * attention.o_proj, attn_ln, mlp.up_gate_proj, mlp.down_proj, mlp_ln}) into BERT's layer shapes,
 * a layer at a time, quantizing as it goes. up_gate_proj's rows are [up; gate] and the gate goes
 * through GELU: they are stored gate first, the order the gated kernels read. A classifier or
 * pooler the checkpoint carries is not read.
 */
export function gteReader(config: EncoderConfig, source: TensorSource, options: HfWeightOptions = {}): WeightParts<BertWeights> {
  const { quant = 'f32', layers: layerCount = config.numLayers, alloc } = options;
  // gte-multilingual-base saves its encoder under `new.` (NewForTokenClassification), Snowflake's copies bare.
  const p = tensorPrefix(source, WORD_EMBEDDINGS, 'GTE');
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const norm = (name: string) => readLayerNorm(source, `${p}${name}`, H);
  // Runs named without the prefix; a run's bias tensor, where it has one, is `bias`.
  const linear = (runs: (RowRun & { bias: string | null })[], cols: number) =>
    readBiasedLinear(
      source,
      runs.map((r) => ({ ...r, name: `${p}${r.name}`, bias: r.bias && `${p}${r.bias}` })),
      cols,
      quant,
      alloc,
    );
  const whole = (name: string, rows: number) => linear([{ name: `${name}.weight`, rows, bias: `${name}.bias` }], H);
  return {
    layerCount,
    async layer(l) {
      const at = `encoder.layer.${l}`;
      const fused = source.has(`${p}${at}.attention.qkv_proj.weight`);
      const parts = fused ? ['qkv_proj'] : ['q_proj', 'k_proj', 'v_proj'];
      const gateUp = `${at}.mlp.up_gate_proj.weight`;
      return {
        qkv: await linear(
          parts.map((n) => ({
            name: `${at}.attention.${n}.weight`,
            rows: (3 * H) / parts.length,
            bias: `${at}.attention.${n}.bias`,
          })),
          H,
        ),
        attnOut: await whole(`${at}.attention.o_proj`, H),
        attnNorm: await norm(`${at}.attn_ln`),
        ffnIn: await linear(
          [
            { name: gateUp, rows: I, first: I, of: 2 * I, bias: null },
            { name: gateUp, rows: I, first: 0, of: 2 * I, bias: null },
          ],
          H,
        ),
        ffnOut: await linear([{ name: `${at}.mlp.down_proj.weight`, rows: H, bias: `${at}.mlp.down_proj.bias` }], I),
        ffnNorm: await norm(`${at}.mlp_ln`),
      };
    },
    rest: () =>
      gatedBertEmbeddings(
        config,
        source,
        {
          word: `${p}${WORD_EMBEDDINGS}`,
          tokenType: `${p}embeddings.token_type_embeddings.weight`,
          norm: `${p}embeddings.LayerNorm`,
        },
        options,
      ),
  };
}
