import { bf16BitsToF32, f16BitsToF32 } from '../weights/f16.js';

/**
 * ggml's tensor storage types that m3web reads, by their GGUF type id: how many values a block
 * holds, its size in bytes, and how to decode one block. The layouts are ggml's block structs
 * (ggml-common.h) as its reference dequantizers read them (ggml-quants.c); everything is
 * little-endian.
 */
export interface GgmlType {
  name: string;
  /** Values per block. */
  block: number;
  /** Bytes per block. */
  bytes: number;
  /** Decodes the block at `at` of `src` into out[o .. o + block). */
  decode(src: DataView, at: number, out: Float32Array, o: number): void;
}

const f16 = (v: DataView, at: number) => f16BitsToF32(v.getUint16(at, true));

/** Q4_K / Q5_K: the 6-bit scale and min of sub-block j, packed in the block's 12 scale bytes. */
function scaleMin(v: DataView, scales: number, j: number): [number, number] {
  if (j < 4) return [v.getUint8(scales + j) & 63, v.getUint8(scales + j + 4) & 63];
  const hi = v.getUint8(scales + j + 4);
  return [(hi & 0xf) | ((v.getUint8(scales + j - 4) >> 6) << 4), (hi >> 4) | ((v.getUint8(scales + j) >> 6) << 4)];
}

/** Q4_0 and Q5_0 (`high`: 32 fifth bits, bit j for value j): a scale per 32 values centred on zero. */
function symmetric32(v: DataView, at: number, out: Float32Array, o: number, high: boolean): void {
  const d = f16(v, at);
  const qh = high ? v.getUint32(at + 2, true) : 0;
  const qs = at + (high ? 6 : 2);
  const zero = high ? 16 : 8;
  for (let j = 0; j < 16; j++) {
    const q = v.getUint8(qs + j);
    out[o + j] = (((q & 0xf) | (((qh >>> j) & 1) << 4)) - zero) * d;
    out[o + j + 16] = (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - zero) * d;
  }
}

/** Q4_1 and Q5_1: a scale and a minimum per 32 values. */
function affine32(v: DataView, at: number, out: Float32Array, o: number, high: boolean): void {
  const d = f16(v, at);
  const m = f16(v, at + 2);
  const qh = high ? v.getUint32(at + 4, true) : 0;
  const qs = at + (high ? 8 : 4);
  for (let j = 0; j < 16; j++) {
    const q = v.getUint8(qs + j);
    out[o + j] = ((q & 0xf) | (((qh >>> j) & 1) << 4)) * d + m;
    out[o + j + 16] = ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d + m;
  }
}

/** Q4_K and Q5_K (`high`: 32 bytes of fifth bits before the nibbles): 256 values in 8 sub-blocks of 32. */
function kQuant(v: DataView, at: number, out: Float32Array, o: number, high: boolean): void {
  const d = f16(v, at);
  const dmin = f16(v, at + 2);
  const scales = at + 4;
  const qh = at + 16;
  let ql = high ? at + 48 : at + 16;
  for (let j = 0, is = 0; j < 256; j += 64, is += 2, ql += 32) {
    const [s1, m1] = scaleMin(v, scales, is);
    const [s2, m2] = scaleMin(v, scales, is + 1);
    const lowBit = 1 << is;
    const highBit = 2 << is;
    for (let l = 0; l < 32; l++) {
      const q = v.getUint8(ql + l);
      const h = high ? v.getUint8(qh + l) : 0;
      out[o + j + l] = d * s1 * ((q & 0xf) + (h & lowBit ? 16 : 0)) - dmin * m1;
      out[o + j + 32 + l] = d * s2 * ((q >> 4) + (h & highBit ? 16 : 0)) - dmin * m2;
    }
  }
}

