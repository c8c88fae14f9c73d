import { type EncoderConfig, readsSegmentTypes } from '../weights/config.js';
import type { BertWeights } from '../weights/weights.js';
import { readEmbeddingTable, readLayerNorm } from './matrix.js';
import type { HfWeightOptions } from './options.js';
import type { TensorSource } from './safetensors.js';

/** The source with `row` added to every row of tensor `name` (a fresh copy: sources may hand out shared memory). */
function withRowAdded(source: TensorSource, name: string, row: Float32Array): TensorSource {
  const add = (values: Float32Array) => {
    const out = Float32Array.from(values);
    for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + (row[i % row.length] as number);
    return out;
  };
  return {
    has: (n) => source.has(n),
    names: () => source.names(),
    shape: (n) => source.shape(n),
    get: async (n, shape) => (n === name ? add(await source.get(n, shape)) : source.get(n, shape)),
    getRows: async (n, shape, from, to) =>
      n === name ? add(await source.getRows(n, shape, from, to)) : source.getRows(n, shape, from, to),
  };
}

/**
 * The embedding part of GTE, NomicBERT and JinaBERT (full tensor names in `names`): no position
 * table, and token type 0's row, which all three add to every word row before the embedding norm,
 * added once into the vocabulary table before it is quantized, so the forward has nothing to add.
 * A cross-encoder with segment types keeps the type table too: its second segment adds the
 * difference of its row from row 0 (model/word-rows.ts).
 */
export async function gatedBertEmbeddings(
  config: EncoderConfig,
  source: TensorSource,
  names: { word: string; tokenType: string; norm: string },
  options: HfWeightOptions,
): Promise<Omit<BertWeights, 'layers'>> {
  const { embeddingQuant = 'f32', alloc } = options;
  const table = options.table ?? readEmbeddingTable;
  const H = config.hiddenSize;
  const types = config.typeVocabSize > 0 ? await source.get(names.tokenType, [config.typeVocabSize, H]) : null;
  const words = types ? withRowAdded(source, names.word, types.slice(0, H)) : source;
  return {
    family: 'bert',
    config,
    word: await table(words, names.word, config.vocabSize, H, embeddingQuant, alloc),
    position: null,
    tokenType: readsSegmentTypes(config) ? types : null,
    embNorm: await readLayerNorm(source, names.norm, H),
  };
}
