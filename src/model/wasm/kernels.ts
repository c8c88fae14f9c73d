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
    d: number,
    window: number,
    scale: number,
  ): void;
}

const PAGE_BYTES = 65536;
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
 * of the call in flight, which grows as larger batches come. Each call returns null where its
 * scratch cannot fit (a 32-bit memory holds 4 GiB), and the caller runs TypeScript instead.
 */
export class WasmKernels {
  private used = 0;

  private constructor(private readonly k: Exports) {}

  /** Kernels with empty memory, or null where the module cannot run here. */
  static create(): WasmKernels | null {
    const module = compile();
    return module && new WasmKernels(new WebAssembly.Instance(module, {}).exports as unknown as Exports);
  }

  /** Copies W and b into the kernels' memory. */
  place(w: Float32Array, b: Float32Array, rows: number, cols: number): PlacedLinear | null {
    const at = this.used;
    const end = at + (w.length + b.length) * 4;
    if (!this.reserve(end)) return null;
    const f = new Float32Array(this.k.memory.buffer);
    f.set(w, at / 4);
    f.set(b, at / 4 + w.length);
    this.used = end;
    return { w: at, b: at + w.length * 4, rows, cols };
  }

  /** y = x W^T + b for the M rows of x, then the activation. */
  matmul(x: Float32Array, p: PlacedLinear, M: number, activation: Activation): Float32Array | null {
    const xAt = this.used;
    const yAt = xAt + M * p.cols * 4;
    // GELU runs whole vectors of 4: room for the last one's spare lanes.
    if (!this.reserve(yAt + M * p.rows * 4 + 16)) return null;
    this.write(xAt, x.subarray(0, M * p.cols));
    this.k.matmul(xAt, p.w, p.b, yAt, M, p.rows, p.cols);
    if (activation === 'gelu') this.k.gelu(yAt, M * p.rows);
    return this.read(yAt, M * p.rows);
  }

  /** Same contract as cpu-ops.ts's `attention`, except that padding rows come back as zeros. */
  attention(
    qkv: Float32Array,
    batch: Pick<TokenBatch, 'size' | 'seqLen' | 'lengths'>,
    heads: number,
    d: number,
    windowHalf = Number.POSITIVE_INFINITY,
  ): Float32Array | null {
    const H = heads * d;
    const S = batch.seqLen;
    const rows = batch.size * S;
    const qkvAt = this.used;
    const ctxAt = qkvAt + rows * 3 * H * 4;
    const scoresAt = ctxAt + rows * H * 4;
    if (!this.reserve(scoresAt + (S + 3) * 4)) return null;
    this.write(qkvAt, qkv.subarray(0, rows * 3 * H));
    const window = Number.isFinite(windowHalf) ? windowHalf : GLOBAL_WINDOW;
    for (let r = 0; r < batch.size; r++) {
      const len = batch.lengths[r] as number;
      this.k.attention(qkvAt + r * S * 3 * H * 4, ctxAt + r * S * H * 4, scoresAt, S, len, heads, d, window, 1 / Math.sqrt(d));
    }
    return this.read(ctxAt, rows * H);
  }

  private write(at: number, data: Float32Array): void {
    new Float32Array(this.k.memory.buffer, at, data.length).set(data);
  }

  private read(at: number, length: number): Float32Array {
    return new Float32Array(this.k.memory.buffer, at, length).slice();
  }

  private reserve(bytes: number): boolean {
    const have = this.k.memory.buffer.byteLength;
    if (bytes <= have) return true;
    try {
      this.k.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
      return true;
    } catch {
      return false;
    }
  }
}
