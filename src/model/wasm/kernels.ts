import { UnsupportedError } from '../../errors.js';
import type { AttentionShape } from '../attention-shape.js';
import type { TokenBatch } from '../batch.js';
import { KERNELS_SHARED_WASM_BASE64, KERNELS_WASM_BASE64 } from './kernels-wasm.js';
import { CONTROL_BYTES, canShareMemory, type ThreadJob, ThreadPool } from './threads.js';

/** What runs on a projection's output: BERT's first feed-forward projection is followed by GELU. */
export type Activation = 'none' | 'gelu';

/**
 * Weights placed in the kernels' memory: byte offsets of W [rows, cols] and b [rows]; for q8, W
 * is int8 rows of `kp` bytes (cols padded with zeros to a multiple of 8; rows padded to an even
 * count with a zero row) in kernels.wat's panel order, with one f32 scale per row at `scales`.
 */
export type PlacedLinear =
  | { quant: 'f32'; w: number; b: number; rows: number; cols: number }
  | { quant: 'q8'; w: number; scales: number; b: number; rows: number; cols: number; kp: number };

interface Exports {
  matmul(x: number, w: number, b: number, y: number, M: number, N: number, K: number): void;
  quantize(x: number, q: number, xs: number, M: number, K: number, Kp: number, A: number): void;
  qmatmul(
    x: number,
    xs: number,
    w: number,
    ws: number,
    b: number,
    y: number,
    M: number,
    N: number,
    Kp: number,
    n0: number,
    n1: number,
    gelu: number,
  ): void;
  qmatmul_rows(...args: Parameters<Exports['qmatmul']>): void;
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
    h0: number,
    h1: number,
    slopes: number,
  ): void;
}

const PAGE_BYTES = 65536;
// What a 32-bit memory can address.
const MAX_BYTES = 2 ** 32;
// Multiply-adds below which a call stays on one thread: handing a share over costs microseconds.
const THREAD_WORK = 1 << 18;
// Past any sequence the engine accepts, and small enough that i + window stays an i32.
const GLOBAL_WINDOW = 1 << 30;

const align16 = (n: number) => Math.ceil(n / 16) * 16;

/**
 * The largest |activation| after quantisation to i16 that keeps a row's i32 sum of Kp products
 * with int8 weights (|w| <= 128) from overflowing: 32767 up to Kp = 512, 16383 at 1024.
 */
export const activationRange = (kp: number): number => Math.min(32767, Math.floor((2 ** 31 - 1) / (128 * kp)));

const compiled = new Map<boolean, WebAssembly.Module | null>();

/**
 * The module (with a shared memory, or not), compiled once per thread; null where WebAssembly or
 * its SIMD extension is missing, or a content security policy forbids compiling (the caller then
 * runs TypeScript).
 */
function compile(shared: boolean): WebAssembly.Module | null {
  let module = compiled.get(shared);
  if (module !== undefined) return module;
  try {
    const bytes = Uint8Array.from(atob(shared ? KERNELS_SHARED_WASM_BASE64 : KERNELS_WASM_BASE64), (c) => c.charCodeAt(0));
    module = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  } catch {
    module = null;
  }
  compiled.set(shared, module);
  return module;
}

/** The kernels' memory and an instance on it; null where the runtime refuses either. */
function instantiate(shared: boolean): { module: WebAssembly.Module; memory: WebAssembly.Memory; k: Exports } | null {
  const module = compile(shared);
  if (!module) return null;
  try {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_BYTES / PAGE_BYTES, shared });
    const k = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Exports;
    return { module, memory, k };
  } catch {
    return null;
  }
}

export interface KernelOptions {
  /** Caps the memory below the 4 GiB a 32-bit memory can address (tests use it to reach the limits). */
  maxBytes?: number;
  /**
   * Threads a call may use, this one included (default 1). More than one needs shared memory
   * and a thread that may block: Node, or a browser worker of a cross-origin isolated page.
   */
  threads?: number;
}

