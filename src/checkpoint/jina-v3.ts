import { ModelFormatError } from '../errors.js';
import type { EncoderConfig, LoraSpec } from '../weights/config.js';
import type { Projection } from '../weights/shapes.js';
import type { BertLayer, BertWeights, EmbeddingAdapters, LoraPair, WeightParts } from '../weights/weights.js';
import { gatedBertEmbeddings } from './gated-embeddings.js';
import { readBiasedLinear, readLayerNorm } from './matrix.js';
import type { HfWeightOptions } from './options.js';
import { tensorPrefix } from './prefix.js';
import type { TensorSource } from './safetensors.js';

/**
 * torch.nn.utils.parametrize saves a parametrized weight as `parametrizations.weight.original`
 * and the parametrization's tensors (modeling_lora.py's LoRAParametrization) beside it.
 */
const ORIGINAL = 'parametrizations.weight.original';
const LORA = 'parametrizations.weight.0.lora_';

/**
 * Reads a jina-embeddings-v3 checkpoint (xlm-roberta-flash-implementation's names, `roberta.` in
 * front: embeddings.{word_embeddings, token_type_embeddings}, emb_ln, encoder.layers.{l}.{mixer.Wqkv,
 * mixer.out_proj, norm1, mlp.fc1, mlp.fc2, norm2}) into BERT's layer shapes, a layer at a time,
 * quantizing as it goes. Every Linear and Embedding carries its task adapters (config.lora): the
 * base weight is read as any other, the adapters in f32 beside it, B times the scale.
 */
export function jinaV3Reader(
  config: EncoderConfig,
  source: TensorSource,
  options: HfWeightOptions = {},
): WeightParts<BertWeights> {
  const { quant = 'f32', layers: layerCount = config.numLayers, alloc } = options;
  const p = tensorPrefix(source, 'emb_ln.weight', 'jina-embeddings-v3');
  const { hiddenSize: H, intermediateSize: I, lora } = config;
  // Without adapters (a config without lora_adaptations) the weights are saved unparametrized.
  const weightOf = (module: string) => (source.has(`${p}${module}.${ORIGINAL}`) ? `${module}.${ORIGINAL}` : `${module}.weight`);
  const linear = (module: string, rows: number, cols: number) =>
    readBiasedLinear(source, [{ name: `${p}${weightOf(module)}`, rows, bias: `${p}${module}.bias` }], cols, quant, alloc);
  const adapters = (module: string, downShape: number[], upShape: number[]) =>
    readAdapters(source, `${p}${module}.${LORA}`, lora as LoraSpec, downShape, upShape);
  const MODULES: Record<Projection, [string, number, number]> = {
    qkv: ['mixer.Wqkv', 3 * H, H],
    attnOut: ['mixer.out_proj', H, H],
    ffnIn: ['mlp.fc1', I, H],
    ffnOut: ['mlp.fc2', H, I],
  };
  return {
    layerCount,
    async layer(l) {
      const at = (part: string) => `encoder.layers.${l}.${part}`;
      const read = (k: Projection) => {
        const [module, rows, cols] = MODULES[k];
        return linear(at(module), rows, cols);
      };
      const layer: BertLayer = {
        qkv: await read('qkv'),
        attnOut: await read('attnOut'),
        attnNorm: await readLayerNorm(source, `${p}${at('norm1')}`, H),
        ffnIn: await read('ffnIn'),
        ffnOut: await read('ffnOut'),
        ffnNorm: await readLayerNorm(source, `${p}${at('norm2')}`, H),
      };
      if (!lora) return layer;
      const [T, r] = [lora.tasks.length, lora.rank];
      const pairs = {} as Record<Projection, LoraPair>;
      for (const [k, [module, rows, cols]] of Object.entries(MODULES) as [Projection, [string, number, number]][]) {
        pairs[k] = await adapters(at(module), [T, r, cols], [T, rows, r]);
      }
      return { ...layer, adapters: pairs };
    },
    async rest() {
      const word = `${p}${weightOf('embeddings.word_embeddings')}`;
      const tokenType = `${p}${weightOf('embeddings.token_type_embeddings')}`;
      const rest = await gatedBertEmbeddings(config, source, { word, tokenType, norm: `${p}emb_ln` }, options);
      if (!lora) return rest;
      const [T, r, V] = [lora.tasks.length, lora.rank, config.vocabSize];
      const words = await adapters('embeddings.word_embeddings', [T, V, r], [T, r, H]);
      const types = await adapters('embeddings.token_type_embeddings', [T, config.typeVocabSize, r], [T, r, H]);
      // Token type 0's row gains down[t][0] . up[t] under task t: one vector per task.
      const typeRows = new Float32Array(T * H);
      for (let t = 0; t < T; t++) {
        for (let k = 0; k < r; k++) {
          const a = types.down[t * config.typeVocabSize * r + k] as number;
          for (let c = 0; c < H; c++)
            typeRows[t * H + c] = (typeRows[t * H + c] as number) + a * (types.up[(t * r + k) * H + c] as number);
        }
      }
      const embeddings: EmbeddingAdapters = { down: words.down, up: words.up, tokenType: typeRows };
      return { ...rest, adapters: embeddings };
    },
  };
}

/** A module's lora_A and lora_B at the shapes the config implies, B (the `up` side) times the scale. */
async function readAdapters(
  source: TensorSource,
  name: string,
  lora: LoraSpec,
  downShape: number[],
  upShape: number[],
): Promise<LoraPair> {
  for (const side of ['A', 'B']) {
    if (!source.has(`${name}${side}`)) {
      throw new ModelFormatError(
        `the checkpoint has no "${name}${side}": its config.json names task adapters (lora_adaptations) the weights lack`,
      );
    }
  }
  const down = await source.get(`${name}A`, downShape);
  const up = Float32Array.from(await source.get(`${name}B`, upShape), (v) => v * lora.scale);
  return { down, up };
}
