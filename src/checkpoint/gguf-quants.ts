import { f16BitsToF32 } from '../weights/f16.js';

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
  /** Decodes `count` values (whole blocks) from `src` into out[0 .. count). */
  run(src: Uint8Array, count: number, out: Float32Array): void;
}

const viewOf = (src: Uint8Array) => new DataView(src.buffer, src.byteOffset, src.byteLength);

/** Every half-precision bit pattern's value: a 256 KiB table beats decoding each of a large table's values. */
let halves: Float32Array | null = null;
function f16Run(src: Uint8Array, count: number, out: Float32Array): void {
  if (!halves) {
    halves = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halves[h] = f16BitsToF32(h);
  }
  const table = halves;
  for (let i = 0, b = 0; i < count; i++, b += 2) out[i] = table[(src[b] as number) | ((src[b + 1] as number) << 8)] as number;
}

/** bfloat16 is float32's upper half: the bits are shifted into place (typed arrays share the platform's byte order). */
function bf16Run(src: Uint8Array, count: number, out: Float32Array): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, count);
  for (let i = 0, b = 0; i < count; i++, b += 2) bits[i] = ((src[b] as number) | ((src[b + 1] as number) << 8)) << 16;
}

function f32Run(src: Uint8Array, count: number, out: Float32Array): void {
  const view = viewOf(src);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
}

const f16 = (v: DataView, at: number) => f16BitsToF32(v.getUint16(at, true));

/** Q4_K / Q5_K: the 6-bit scale and min of sub-block j, packed in the block's 12 scale bytes. */
function scaleMin(v: DataView, scales: number, j: number): [number, number] {
  if (j < 4) return [v.getUint8(scales + j) & 63, v.getUint8(scales + j + 4) & 63];
  const hi = v.getUint8(scales + j + 4);
  return [(hi & 0xf) | ((v.getUint8(scales + j - 4) >> 6) << 4), (hi >> 4) | ((v.getUint8(scales + j) >> 6) << 4)];
}

/**
 * Q4_0 / Q5_0 (`high`: 32 fifth bits, bit j for value j), a scale per 32 values centred on zero;
 * Q4_1 / Q5_1 (`affine`): a scale and a minimum.
 */
function legacy32(src: Uint8Array, count: number, out: Float32Array, high: boolean, affine: boolean): void {
  const v = viewOf(src);
  const bytes = 18 + (high ? 4 : 0) + (affine ? 2 : 0);
  const zero = affine ? 0 : high ? 16 : 8;
  for (let at = 0, o = 0; o < count; at += bytes, o += 32) {
    const d = f16(v, at);
    const m = affine ? f16(v, at + 2) : 0;
    const bits = at + (affine ? 4 : 2);
    const qh = high ? v.getUint32(bits, true) : 0;
    const qs = bits + (high ? 4 : 0);
    for (let j = 0; j < 16; j++) {
      const q = v.getUint8(qs + j);
      out[o + j] = (((q & 0xf) | (((qh >>> j) & 1) << 4)) - zero) * d + m;
      out[o + j + 16] = (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - zero) * d + m;
    }
  }
}

function q8Run(src: Uint8Array, count: number, out: Float32Array): void {
  const v = viewOf(src);
  for (let at = 0, o = 0; o < count; at += 34, o += 32) {
    const d = f16(v, at);
    for (let j = 0; j < 32; j++) out[o + j] = d * v.getInt8(at + 2 + j);
  }
}

