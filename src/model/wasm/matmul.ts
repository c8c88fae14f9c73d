import { MATMUL_WASM_BASE64 } from './matmul-wasm.js';

const PAGE_BYTES = 65536;

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
 * The SIMD module, compiled once per thread; null where WebAssembly or its SIMD extension is
 * missing, or a content security policy forbids compiling it (the caller then runs plain
 * TypeScript).
 */
function module(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  try {
    const bytes = Uint8Array.from(atob(MATMUL_WASM_BASE64), (c) => c.charCodeAt(0));
    compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  } catch {
    compiled = null;
  }
  return compiled;
}

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
    const m = module();
    if (!m) return null;
    const { exports } = new WebAssembly.Instance(m, {});
    return new WasmMatmul(exports.memory as WebAssembly.Memory, exports.matmul as MatmulExport);
  }

  /**
   * Copies W and b into the kernel's memory; null when the memory cannot grow that far (a
   * 32-bit address space holds 4 GiB), and that projection stays in TypeScript.
   */
  place(w: Float32Array, b: Float32Array, rows: number, cols: number): PlacedLinear | null {
    const at = this.used;
    if (!this.reserve(at + (w.length + b.length) * 4)) return null;
    const f = new Float32Array(this.memory.buffer);
    f.set(w, at / 4);
    f.set(b, at / 4 + w.length);
    this.used = at + (w.length + b.length) * 4;
    return { w: at, b: at + w.length * 4, rows, cols };
  }

  /** y = x W^T + b for the M rows of x; null when the scratch rows do not fit in memory. */
  matmul(x: Float32Array, p: PlacedLinear, M: number): Float32Array | null {
    const xAt = this.used;
    const yAt = xAt + M * p.cols * 4;
    if (!this.reserve(yAt + M * p.rows * 4)) return null;
    new Float32Array(this.memory.buffer, xAt, M * p.cols).set(x.subarray(0, M * p.cols));
    this.run(xAt, p.w, p.b, yAt, M, p.rows, p.cols);
    return new Float32Array(this.memory.buffer, yAt, M * p.rows).slice();
  }

  private reserve(bytes: number): boolean {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return true;
    try {
      this.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
      return true;
    } catch {
      return false;
    }
  }
}
