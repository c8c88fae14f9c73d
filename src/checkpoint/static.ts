import { ModelFormatError } from '../errors.js';
import type { EncoderConfig } from '../weights/config.js';
import { STATIC_TABLE_NAMES } from '../weights/static-config.js';
import type { StaticWeights, WeightParts } from '../weights/weights.js';
import { readEmbeddingTable } from './matrix.js';
import type { HfWeightOptions } from './options.js';
import type { TensorSource } from './safetensors.js';

/**
 * Reads a static embedder's vocabulary table (see StaticWeights): one row per token, as
 * model2vec's StaticModel looks each token up (`_encode_helper`). A vocabulary-quantized model
 * keeps fewer rows, a `mapping` from each token to its row and a `weights` factor per token; an
 * int8 table (`quantize_to="int8"`) keeps its integers, which StaticModel averages as they are.
 */
export function staticReader(
  config: EncoderConfig,
  source: TensorSource,
  options: HfWeightOptions = {},
): WeightParts<StaticWeights> {
  const { embeddingQuant = 'f32', alloc } = options;
  const table = options.table ?? readEmbeddingTable;
  return {
    layerCount: 0,
    layer(l) {
      throw new RangeError(`a static embedder has no layer ${l}`);
    },
    async rest() {
      const name = STATIC_TABLE_NAMES.find((n) => source.has(n));
      if (!name)
        throw new ModelFormatError(
          `a model2vec model's weights hold its table as ${STATIC_TABLE_NAMES.join(' or ')}: neither is there`,
        );
      const rows = await tokenRows(source, name, config);
      return {
        family: 'static',
        config,
        word: await table(rows, name, config.vocabSize, config.hiddenSize, embeddingQuant, alloc),
      };
    },
  };
}

/**
 * `source` with the table `name` as one row per token: where the model has a `mapping` or
 * `weights`, a tensor of [vocabulary, width] whose row t is table[mapping[t]] * weights[t],
 * computed from the shared rows read once (they are what vocabulary quantization made small).
 */
async function tokenRows(source: TensorSource, name: string, config: EncoderConfig): Promise<TensorSource> {
  if (!source.has('mapping') && !source.has('weights')) return source;
  const { vocabSize: V, hiddenSize: D } = config;
  const shared = source.shape(name)?.[0] ?? 0;
  const table = await source.get(name, [shared, D]);
  const mapping = source.has('mapping') ? await source.get('mapping', [V]) : null;
  const weights = source.has('weights') ? await source.get('weights', [V]) : null;
  if (!mapping && shared !== V) {
    throw new ModelFormatError(`"${name}" has ${shared} rows for ${V} tokens, and no "mapping" says which row each reads`);
  }
  mapping?.forEach((m, t) => {
    if (!Number.isInteger(m) || m < 0 || m >= shared)
      throw new ModelFormatError(`"mapping" sends token ${t} to row ${m}, outside the ${shared} rows of "${name}"`);
  });
  const rowsOf = (from: number, to: number): Float32Array => {
    const out = new Float32Array((to - from) * D);
    for (let t = from; t < to; t++) {
      const r = mapping ? (mapping[t] as number) : t;
      const w = weights ? (weights[t] as number) : 1;
      for (let c = 0; c < D; c++) out[(t - from) * D + c] = (table[r * D + c] as number) * w;
    }
    return out;
  };
  const check = (shape: readonly number[]) => {
    if (shape[0] !== V || shape[1] !== D)
      throw new ModelFormatError(`"${name}" read as [${shape.join(', ')}]: its tokens make it [${V}, ${D}]`);
  };
  return {
    has: (n) => source.has(n),
    names: () => source.names(),
    shape: (n) => (n === name ? [V, D] : source.shape(n)),
    get: (n, shape) => {
      if (n !== name) return source.get(n, shape);
      check(shape);
      return rowsOf(0, V);
    },
    getRows: (n, shape, from, to) => {
      if (n !== name) return source.getRows(n, shape, from, to);
      check(shape);
      if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to <= V))
        throw new RangeError(`rows ${from}..${to} of "${name}" outside 0..${V}`);
      return rowsOf(from, to);
    },
  };
}
