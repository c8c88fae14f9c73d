import type { EncoderConfig } from './config.js';

/** A layer's four projections, named as the weights and packs name them. */
export type Projection = 'qkv' | 'attnOut' | 'ffnIn' | 'ffnOut';

/** Whether layer `l` (0-based) has a mixture of experts for its feed-forward (config.moe). */
export const isMoeLayer = (config: Pick<EncoderConfig, 'moe'>, l: number): boolean =>
  config.moe !== undefined && l % config.moe.everyN === 1;

/**
 * [rows, cols] of each projection of layer `l`: BERT's [3H, H], [H, H], [I, H], [H, I]; the gated
 * feed-forward input of ModernBERT, the gated BERTs and the gated decoders stacks 2I rows; a decoder's grouped-query QKV
 * has heads + 2 kvHeads heads of headDim rows, and its output projection reads heads x headDim; a
 * mixture of experts stacks its E experts' projections by rows, [E I, H] and [E H, I].
 */
export function projectionShapes(config: EncoderConfig, l = 0): Record<Projection, [number, number]> {
  const { hiddenSize: H, intermediateSize: I, numHeads, headDim: D, decoder, moe } = config;
  const gated = config.modern !== undefined || (config.gatedBert?.gate ?? null) !== null || decoder?.gated === true;
  const q = decoder ? numHeads * D : H;
  const kv = decoder ? decoder.numKvHeads * D : H;
  const E = moe && isMoeLayer(config, l) ? moe.experts : 1;
  return { qkv: [q + 2 * kv, H], attnOut: [H, q], ffnIn: [E * (gated ? 2 * I : I), H], ffnOut: [E * H, I] };
}

/** Width of the embedding tables and their norm: the hidden size, or a factorized model's narrower width. */
export const embeddingWidth = (config: Pick<EncoderConfig, 'hiddenSize' | 'factorized'>): number =>
  config.factorized?.width ?? config.hiddenSize;

/** The group whose weights layer `l` runs (ALBERT: trunc(l / (layers / groups)), as AlbertTransformer picks it); l where layers share none. */
export function layerGroup(config: Pick<EncoderConfig, 'numLayers' | 'layerGroups'>, l: number): number {
  const groups = config.layerGroups;
  return groups === undefined ? l : Math.trunc(l / (config.numLayers / groups));
}

/** The first layer running layer `l`'s weights: packs store a group's weights once, under it. */
export function groupStart(config: Pick<EncoderConfig, 'numLayers' | 'layerGroups'>, l: number): number {
  let first = l;
  while (first > 0 && layerGroup(config, first - 1) === layerGroup(config, l)) first--;
  return first;
}
