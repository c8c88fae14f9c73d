import { ModelFormatError } from '../errors.js';
import type { EncoderConfig } from '../weights/config.js';
import { embeddingWidth, layerGroup } from '../weights/shapes.js';
import type { BertLayer, BertWeights, WeightParts } from '../weights/weights.js';
import { gatedBertEmbeddings } from './gated-embeddings.js';
import { readBiasedLinear, readEmbeddingTable, readLayerNorm } from './matrix.js';
import type { HfWeightOptions } from './options.js';
import { tensorPrefix } from './prefix.js';
import type { TensorSource } from './safetensors.js';

const WORD_EMBEDDINGS = 'embeddings.word_embeddings.weight';

/** Where a BERT-like checkpoint keeps each part of layer l: `${layer}.${l}.${part}`. */
interface LayerNames {
  layer: string;
  /** Query, key and value, or one fused tensor of all three. */
  qkv: readonly string[];
  attnOut: string;
  attnNorm: string;
  ffnIn: string;
  /** JinaBERT's gated_layers has no bias. */
  ffnInBias: boolean;
  ffnOut: string;
  ffnNorm: string;
  embNorm: string;
}

const BERT: LayerNames = {
  layer: 'encoder.layer',
  qkv: ['attention.self.query', 'attention.self.key', 'attention.self.value'],
  attnOut: 'attention.output.dense',
  attnNorm: 'attention.output.LayerNorm',
  ffnIn: 'intermediate.dense',
  ffnInBias: true,
  ffnOut: 'output.dense',
  ffnNorm: 'output.LayerNorm',
  embNorm: 'embeddings.LayerNorm',
};

/**
 * jinaai's xlm-roberta-flash-implementation with absolute positions (jina-reranker-v2): XLM-R's
 * layers under flash-attention's module names, the embedding norm `emb_ln`.
 */
const FLASH: LayerNames = {
  layer: 'encoder.layers',
  qkv: ['mixer.Wqkv'],
  attnOut: 'mixer.out_proj',
  attnNorm: 'norm1',
  ffnIn: 'mlp.fc1',
  ffnInBias: true,
  ffnOut: 'mlp.fc2',
  ffnNorm: 'norm2',
  embNorm: 'emb_ln',
};

/** JinaBERT v2's feed-forward: mlp.{gated_layers (GELU rows first, no bias), wo, layernorm}. */
const JINA: LayerNames = { ...BERT, ffnIn: 'mlp.gated_layers', ffnInBias: false, ffnOut: 'mlp.wo', ffnNorm: 'mlp.layernorm' };

/** jina-bert-v2-qk-post-norm's: mlp.up_gated_layer's GELU rows come second; layer_norm_2 ends the layer. */
const JINA_CODE: LayerNames = { ...JINA, ffnIn: 'mlp.up_gated_layer', ffnOut: 'mlp.down_layer', ffnNorm: 'layer_norm_2' };

const MPNET: LayerNames = {
  ...BERT,
  qkv: ['attention.attn.q', 'attention.attn.k', 'attention.attn.v'],
  attnOut: 'attention.attn.o',
  attnNorm: 'attention.LayerNorm',
};

const DISTILBERT: LayerNames = {
  layer: 'transformer.layer',
  qkv: ['attention.q_lin', 'attention.k_lin', 'attention.v_lin'],
  attnOut: 'attention.out_lin',
  attnNorm: 'sa_layer_norm',
  ffnIn: 'ffn.lin1',
  ffnInBias: true,
  ffnOut: 'ffn.lin2',
  ffnNorm: 'output_layer_norm',
  embNorm: 'embeddings.LayerNorm',
};

/** DeBERTa-v2 / v3: BERT's layers with q/k/v named query_proj, key_proj, value_proj. */
const DEBERTA: LayerNames = {
  ...BERT,
  qkv: ['attention.self.query_proj', 'attention.self.key_proj', 'attention.self.value_proj'],
};

/**
 * ALBERT (modeling_albert.py): layer l runs group layerGroup(l)'s one layer (inner_group_num 1),
 * `encoder.albert_layer_groups.{g}.albert_layers.0.`, BERT's post-norm layer under other names.
 */
const ALBERT_LAYER = 'albert_layers.0';
const ALBERT: LayerNames = {
  layer: 'encoder.albert_layer_groups',
  qkv: ['query', 'key', 'value'].map((m) => `${ALBERT_LAYER}.attention.${m}`),
  attnOut: `${ALBERT_LAYER}.attention.dense`,
  attnNorm: `${ALBERT_LAYER}.attention.LayerNorm`,
  ffnIn: `${ALBERT_LAYER}.ffn`,
  ffnInBias: true,
  ffnOut: `${ALBERT_LAYER}.ffn_output`,
  ffnNorm: `${ALBERT_LAYER}.full_layer_layer_norm`,
  embNorm: 'embeddings.LayerNorm',
};

/** The factorized embeddings' widening (config.factorized): ALBERT's, else ELECTRA's. */
const EMBED_PROJECT = { albert: 'encoder.embedding_hidden_mapping_in', electra: 'embeddings_project' };

const NAMES: Partial<Record<EncoderConfig['modelType'], LayerNames>> = {
  albert: ALBERT,
  jina_bert: JINA,
  mpnet: MPNET,
  distilbert: DISTILBERT,
  deberta_v2: DEBERTA,
};

