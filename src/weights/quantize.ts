import { f16BitsToF32, f32ToF16Bits } from './f16.js';
import { type Linear, Q4_GROUP, type Quant } from './weights.js';

const pad4 = (n: number) => Math.ceil(n / 4) * 4;

const q4RowBytes = (cols: number) => (Math.ceil(cols / Q4_GROUP) * Q4_GROUP) / 2;

/** Bytes of [rows, cols] weights stored as `quant`, not padded: row r of a matrix starts at rowBytes(quant, r, cols). */
const rowBytes = (quant: Quant, rows: number, cols: number) =>
  rows * (quant === 'q4' ? q4RowBytes(cols) : cols * { f32: 4, f16: 2, q8: 1 }[quant]);

/** Bytes a [rows, cols] matrix takes in `quant`, padded to whole u32 words as the GPU reads it. */
export const matrixBytes = (quant: Quant, rows: number, cols: number): number => pad4(rowBytes(quant, rows, cols));

/** Number of f32 scales a quantized [rows, cols] matrix carries (0 for f32 / f16). */
export function scaleCount(quant: Quant, rows: number, cols: number): number {
  if (quant === 'q8') return rows;
  if (quant === 'q4') return rows * Math.ceil(cols / Q4_GROUP);
  return 0;
}

/** Where row `r` of a quantized [*, cols] matrix starts: in its data bytes, and in its scales. */
export const rowStart = (quant: Quant, cols: number, r: number) => ({
  byte: rowBytes(quant, r, cols),
  scale: scaleCount(quant, r, cols),
});

/** Where a Linear's storage comes from: `bytes` zeroed bytes, starting on a 4-byte boundary. */
export type Alloc = (bytes: number) => Uint8Array;

const fresh: Alloc = (bytes) => new Uint8Array(bytes);

/** A [rows, cols] Linear with zeroed storage for its weights (and scales), to be filled by quantizeRows. */
export function emptyLinear(quant: Quant, rows: number, cols: number, bias: Float32Array, alloc = fresh): Linear {
  const data = alloc(matrixBytes(quant, rows, cols));
  const count = scaleCount(quant, rows, cols);
  if (count === 0) return { quant, rows, cols, data, bias };
  const scales = alloc(count * 4);
  return { quant, rows, cols, data, scales: new Float32Array(scales.buffer, scales.byteOffset, count), bias };
}

/** Quantizes a row-major [rows, cols] f32 matrix. q8 is per output row; q4 per group of 32. */
export function quantizeLinear(w: Float32Array, rows: number, cols: number, bias: Float32Array, quant: Quant): Linear {
  if (w.length !== rows * cols) throw new RangeError(`weight has ${w.length} values, expected ${rows}x${cols}`);
  const linear = emptyLinear(quant, rows, cols, bias);
  quantizeRows(w, cols, quant, linear.data, linear.scales);
  return linear;
}

/**
 * Quantizes whole rows of a [*, cols] f32 matrix into `data` and `scales`, the regions of those
 * rows in the quantized matrix (see rowStart). Every scale depends on its own row only, so a
 * matrix quantized a block of rows at a time is byte for byte the matrix quantized whole.
 */
export function quantizeRows(w: Float32Array, cols: number, quant: Quant, data: Uint8Array, scales?: Float32Array): void {
  const rows = cols === 0 ? 0 : w.length / cols;
  switch (quant) {
    case 'f32':
      data.set(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
      return;
    case 'f16': {
      const bits = new Uint16Array(data.buffer, data.byteOffset, w.length);
      for (let i = 0; i < w.length; i++) bits[i] = f32ToF16Bits(w[i] as number);
      return;
    }
    case 'q8':
      quantizeQ8(w, rows, cols, new Int8Array(data.buffer, data.byteOffset, rows * cols), requireOut(scales));
      return;
    case 'q4':
      quantizeQ4(w, rows, cols, data, requireOut(scales));
      return;
  }
}

function requireOut(scales: Float32Array | undefined): Float32Array {
  if (!scales) throw new RangeError('q8 and q4 rows need somewhere to put their scales');
  return scales;
}

function quantizeQ8(w: Float32Array, rows: number, cols: number, q: Int8Array, scales: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    let absMax = 0;
    for (let c = 0; c < cols; c++) absMax = Math.max(absMax, Math.abs(w[r * cols + c] as number));
    const scale = absMax / 127 || 1;
    scales[r] = scale;
    for (let c = 0; c < cols; c++) q[r * cols + c] = Math.round((w[r * cols + c] as number) / scale);
  }
}