/**
 * Launcher for kernels.wat, the CPU fallback's SIMD kernels (matmul 7-8x the plain TypeScript
 * loop in V8). One instance per model: its memory holds the workers' control words, every placed
 * weight, then the scratch of the call in flight, which grows as larger batches come. With
 * threads, q8 projections split their rows or columns and attention its heads across a ThreadPool,
 * started by the first call large enough to use it.
 */
export class WasmKernels {
  private used = CONTROL_BYTES;
  /** undefined until a call first wants threads; null once disposed. */
  private pool: ThreadPool | null | undefined;

  private constructor(
    private readonly k: Exports,
    private readonly memory: WebAssembly.Memory,
    private readonly module: WebAssembly.Module,
    private readonly maxBytes: number,
    private readonly threads: number,
  ) {}

  /** Kernels with empty memory, or null where the module cannot run here. */
  static create({ maxBytes = MAX_BYTES, threads = 1 }: KernelOptions = {}): WasmKernels | null {
    const shared = threads > 1 && canShareMemory() ? instantiate(true) : null;
    const made = shared ?? instantiate(false);
    return made && new WasmKernels(made.k, made.memory, made.module, maxBytes, shared ? threads : 1);
  }

  /** Ends the threads; the kernels go on working on the calling thread alone. */
  dispose(): void {
    this.pool?.dispose();
    this.pool = null;
  }

  /**
   * Copies W and b into the kernels' memory; null when that would leave less than 1/64 of the
   * memory's cap for the calls' scratch rows, or the runtime refuses to grow it (that projection
   * then runs in TypeScript).
   */
  place(w: Float32Array, b: Float32Array, rows: number, cols: number): PlacedLinear | null {
    const wAt = this.used;
    const bAt = align16(wAt + w.length * 4);
    if (!this.claim(bAt + b.length * 4)) return null;
    this.write(wAt, w);
    this.write(bAt, b);
    return { quant: 'f32', w: wAt, b: bAt, rows, cols };
  }

  /**
   * Copies q8 weights (int8 rows with their f32 scales) into kernels.wat's panels of 2 rows, 8
   * values of each in turn, and the bias; null as for `place`.
   */
  placeQ8(data: Int8Array, scales: Float32Array, b: Float32Array, rows: number, cols: number): PlacedLinear | null {
    const kp = Math.ceil(cols / 8) * 8;
    const wAt = this.used;
    const sAt = align16(wAt + (rows + (rows & 1)) * kp);
    const bAt = align16(sAt + rows * 4);
    if (!this.claim(bAt + rows * 4)) return null;
    const bytes = new Int8Array(this.memory.buffer);
    // The memory may hold an earlier call's scratch here: the padding must be zeros.
    bytes.fill(0, wAt, sAt);
    for (let r = 0; r < rows; r++) {
      // Row r's runs of 8 go to its panel (rows r & ~1 and r | 1), second in each pair when r is odd.
      const to = wAt + (r & ~1) * kp + (r & 1) * 8;
      for (let k = 0; k < cols; k += 8) bytes.set(data.subarray(r * cols + k, r * cols + Math.min(cols, k + 8)), to + 2 * k);
    }
    this.write(sAt, scales.subarray(0, rows));
    this.write(bAt, b);
    return { quant: 'q8', w: wAt, scales: sAt, b: bAt, rows, cols, kp };
  }

  /**
   * y = x W^T + b for the M rows of x, then the activation; as many rows at a time as fit. q8
   * weights meet x quantised per row to i16 (see kernels.wat's quantize): within ~1e-4 relative
   * of the f32 product.
   */
  matmul(x: Float32Array, p: PlacedLinear, M: number, activation: Activation): Float32Array {
    return p.quant === 'q8' ? this.q8matmul(x, p, M, activation) : this.f32matmul(x, p, M, activation);
  }

