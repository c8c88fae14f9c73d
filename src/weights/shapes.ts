import type { EncoderConfig } from './config.js';

/** A layer's four projections, named as the weights and packs name them. */
export type Projection = 'qkv' | 'attnOut' | 'ffnIn' | 'ffnOut';

/**
 * [rows, cols] of each projection of a layer: BERT's [3H, H], [H, H], [I, H], [H, I]; the gated
 * feed-forward input of ModernBERT, the gated BERTs and the decoders stacks 2I rows; a decoder's grouped-query QKV
 * has heads + 2 kvHeads heads of headDim rows, and its output projection reads heads x headDim.
 */
export function projectionShapes(config: EncoderConfig): Record<Projection, [number, number]> {
  const { hiddenSize: H, intermediateSize: I, numHeads, headDim: D, decoder } = config;
  const gated = config.modern !== undefined || (config.gatedBert?.gate ?? null) !== null || decoder !== undefined;
  const q = decoder ? numHeads * D : H;
  const kv = decoder ? decoder.numKvHeads * D : H;
  return { qkv: [q + 2 * kv, H], attnOut: [H, q], ffnIn: [gated ? 2 * I : I, H], ffnOut: [H, I] };
}