/**
 * Symmetric int4 in groups of Q4_GROUP: nibble n encodes (n - 8) * scale. The scale of each group
 * is searched for the least squared error instead of taken from the largest weight: clipping the
 * rare outlier buys finer steps for the other 31 weights, which roughly halves the error.
 */
function quantizeQ4(w: Float32Array, rows: number, cols: number, data: Uint8Array, scales: Float32Array): void {
  const groups = Math.ceil(cols / Q4_GROUP);
  const rowBytes = q4RowBytes(cols);
  // A row's padding past `cols` holds nibble 8, which decodes to zero.
  data.fill(0x88, 0, rows * rowBytes);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const start = r * cols + g * Q4_GROUP;
      const values = w.subarray(start, Math.min(start + Q4_GROUP, (r + 1) * cols));
      const scale = bestScale(values, 8, 7);
      scales[r * groups + g] = scale;
      values.forEach((v, i) => {
        const c = g * Q4_GROUP + i;
        const nibble = Math.max(-8, Math.min(7, Math.round(v / scale))) + 8;
        const byte = r * rowBytes + (c >> 1);
        data[byte] = c & 1 ? ((data[byte] as number) & 0x0f) | (nibble << 4) : ((data[byte] as number) & 0xf0) | nibble;
      });
    }
  }
}

/** The scale in [0.5, 1.1] x absmax / qmax with the least squared error for q in [-qmin, qmax]. */
function bestScale(values: Float32Array, qmin: number, qmax: number): number {
  let absMax = 0;
  for (const v of values) absMax = Math.max(absMax, Math.abs(v));
  if (absMax === 0) return 1;
  let best = absMax / qmax;
  let bestErr = Number.POSITIVE_INFINITY;
  for (let step = 0; step <= 30; step++) {
    const scale = (absMax / qmax) * (0.5 + step * 0.02);
    let err = 0;
    for (const v of values) {
      const q = Math.max(-qmin, Math.min(qmax, Math.round(v / scale)));
      err += (v - q * scale) ** 2;
    }
    if (err < bestErr) {
      bestErr = err;
      best = scale;
    }
  }
  return best;
}

/** The exact f32 matrix a quantized Linear stands for: what the GPU kernels must reproduce. */
export function dequantizeLinear(l: Linear): Float32Array {
  const out = new Float32Array(l.rows * l.cols);
  for (let r = 0; r < l.rows; r++) dequantizeRow(l, r, out, r * l.cols);
  return out;
}

/** Writes row `r` of a quantized matrix as f32 into out[at .. at + cols]. */
export function dequantizeRow(l: Linear, r: number, out: Float32Array, at: number): void {
  const { cols } = l;
  switch (l.quant) {
    case 'f32':
      out.set(new Float32Array(l.data.buffer, l.data.byteOffset + r * cols * 4, cols), at);
      return;
    case 'f16': {
      const bits = new Uint16Array(l.data.buffer, l.data.byteOffset + r * cols * 2, cols);
      for (let c = 0; c < cols; c++) out[at + c] = f16BitsToF32(bits[c] as number);
      return;
    }
    case 'q8': {
      const q = new Int8Array(l.data.buffer, l.data.byteOffset + r * cols, cols);
      const s = requireScales(l)[r] as number;
      for (let c = 0; c < cols; c++) out[at + c] = (q[c] as number) * s;
      return;
    }
    case 'q4': {
      const groups = Math.ceil(cols / Q4_GROUP);
      const rowBytes = (groups * Q4_GROUP) / 2;
      const scales = requireScales(l);
      for (let c = 0; c < cols; c++) {
        const byte = l.data[r * rowBytes + (c >> 1)] as number;
        const nibble = c & 1 ? byte >> 4 : byte & 0x0f;
        out[at + c] = (nibble - 8) * (scales[r * groups + Math.floor(c / Q4_GROUP)] as number);
      }
      return;
    }
  }
}

function requireScales(l: Linear): Float32Array {
  if (!l.scales) throw new RangeError(`${l.quant} linear layer has no scales`);
  return l.scales;
}
