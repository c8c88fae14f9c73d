import { MATMUL_WASM_BASE64 } from './matmul-wasm.js';
import { compileInline, reserve } from './module.js';

/** Weights placed in the kernel's memory: byte offsets of W [rows, cols] and b [rows]. */
export interface PlacedLinear {
  w: number;
  b: number;
  rows: number;
  cols: number;
}

type MatmulExport = (x: number, w: number, b: number, y: number, M: number, N: number, K: number) => void;

let compiled: WebAssembly.Module | null | undefined;

/**
 * Launcher for matmul.wat, the CPU fallback's f32 matmul (7-8x the plain TypeScript loop in V8).
 * One instance per model: its memory holds every placed weight, then the scratch rows of the
 * matmul in flight (x, then y), which grow as larger batches come.
 */
export class WasmMatmul {
  private used = 0;

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly run: MatmulExport,
  ) {}

  /** A kernel with empty memory, or null where the module cannot run here. */
  static create(): WasmMatmul | null {
    compiled ??= compileInline(MATMUL_WASM_BASE64);
    if (!compiled) return null;
    const { exports } = new WebAssembly.Instance(compiled, {});
    return new WasmMatmul(exports.memory as WebAssembly.Memory, exports.matmul as MatmulExport);
  }

  /** Copies W and b into the kernel's memory; null when it cannot grow that far. */
  place(w: Float32Array, b: Float32Array, rows: number, cols: number): PlacedLinear | null {
    const at = this.used;
    const end = at + (w.length + b.length) * 4;
    if (!reserve(this.memory, end)) return null;
    const f = new Float32Array(this.memory.buffer);
    f.set(w, at / 4);
    f.set(b, at / 4 + w.length);
    this.used = end;
    return { w: at, b: at + w.length * 4, rows, cols };
  }

  /** y = x W^T + b for the M rows of x; null when the scratch rows do not fit in memory. */
  matmul(x: Float32Array, p: PlacedLinear, M: number): Float32Array | null {
    const xAt = this.used;
    const yAt = xAt + M * p.cols * 4;
    if (!reserve(this.memory, yAt + M * p.rows * 4)) return null;
    new Float32Array(this.memory.buffer, xAt, M * p.cols).set(x.subarray(0, M * p.cols));
    this.run(xAt, p.w, p.b, yAt, M, p.rows, p.cols);
    return new Float32Array(this.memory.buffer, yAt, M * p.rows).slice();
  }
}
