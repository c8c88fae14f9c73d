import type { TokenBatch } from '../batch.js';
import { ATTENTION_WASM_BASE64 } from './attention-wasm.js';
import { compileInline, reserve } from './module.js';

type AttentionExport = (
  qkv: number,
  ctx: number,
  scores: number,
  S: number,
  len: number,
  heads: number,
  d: number,
  window: number,
  scale: number,
) => void;

// Past any sequence the engine accepts, and small enough that i + window stays an i32.
const GLOBAL_WINDOW = 1 << 30;

let compiled: WebAssembly.Module | null | undefined;

/**
 * Launcher for attention.wat, the CPU fallback's attention (same contract as cpu-ops.ts's
 * `attention`, which it replaces where WebAssembly SIMD runs). Its memory holds one call's
 * qkv, context and score rows.
 */
export class WasmAttention {
  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly run: AttentionExport,
  ) {}

  static create(): WasmAttention | null {
    compiled ??= compileInline(ATTENTION_WASM_BASE64);
    if (!compiled) return null;
    const { exports } = new WebAssembly.Instance(compiled, { env: { exp: Math.exp } });
    return new WasmAttention(exports.memory as WebAssembly.Memory, exports.attention as AttentionExport);
  }

  /** Context rows [size * seqLen, heads * d]; null when they do not fit in memory. */
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
    const ctxAt = rows * 3 * H * 4;
    const scoresAt = ctxAt + rows * H * 4;
    if (!reserve(this.memory, scoresAt + S * 4)) return null;
    new Float32Array(this.memory.buffer, 0, rows * 3 * H).set(qkv.subarray(0, rows * 3 * H));
    const window = Number.isFinite(windowHalf) ? windowHalf : GLOBAL_WINDOW;
    for (let r = 0; r < batch.size; r++) {
      const len = batch.lengths[r] as number;
      this.run(r * S * 3 * H * 4, ctxAt + r * S * H * 4, scoresAt, S, len, heads, d, window, 1 / Math.sqrt(d));
    }
    return new Float32Array(this.memory.buffer, ctxAt, rows * H).slice();
  }
}
