import { UnsupportedError } from '../../errors.js';
import type { AttentionShape } from '../attention-shape.js';
import type { TokenBatch } from '../batch.js';
import { KERNELS_WASM_BASE64 } from './kernels-wasm.js';

/** What runs on a projection's output: BERT's first feed-forward projection is followed by GELU. */
export type Activation = 'none' | 'gelu';

/** Weights placed in the kernels' memory: byte offsets of W [rows, cols] and b [rows]. */
export interface PlacedLinear {
  w: number;
  b: number;
  rows: number;
  cols: number;
}

interface Exports {
  memory: WebAssembly.Memory;
  matmul(x: number, w: number, b: number, y: number, M: number, N: number, K: number): void;
  gelu(p: number, n: number): void;
  attention(
    qkv: number,
    ctx: number,
    scores: number,
    S: number,
    len: number,
    heads: number,
    kvHeads: number,
    d: number,
    window: number,
    causal: number,
    scale: number,
  ): void;
}

const PAGE_BYTES = 65536;
// What a 32-bit memory can address.
const MAX_BYTES = 2 ** 32;
// Past any sequence the engine accepts, and small enough that i + window stays an i32.
const GLOBAL_WINDOW = 1 << 30;

let compiled: WebAssembly.Module | null | undefined;

/**
 * The module, compiled once per thread; null where WebAssembly or its SIMD extension is
 * missing, or a content security policy forbids compiling (the caller then runs TypeScript).
 */
function compile(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  try {
    const bytes = Uint8Array.from(atob(KERNELS_WASM_BASE64), (c) => c.charCodeAt(0));
    compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  } catch {
    compiled = null;
  }
  return compiled;
}

/**
 * Launcher for kernels.wat, the CPU fallback's SIMD kernels (matmul 7-8x the plain TypeScript
 * loop in V8). One instance per model: its memory holds every placed weight, then the scratch
 * of the call in flight, which grows as larger batches come.
 */
export class WasmKernels {
  private used = 0;

  private constructor(
    private readonly k: Exports,
    private readonly maxBytes: number,
  ) {}

  /**
   * Kernels with empty memory, or null where the module cannot run here. `maxBytes` caps the
   * memory below the 4 GiB a 32-bit memory can address (tests use it to reach the limits).
   */
  static create(maxBytes = MAX_BYTES): WasmKernels | null {
    const module = compile();
    return module && new WasmKernels(new WebAssembly.Instance(module, {}).exports as unknown as Exports, maxBytes);
  }

  /**
   * Copies W and b into the kernels' memory; null when that would leave less than 1/64 of the
   * memory's cap for the calls' scratch rows, or the runtime refuses to grow it (that projection
   * then runs in TypeScript).
   */
  place(w: Float32Array, b: Float32Array, rows: number, cols: number): PlacedLinear | null {
    const at = this.used;
    const end = at + (w.length + b.length) * 4;
    if (end + this.maxBytes / 64 > this.maxBytes || !this.reserve(end)) return null;
    const f = new Float32Array(this.k.memory.buffer);
    f.set(w, at / 4);
    f.set(b, at / 4 + w.length);
    this.used = end;
    return { w: at, b: at + w.length * 4, rows, cols };
  }

  /** y = x W^T + b for the M rows of x, then the activation; as many rows at a time as fit. */
  matmul(x: Float32Array, p: PlacedLinear, M: number, activation: Activation): Float32Array {
    const y = new Float32Array(M * p.rows);
    const xAt = this.used;
    // GELU runs whole vectors of 4: room for the last one's spare lanes.
    const chunk = this.rowsThatFit(M, (p.cols + p.rows) * 4, 16);
    for (let m0 = 0; m0 < M; m0 += chunk) {
      const m = Math.min(chunk, M - m0);
      const yAt = xAt + m * p.cols * 4;
      this.write(xAt, x.subarray(m0 * p.cols, (m0 + m) * p.cols));
      this.k.matmul(xAt, p.w, p.b, yAt, m, p.rows, p.cols);
      if (activation === 'gelu') this.k.gelu(yAt, m * p.rows);
      y.set(this.view(yAt, m * p.rows), m0 * p.rows);
    }
    return y;
  }

  /**
   * Same contract as cpu-ops.ts's `attention`, except that padding rows come back as zeros;
   * one text at a time.
   */
  attention(
    qkv: Float32Array,
    batch: Pick<TokenBatch, 'size' | 'seqLen' | 'lengths'>,
    heads: number,
    d: number,
    windowHalf = Number.POSITIVE_INFINITY,
  ): Float32Array {
    return this.groupedAttention(qkv, batch, { heads, kvHeads: heads, d, windowHalf, causal: false, scale: 1 / Math.sqrt(d) });
  }

  /** Same contract as cpu-ops.ts's `groupedAttention`, except that padding rows come back as zeros. */
  groupedAttention(
    qkv: Float32Array,
    batch: Pick<TokenBatch, 'size' | 'seqLen' | 'lengths'>,
    { heads, kvHeads, d, windowHalf, causal, scale }: AttentionShape,
  ): Float32Array {
    const H = heads * d;
    const row = H + 2 * kvHeads * d;
    const S = batch.seqLen;
    const ctx = new Float32Array(batch.size * S * H);
    const qkvAt = this.used;
    const ctxAt = qkvAt + S * row * 4;
    const scoresAt = ctxAt + S * H * 4;
    this.rowsThatFit(1, (S * (row + H) + S + 3) * 4, 0);
    const window = Number.isFinite(windowHalf) ? windowHalf : GLOBAL_WINDOW;
    for (let r = 0; r < batch.size; r++) {
      this.write(qkvAt, qkv.subarray(r * S * row, (r + 1) * S * row));
      this.k.attention(qkvAt, ctxAt, scoresAt, S, batch.lengths[r] as number, heads, kvHeads, d, window, causal ? 1 : 0, scale);
      ctx.set(this.view(ctxAt, S * H), r * S * H);
    }
    return ctx;
  }

  /**
   * The most of `rows` rows (halving from all of them; attention's rows are whole texts) whose
   * scratch fits after the weights.
   */
  private rowsThatFit(rows: number, bytesPerRow: number, extra: number): number {
    for (let n = rows; n >= 1; n = Math.floor(n / 2)) if (this.reserve(this.used + n * bytesPerRow + extra)) return n;
    throw new UnsupportedError(
      `the CPU kernels' WebAssembly memory cannot grow past ${this.k.memory.buffer.byteLength >> 20} MiB for this call; ` +
        'use the WebGPU backend or a smaller model',
    );
  }

  private write(at: number, data: Float32Array): void {
    new Float32Array(this.k.memory.buffer, at, data.length).set(data);
  }

  private view(at: number, length: number): Float32Array {
    return new Float32Array(this.k.memory.buffer, at, length);
  }

  private reserve(bytes: number): boolean {
    const have = this.k.memory.buffer.byteLength;
    if (bytes <= have) return true;
    if (bytes > this.maxBytes) return false;
    try {
      this.k.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
      return true;
    } catch {
      return false;
    }
  }
}