/**
 * Reads the BERT / XLM-R / DistilBERT / MPNet / JinaBERT v2 / DeBERTa-v3 parameters of a Hugging Face
 * checkpoint a layer at a time, each matrix a block of rows at a time (quantized as it goes), so a
 * streamed checkpoint never sits in memory at full precision. They differ in their tensors'
 * names, in JinaBERT's gated feed-forward and missing position table, and in MPNet's relative
 * attention bias; DistilBERT and MPNet have no token types, so theirs is a row of zeros.
 */
export function bertReader(config: EncoderConfig, source: TensorSource, options: HfWeightOptions = {}): WeightParts<BertWeights> {
  const { quant = 'f32', embeddingQuant = 'f32', layers: layerCount = config.numLayers, alloc } = options;
  const table = options.table ?? readEmbeddingTable;
  // BertModel saves `embeddings...`, BertForMaskedLM `bert.embeddings...`, XLM-R `roberta.embeddings...`.
  const p = tensorPrefix(source, WORD_EMBEDDINGS, 'BERT-family');
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const qkPostNorm = config.gatedBert?.qkPostNorm === true;
  const names = source.has(`${p}${FLASH.layer}.0.${FLASH.qkv[0]}.weight`)
    ? FLASH
    : qkPostNorm
      ? JINA_CODE
      : (NAMES[config.modelType] ?? BERT);
  const W = embeddingWidth(config);
  const norm = (name: string, width = H) => readLayerNorm(source, `${p}${name}`, width);
  if (names === JINA && source.has(`${p}encoder.layer.0.mlp.up_gated_layer.weight`)) {
    throw new ModelFormatError(
      "these tensors are jina-bert-v2-qk-post-norm's (mlp.up_gated_layer), but config.json's auto_map does not name that code",
    );
  }
  const linear = (parts: readonly string[], rows: number, cols: number, bias = true) =>
    readBiasedLinear(
      source,
      parts.map((n) => ({ name: `${p}${n}.weight`, rows, bias: bias ? `${p}${n}.bias` : null })),
      cols,
      quant,
      alloc,
    );
  const ffnRows = config.gatedBert ? 2 * I : I;
  // up_gated_layer's halves read in the other order, so that the GELU rows come first as everywhere.
  const ffnIn = (name: string) =>
    qkPostNorm
      ? readBiasedLinear(
          source,
          [I, 0].map((first) => ({ name: `${p}${name}.weight`, rows: I, first, of: 2 * I, bias: null })),
          H,
          quant,
          alloc,
        )
      : linear([name], ffnRows, H, names.ffnInBias);
  // Layers of one group (config.layerGroups) get the same object: read, placed and uploaded once.
  let shared: { group: number; layer: Promise<BertLayer> } | null = null;
  const readLayer = async (group: number): Promise<BertLayer> => {
    const at = (part: string) => `${names.layer}.${group}.${part}`;
    return {
      // Query, key and value stacked: one matmul instead of three.
      qkv: await linear(names.qkv.map(at), (3 * H) / names.qkv.length, H),
      attnOut: await linear([at(names.attnOut)], H, H),
      attnNorm: await norm(at(names.attnNorm)),
      ffnIn: await ffnIn(at(names.ffnIn)),
      ffnOut: await linear([at(names.ffnOut)], H, I),
      ffnNorm: await norm(at(names.ffnNorm)),
      ...(qkPostNorm
        ? {
            qNorm: await norm(at('attention.self.layer_norm_q')),
            kNorm: await norm(at('attention.self.layer_norm_k')),
            preFfnNorm: await norm(at('layer_norm_1')),
          }
        : {}),
    };
  };
  return {
    layerCount,
    layer(l) {
      const group = layerGroup(config, l);
      if (config.layerGroups === undefined) return readLayer(group);
      if (shared?.group !== group) shared = { group, layer: readLayer(group) };
      return shared.layer;
    },
    async rest() {
      const V = config.vocabSize;
      if (config.gatedBert) {
        const embeddings = {
          word: `${p}${WORD_EMBEDDINGS}`,
          tokenType: `${p}embeddings.token_type_embeddings.weight`,
          norm: `${p}embeddings.LayerNorm`,
        };
        return gatedBertEmbeddings(config, source, embeddings, options);
      }
      if (config.disentangled) {
        return {
          family: 'bert',
          config,
          word: await table(source, `${p}${WORD_EMBEDDINGS}`, V, H, embeddingQuant, alloc),
          position: null,
          tokenType: null,
          embNorm: await norm(names.embNorm),
          relEmbeddings: {
            table: await source.get(`${p}encoder.rel_embeddings.weight`, [2 * config.disentangled.span, H]),
            norm: config.disentangled.relNorm ? await norm('encoder.LayerNorm') : null,
          },
        };
      }
      const relative = config.relativeAttention;
      const project = config.factorized && EMBED_PROJECT[config.modelType === 'albert' ? 'albert' : 'electra'];
      return {
        family: 'bert',
        config,
        word: await table(source, `${p}${WORD_EMBEDDINGS}`, V, W, embeddingQuant, alloc),
        position: await source.get(`${p}embeddings.position_embeddings.weight`, [config.maxPositions, W]),
        tokenType:
          names === BERT || names === FLASH || names === ALBERT
            ? await source.get(`${p}embeddings.token_type_embeddings.weight`, [config.typeVocabSize, W])
            : new Float32Array(W),
        embNorm: await norm(names.embNorm, W),
        ...(project ? { embedProject: await linear([project], H, W) } : {}),
        ...(relative
          ? {
              relativeBias: await source.get(`${p}encoder.relative_attention_bias.weight`, [relative.tableRows, config.numHeads]),
            }
          : {}),
      };
    },
  };
}