/** Q6_K: 256 values, 4 low bits in ql, 2 high bits in qh, a signed 8-bit scale per 16 values. */
function q6K(v: DataView, at: number, out: Float32Array, o: number): void {
  const d = f16(v, at + 208);
  for (let n = 0; n < 2; n++) {
    const ql = at + 64 * n;
    const qh = at + 128 + 32 * n;
    const sc = at + 192 + 8 * n;
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const a = v.getUint8(ql + l);
      const b = v.getUint8(ql + l + 32);
      const h = v.getUint8(qh + l);
      const y = o + 128 * n + l;
      out[y] = d * v.getInt8(sc + is) * (((a & 0xf) | ((h & 3) << 4)) - 32);
      out[y + 32] = d * v.getInt8(sc + is + 2) * (((b & 0xf) | (((h >> 2) & 3) << 4)) - 32);
      out[y + 64] = d * v.getInt8(sc + is + 4) * (((a >> 4) | (((h >> 4) & 3) << 4)) - 32);
      out[y + 96] = d * v.getInt8(sc + is + 6) * (((b >> 4) | (((h >> 6) & 3) << 4)) - 32);
    }
  }
}

export const GGML_TYPES: Readonly<Record<number, GgmlType>> = {
  0: {
    name: 'F32',
    block: 1,
    bytes: 4,
    decode: (v, at, out, o) => {
      out[o] = v.getFloat32(at, true);
    },
  },
  1: {
    name: 'F16',
    block: 1,
    bytes: 2,
    decode: (v, at, out, o) => {
      out[o] = f16(v, at);
    },
  },
  30: {
    name: 'BF16',
    block: 1,
    bytes: 2,
    decode: (v, at, out, o) => {
      out[o] = bf16BitsToF32(v.getUint16(at, true));
    },
  },
  2: { name: 'Q4_0', block: 32, bytes: 18, decode: (v, at, out, o) => symmetric32(v, at, out, o, false) },
  3: { name: 'Q4_1', block: 32, bytes: 20, decode: (v, at, out, o) => affine32(v, at, out, o, false) },
  6: { name: 'Q5_0', block: 32, bytes: 22, decode: (v, at, out, o) => symmetric32(v, at, out, o, true) },
  7: { name: 'Q5_1', block: 32, bytes: 24, decode: (v, at, out, o) => affine32(v, at, out, o, true) },
  8: {
    name: 'Q8_0',
    block: 32,
    bytes: 34,
    decode: (v, at, out, o) => {
      const d = f16(v, at);
      for (let j = 0; j < 32; j++) out[o + j] = d * v.getInt8(at + 2 + j);
    },
  },
  12: { name: 'Q4_K', block: 256, bytes: 144, decode: (v, at, out, o) => kQuant(v, at, out, o, false) },
  13: { name: 'Q5_K', block: 256, bytes: 176, decode: (v, at, out, o) => kQuant(v, at, out, o, true) },
  14: { name: 'Q6_K', block: 256, bytes: 210, decode: q6K },
};

/** Names of the ggml types m3web does not decode (the 2- and 3-bit K-quants, the IQ and ternary types), for messages. */
export const OTHER_GGML_TYPES: Readonly<Record<number, string>> = {
  9: 'Q8_1',
  10: 'Q2_K',
  11: 'Q3_K',
  15: 'Q8_K',
  16: 'IQ2_XXS',
  17: 'IQ2_XS',
  18: 'IQ3_XXS',
  19: 'IQ1_S',
  20: 'IQ4_NL',
  21: 'IQ3_S',
  22: 'IQ2_S',
  23: 'IQ4_XS',
  24: 'I8',
  25: 'I16',
  26: 'I32',
  27: 'I64',
  28: 'F64',
  29: 'IQ1_M',
  34: 'TQ1_0',
  35: 'TQ2_0',
  39: 'MXFP4',
};

/** Decodes `count` values (whole blocks) of type `type` from `bytes` into `out` from index 0. */
export function decodeBlocks(type: GgmlType, bytes: Uint8Array, count: number, out: Float32Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0, o = 0; o < count; b += type.bytes, o += type.block) type.decode(view, b, out, o);
}