  private f32matmul(x: Float32Array, p: PlacedLinear, M: number, activation: Activation): Float32Array {
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

  private q8matmul(x: Float32Array, p: Extract<PlacedLinear, { quant: 'q8' }>, M: number, activation: Activation): Float32Array {
    const { rows: N, cols: K, kp } = p;
    const y = new Float32Array(M * N);
    // Per row: x in f32, x in i16, its scale, y; each region 16-byte aligned (3 x 16 of slack),
    // and i16 rows and scales for up to 3 rows that pad the last block of 4.
    const chunk = this.rowsThatFit(M, K * 4 + kp * 2 + 4 + N * 4, 48 + 3 * (kp * 2 + 4));
    const blocks = Math.ceil(chunk / 4) * 4;
    const xAt = this.used;
    const qAt = align16(xAt + chunk * K * 4);
    const sAt = align16(qAt + blocks * kp * 2);
    const yAt = align16(sAt + blocks * 4);
    const range = activationRange(kp);
    for (let m0 = 0; m0 < M; m0 += chunk) {
      const m = Math.min(chunk, M - m0);
      this.write(xAt, x.subarray(m0 * K, (m0 + m) * K));
      this.k.quantize(xAt, qAt, sAt, m, K, kp, range);
      const gelu = activation === 'gelu' ? 1 : 0;
      // Threads split the larger operand (x has 2 bytes a value, W 1), in chunks of whole 4-row
      // blocks or 4-column blocks (whole panels), so that only the last has a ragged end.
      const op = 2 * m > N ? 'qmatmul_rows' : 'qmatmul';
      const args = [qAt, sAt, p.w, p.scales, p.b, yAt, m, N, kp, 0, op === 'qmatmul' ? N : m, gelu];
      this.split(m * N * kp, { op, args, count: op === 'qmatmul' ? N : m, unit: 4, range: 9 }, (a) =>
        this.k[op](...(a as Parameters<Exports['qmatmul']>)),
      );
      y.set(this.view(yAt, m * N), m0 * N);
    }
    return y;
  }

  /**
   * Same contract as cpu-ops.ts's `attention`, except that padding rows come back as zeros;
   * one text at a time.
   */
  attention(
    qkv: Float32Array,
    batch: Pick<TokenBatch, 'size' | 'seqLen' | 'lengths' | 'computed'>,
    heads: number,
    d: number,
    windowHalf = Number.POSITIVE_INFINITY,
  ): Float32Array {
    return this.groupedAttention(qkv, batch, { heads, kvHeads: heads, d, windowHalf, causal: false, scale: 1 / Math.sqrt(d) });
  }

  /**
   * Same contract as cpu-ops.ts's `groupedAttention`, except that padding rows come back as zeros:
   * a row's first `computed` tokens (its `lengths` where none) are computed, the first `lengths` attended.
   */
  groupedAttention(
    qkv: Float32Array,
    batch: Pick<TokenBatch, 'size' | 'seqLen' | 'lengths' | 'computed'>,
    { heads, kvHeads, d, windowHalf, causal, scale, alibi, relative, disentangled: dis }: AttentionShape,
  ): Float32Array {
    if (dis && d % 4 !== 0)
      throw new RangeError(`the disentangled attention kernel needs a head size that is a multiple of 4, not ${d}`);
    const H = heads * d;
    const row = H + 2 * kvHeads * d;
    const S = batch.seqLen;
    const ctx = new Float32Array(batch.size * S * H);
    const qkvAt = this.used;
    const ctxAt = qkvAt + S * row * 4;
    // Each chunk of heads (at most one per head) has scratch of its own: see kernels.wat's attention.
    const L = Math.ceil(S / 8) * 8;
    const scoresBytes = align16(4 * (d * L + 8 * d + 4 * L));
    const scoresAt = align16(ctxAt + S * H * 4);
    const slopesAt = align16(scoresAt + heads * scoresBytes);
    const biasAt = relative ? align16(slopesAt + heads * 4) : 0;
    // DeBERTa's relative rows (qkv's layout) and each distance's row among them, as i32.
    const relAt = dis ? align16(slopesAt + heads * 4) : 0;
    const indexAt = dis ? align16(relAt + dis.rel.byteLength) : 0;
    const extra = (relative?.table.byteLength ?? 0) + (dis ? dis.rel.byteLength + dis.index.byteLength + 16 : 0);
    this.rowsThatFit(1, S * (row + H) * 4 + heads * scoresBytes + heads * 4 + extra + 16, 32);
    // Zeros leave every model without ALiBi as it was.
    this.write(slopesAt, alibi ?? new Float32Array(heads));
    if (relative) this.write(biasAt, relative.table);
    if (dis) {
      this.write(relAt, dis.rel);
      this.write(indexAt, dis.index);
    }
    const window = Number.isFinite(windowHalf) ? windowHalf : GLOBAL_WINDOW;
    const masked = causal ? 1 : 0;
    for (let r = 0; r < batch.size; r++) {
      const len = batch.lengths[r] as number;
      this.write(qkvAt, qkv.subarray(r * S * row, (r + 1) * S * row));
      const args = [
        qkvAt,
        ctxAt,
        scoresAt,
        S,
        len,
        heads,
        kvHeads,
        d,
        window,
        masked,
        scale,
        0,
        heads,
        slopesAt,
        biasAt,
        relative?.reach ?? 0,
        batch.computed?.[r] ?? len,
        relAt,
        // Distance 0's entry: the kernel reads index[i - j].
        indexAt + (dis?.reach ?? 0) * 4,
        dis ? Number(dis.c2p) | (Number(dis.p2c) << 1) : 0,
      ];
      this.split(
        len * len * H,
        { op: 'attention', args, count: heads, unit: 1, range: 11, scratch: { arg: 2, stride: scoresBytes } },
        (a) => this.k.attention(...(a as Parameters<Exports['attention']>)),
      );
      ctx.set(this.view(ctxAt, S * H), r * S * H);
    }
    return ctx;
  }

  /**
   * Runs `job` (its range and scratch as ThreadJob says) whole on this thread, or, when its
   * multiply-adds are worth it and there are workers, in chunks that the workers awake share
   * with this thread: about 4 per thread, none under THREAD_WORK / 8 multiply-adds.
   */
  private split(work: number, job: Omit<ThreadJob, 'chunks'>, own: (args: number[]) => void): void {
    const pool = this.threads > 1 && work >= THREAD_WORK ? this.workers() : null;
    const units = Math.ceil(job.count / job.unit);
    const chunks = Math.min(units, 4 * this.threads, Math.floor(work / (THREAD_WORK / 8)));
    if (!pool || chunks <= 1) {
      const args = [...job.args];
      args[job.range] = 0;
      args[job.range + 1] = job.count;
      own(args);
      return;
    }
    pool.run({ ...job, chunks }, own);
  }

  /** The pool, started on first use; null once it has failed or been disposed. */
  private workers(): ThreadPool | null {
    if (this.pool === undefined) this.pool = new ThreadPool(this.memory, this.module, this.threads - 1);
    return this.pool?.alive ? this.pool : null;
  }

  /**
   * The most of `rows` rows (halving from all of them; attention's rows are whole texts) whose
   * scratch fits after the weights.
   */
  private rowsThatFit(rows: number, bytesPerRow: number, extra: number): number {
    for (let n = rows; n >= 1; n = Math.floor(n / 2)) if (this.reserve(this.used + n * bytesPerRow + extra)) return n;
    throw new UnsupportedError(
      `the CPU kernels' WebAssembly memory cannot grow past ${this.memory.buffer.byteLength >> 20} MiB for this call; ` +
        'use the WebGPU backend or a smaller model',
    );
  }

  private write(at: number, data: Float32Array | Int32Array): void {
    new Uint8Array(this.memory.buffer, at, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  private view(at: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, at, length);
  }

  /** Makes [used, end) the next placed weights' home, as `place` says. */
  private claim(end: number): boolean {
    if (end + this.maxBytes / 64 > this.maxBytes || !this.reserve(end)) return false;
    this.used = align16(end);
    return true;
  }

  private reserve(bytes: number): boolean {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return true;
    if (bytes > this.maxBytes) return false;
    try {
      this.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
      // Workers' instances may keep the old size for bounds checks until their isolate handles
      // V8's grow interrupt (seen as out-of-bounds traps on the first large call): start them
      // again on the grown memory, which is rare (a batch larger than any before).
      if (this.pool?.alive) {
        this.pool.dispose();
        this.pool = undefined;
      }
      return true;
    } catch {
      return false;
    }
  }
}
