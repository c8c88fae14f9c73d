import type { VectorType } from './types.js';

/**
 * Stored rows are whole 16-byte blocks, so a kernel reads a row with vec4 loads: 4 f32 dims,
 * 16 int8 dims or 128 sign bits per block.
 */
export const BLOCK_WORDS = 4;
const DIMS_PER_WORD: Record<VectorType, number> = { f32: 1, int8: 4, binary: 32 };

export interface Codec {
  readonly type: VectorType;
  /** Stored width. */
  readonly dims: number;
  readonly dimsPerBlock: number;
  /** 16-byte blocks per stored row. */
  readonly blocks: number;
  readonly rowWords: number;
  /** u32 words of an encoded query: f32 values (f32, int8) or sign bits (binary). */
  readonly queryWords: number;
  /** Blocks a kernel reads to score the first `width` dims. */
  blocksFor(width: number): number;
}

export function codec(type: VectorType, dims: number): Codec {
  const dimsPerBlock = DIMS_PER_WORD[type] * BLOCK_WORDS;
  const blocks = Math.ceil(dims / dimsPerBlock);
  return {
    type,
    dims,
    dimsPerBlock,
    blocks,
    rowWords: blocks * BLOCK_WORDS,
    queryWords: type === 'binary' ? blocks * BLOCK_WORDS : blocks * dimsPerBlock,
    blocksFor: (width) => Math.ceil(width / dimsPerBlock),
  };
}

function l2(v: Float32Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += (v[i] as number) ** 2;
  return Math.sqrt(s);
}

function packSigns(v: Float32Array, n: number, out: Uint32Array): void {
  out.fill(0);
  for (let i = 0; i < n; i++) if ((v[i] as number) > 0) out[i >>> 5] = (out[i >>> 5] as number) | (1 << (i & 31));
}

/**
 * Encodes the first `c.dims` values of `v` into `out` (c.rowWords words, row-major) and returns
 * the row's scale: the int8 step (127 steps span the largest magnitude), 1 for f32 and binary.
 * f32 and int8 rows are stored L2-normalised, so full-width scores are cosines.
 */
export function encodeRow(c: Codec, v: Float32Array, out: Uint32Array): number {
  if (c.type === 'binary') {
    packSigns(v, c.dims, out);
    return 1;
  }
  const inv = 1 / Math.max(l2(v, c.dims), 1e-30);
  if (c.type === 'f32') {
    const f = new Float32Array(out.buffer, out.byteOffset, c.rowWords);
    f.fill(0);
    for (let i = 0; i < c.dims; i++) f[i] = (v[i] as number) * inv;
    return 1;
  }
  let max = 0;
  for (let i = 0; i < c.dims; i++) max = Math.max(max, Math.abs((v[i] as number) * inv));
  const scale = max > 0 ? max / 127 : 1;
  out.fill(0);
  for (let i = 0; i < c.dims; i++) {
    const q = Math.max(-127, Math.min(127, Math.round(((v[i] as number) * inv) / scale)));
    // Dim i is byte i % 4 of word i / 4, low byte first: how WGSL reads a little-endian u32.
    out[i >>> 2] = (out[i >>> 2] as number) | ((q & 0xff) << ((i & 3) * 8));
  }
  return scale;
}

/** The stored (normalised, for int8 dequantised) values of an f32 or int8 row: what a coarse copy is derived from. */
export function decodeRow(c: Codec, words: Uint32Array, scale: number): Float32Array {
  if (c.type === 'f32') return new Float32Array(words.buffer, words.byteOffset, c.dims).slice();
  if (c.type === 'int8')
    return Float32Array.from({ length: c.dims }, (_, i) => int8Lane(words[i >>> 2] as number, i & 3) * scale);
  throw new RangeError('binary rows keep only signs');
}

/** The query as the kernels read it: zero past `width`, so a prefix score ignores the rest. */
export function encodeQuery(c: Codec, v: Float32Array, width: number): Uint32Array {
  const out = new Uint32Array(c.queryWords);
  if (c.type === 'binary') packSigns(v, width, out);
  else new Float32Array(out.buffer).set(v.subarray(0, width));
  return out;
}

/** Signed value of int8 dim `lane` (0..3) of a packed word. */
export function int8Lane(word: number, lane: number): number {
  return (word << (24 - lane * 8)) >> 24;
}

export function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) as number;
}