/** Q4_K and Q5_K (`high`: 32 bytes of fifth bits before the nibbles): 256 values in 8 sub-blocks of 32. */
function kRun(src: Uint8Array, count: number, out: Float32Array, high: boolean): void {
  const v = viewOf(src);
  for (let at = 0, o = 0; o < count; at += high ? 176 : 144, o += 256) {
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
}

/** Q6_K: 256 values, 4 low bits in ql, 2 high bits in qh, a signed 8-bit scale per 16 values. */
function q6KRun(src: Uint8Array, count: number, out: Float32Array): void {
  const v = viewOf(src);
  for (let at = 0, o = 0; o < count; at += 210, o += 256) {
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
}

/**
 * Q2_K and Q3_K: 256 values in 16 sub-blocks of 16, 2 low bits each in 64 bytes (byte 32n + l holds
 * value 128n + 32j + l at bits 2j). Q2_K (84 bytes: 16 scale bytes, the bits, d, dmin): a 4-bit
 * scale and min per sub-block, x = d sc q - dmin m. Q3_K (110 bytes: 32 bytes of third bits, the
 * bits, 12 scale bytes, d): a 6-bit scale per sub-block, x = d (sc - 32) (q - 4 where its third
 * bit is clear).
 */
function q2q3Run(src: Uint8Array, count: number, out: Float32Array, three: boolean): void {
  const v = viewOf(src);
  const bytes = three ? 110 : 84;
  const scale = new Float32Array(16);
  const min = new Float32Array(16);
  for (let at = 0, o = 0; o < count; at += bytes, o += 256) {
    const qs = three ? at + 32 : at + 16;
    if (three) {
      const d = f16(v, at + 108);
      const sc = at + 96;
      for (let s = 0; s < 16; s++) {
        const b = v.getUint8(sc + (s % 8));
        const low = s < 8 ? b & 15 : b >> 4;
        const top = (v.getUint8(sc + 8 + (s % 4)) >> (2 * (s >> 2))) & 3;
        scale[s] = d * ((low | (top << 4)) - 32);
      }
    } else {
      const d = f16(v, at + 80);
      const dmin = f16(v, at + 82);
      for (let s = 0; s < 16; s++) {
        const b = v.getUint8(at + s);
        scale[s] = d * (b & 15);
        min[s] = dmin * (b >> 4);
      }
    }
    for (let e = 0; e < 256; e++) {
      const n = e >> 7;
      const j = (e >> 5) & 3;
      const l = e & 31;
      let q = (v.getUint8(qs + 32 * n + l) >> (2 * j)) & 3;
      if (three && !((v.getUint8(at + l) >> (4 * n + j)) & 1)) q -= 4;
      out[o + e] = (scale[e >> 4] as number) * q - (three ? 0 : (min[e >> 4] as number));
    }
  }
}

/** IQ4_NL and IQ4_XS's non-linear grid (ggml-common.h kvalues_iq4nl): a 4-bit code indexes it. */
const IQ4_GRID = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/** IQ4_NL: 32 values, x = d grid[q]; low nibbles the first 16, high nibbles the next. */
function iq4NlRun(src: Uint8Array, count: number, out: Float32Array): void {
  const v = viewOf(src);
  for (let at = 0, o = 0; o < count; at += 18, o += 32) {
    const d = f16(v, at);
    for (let j = 0; j < 16; j++) {
      const q = v.getUint8(at + 2 + j);
      out[o + j] = d * (IQ4_GRID[q & 15] as number);
      out[o + j + 16] = d * (IQ4_GRID[q >> 4] as number);
    }
  }
}

/** IQ4_XS: 256 values in 8 sub-blocks of 32 as IQ4_NL's, each with a 6-bit scale (4 low bits in scales_l, 2 in scales_h). */
function iq4XsRun(src: Uint8Array, count: number, out: Float32Array): void {
  const v = viewOf(src);
  for (let at = 0, o = 0; o < count; at += 136, o += 256) {
    const d = f16(v, at);
    const high = v.getUint16(at + 2, true);
    for (let ib = 0; ib < 8; ib++) {
      const ls = ((v.getUint8(at + 4 + (ib >> 1)) >> (4 * (ib & 1))) & 15) | (((high >> (2 * ib)) & 3) << 4);
      const dl = d * (ls - 32);
      const qs = at + 8 + 16 * ib;
      for (let j = 0; j < 16; j++) {
        const q = v.getUint8(qs + j);
        out[o + 32 * ib + j] = dl * (IQ4_GRID[q & 15] as number);
        out[o + 32 * ib + j + 16] = dl * (IQ4_GRID[q >> 4] as number);
      }
    }
  }
}

export const GGML_TYPES: Readonly<Record<number, GgmlType>> = {
  0: { name: 'F32', block: 1, bytes: 4, run: f32Run },
  1: { name: 'F16', block: 1, bytes: 2, run: f16Run },
  30: { name: 'BF16', block: 1, bytes: 2, run: bf16Run },
  2: { name: 'Q4_0', block: 32, bytes: 18, run: (src, n, out) => legacy32(src, n, out, false, false) },
  3: { name: 'Q4_1', block: 32, bytes: 20, run: (src, n, out) => legacy32(src, n, out, false, true) },
  6: { name: 'Q5_0', block: 32, bytes: 22, run: (src, n, out) => legacy32(src, n, out, true, false) },
  7: { name: 'Q5_1', block: 32, bytes: 24, run: (src, n, out) => legacy32(src, n, out, true, true) },
  8: { name: 'Q8_0', block: 32, bytes: 34, run: q8Run },
  12: { name: 'Q4_K', block: 256, bytes: 144, run: (src, n, out) => kRun(src, n, out, false) },
  13: { name: 'Q5_K', block: 256, bytes: 176, run: (src, n, out) => kRun(src, n, out, true) },
  14: { name: 'Q6_K', block: 256, bytes: 210, run: q6KRun },
  10: { name: 'Q2_K', block: 256, bytes: 84, run: (src, n, out) => q2q3Run(src, n, out, false) },
  11: { name: 'Q3_K', block: 256, bytes: 110, run: (src, n, out) => q2q3Run(src, n, out, true) },
  20: { name: 'IQ4_NL', block: 32, bytes: 18, run: iq4NlRun },
  23: { name: 'IQ4_XS', block: 256, bytes: 136, run: iq4XsRun },
};

/** Names of the ggml types m3web does not decode (the grid-coded IQ types below 4 bits, the ternary ones), for messages. */
export const OTHER_GGML_TYPES: Readonly<Record<number, string>> = {
  9: 'Q8_1',
  15: 'Q8_K',
  16: 'IQ2_XXS',
  17: 'IQ2_XS',
  18: 'IQ3_XXS',
  19: 'IQ1_S',
  21: 'IQ3_S',
  22: 'IQ2_S',
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
