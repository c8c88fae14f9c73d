import type { EncoderConfig } from '../weights/config.js';
import { readLayerNorm } from './matrix.js';
import type { TensorSource } from './safetensors.js';

/**
 * DeBERTa's relative-position embeddings (`{prefix}encoder.rel_embeddings`, [2 span, H]) as every
 * layer reads them: through `encoder.LayerNorm` where norm_rel_ebd says so. They are constants of
 * the model, so the norm is applied once here and packs store the normed table.
 */
export async function readRelEmbeddings(config: EncoderConfig, source: TensorSource, prefix: string): Promise<Float32Array> {
  const spec = config.disentangled;
  if (!spec) throw new Error('not a DeBERTa config');
  const H = config.hiddenSize;
  const table = Float32Array.from(await source.get(`${prefix}encoder.rel_embeddings.weight`, [2 * spec.span, H]));
  if (!spec.relNorm) return table;
  const { gamma, beta } = await readLayerNorm(source, `${prefix}encoder.LayerNorm`, H);
  for (let o = 0; o < table.length; o += H) {
    let mean = 0;
    for (let c = 0; c < H; c++) mean += table[o + c] as number;
    mean /= H;
    let variance = 0;
    for (let c = 0; c < H; c++) variance += ((table[o + c] as number) - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / H + config.layerNormEps);
    for (let c = 0; c < H; c++)
      table[o + c] = ((table[o + c] as number) - mean) * inv * (gamma[c] as number) + (beta[c] as number);
  }
  return table;
}
