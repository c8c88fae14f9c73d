import type { EncoderConfig } from '../weights/config.js';
import type { BertWeights, LayerNormParams, Linear, WeightParts } from '../weights/weights.js';
import { gatedBertEmbeddings } from './gated-embeddings.js';
import { type RowRun, readLinear } from './matrix.js';
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
  const norm = async (name: string): Promise<LayerNormParams> => ({
    gamma: await source.get(`${p}${name}.weight`, [H]),
    beta: await source.get(`${p}${name}.bias`, [H]),
  });
  const linear = async (runs: RowRun[], cols: number, biases: (string | null)[]): Promise<Linear> => {
    const rows = runs.reduce((n, r) => n + r.rows, 0);
    const bias = new Float32Array(rows);
    let at = 0;
    for (const [i, run] of runs.entries()) {
      const b = biases[i];
      if (b) bias.set(await source.get(`${p}${b}`, [run.rows]), at);
      at += run.rows;
    }
    return readLinear(
      source,
      runs.map((r) => ({ ...r, name: `${p}${r.name}` })),
      cols,
      bias,
      quant,
      alloc,
    );
  };
  const whole = (name: string, rows: number) => linear([{ name: `${name}.weight`, rows }], H, [`${name}.bias`]);
  return {
    layerCount,
    async layer(l) {
      const at = `encoder.layer.${l}`;
      const fused = source.has(`${p}${at}.attention.qkv_proj.weight`);
      const parts = fused ? ['qkv_proj'] : ['q_proj', 'k_proj', 'v_proj'];
      const gateUp = `${at}.mlp.up_gate_proj.weight`;
      return {
        qkv: await linear(
          parts.map((n) => ({ name: `${at}.attention.${n}.weight`, rows: (3 * H) / parts.length })),
          H,
          parts.map((n) => `${at}.attention.${n}.bias`),
        ),
        attnOut: await whole(`${at}.attention.o_proj`, H),
        attnNorm: await norm(`${at}.attn_ln`),
        ffnIn: await linear(
          [
            { name: gateUp, rows: I, first: I, of: 2 * I },
            { name: gateUp, rows: I, first: 0, of: 2 * I },
          ],
          H,
          [null, null],
        ),
        ffnOut: await linear([{ name: `${at}.mlp.down_proj.weight`, rows: H }], I, [`${at}.mlp.down_proj.bias`]),
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
