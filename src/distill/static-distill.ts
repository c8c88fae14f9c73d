import type { LoadedModel } from '../checkpoint/load.js';
import { InputError, UnsupportedError } from '../errors.js';
import { CpuEncoder } from '../model/cpu.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import type { Pooling } from '../weights/config.js';
import { principalAxes, projectRows } from './principal-axes.js';

/** model2vec's defaults: 256 principal axes, SIF coefficient 1e-4. */
export const DISTILL_DIMS = 256;
export const DISTILL_SIF = 1e-4;

/** The model a static embedder is distilled from. */
export interface Teacher {
  tokenizer: TextTokenizer;
  hiddenSize: number;
  /** Full-width, unnormalised pooled vectors of token id sequences (special tokens included). */
  pool(ids: number[][]): Promise<Float32Array[]>;
}

/** A teacher on the CPU forward: `model` at `layers` (default every layer loaded), pooled by `pooling`. */
export function cpuTeacher(
  model: LoadedModel,
  pooling: Pooling,
  layers = model.weights.layers.length,
): Teacher & { dispose(): void } {
  if (model.weights.family === 'static') throw new UnsupportedError(STATIC_TEACHER);
  const encoder = new CpuEncoder(model.weights);
  return {
    tokenizer: model.tokenizer,
    hiddenSize: model.config.hiddenSize,
    pool: async (ids) => (await encoder.pooledAtExits(ids, [layers], pooling))[0] as Float32Array[],
    dispose: () => encoder.dispose(),
  };
}

export const STATIC_TEACHER = 'the model is a static embedder already: nothing to distil';

export interface DistillOptions {
  /** Principal axes kept (default: the teacher's width, at most DISTILL_DIMS). */
  dims?: number;
  /** SIF coefficient `a` of the token weights a / (a + p), p by Zipf's law from the token's id; 0: none. */
  sif?: number;
  /** Tokens per teacher call. */
  batch?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface StaticTable {
  /** [rows, dims]: one row per token id of the tokenizer. */
  table: Float32Array;
  rows: number;
  dims: number;
  /** Share of the teacher rows' variance the kept axes hold. */
  explained: number;
}

/**
 * A static embedder distilled from `teacher`, as model2vec distils one: every token of the
 * vocabulary between the teacher's special tokens through its layers and pooling; the rows
 * centred and projected onto their principal axes (so any leading width is a good cut); each row
 * weighted by SIF, a / (a + p), with p the token's probability by Zipf's law from its id (ids of
 * trained vocabularies run roughly from frequent to rare).
 */
export async function distillStatic(teacher: Teacher, options: DistillOptions = {}): Promise<StaticTable> {
  const { tokenizer, hiddenSize: H } = teacher;
  const dims = options.dims ?? Math.min(H, DISTILL_DIMS);
  if (!Number.isInteger(dims) || dims < 1 || dims > H) throw new InputError(`dims must be an integer in 1..${H}, got ${dims}`);
  const sif = options.sif ?? DISTILL_SIF;
  if (!(sif >= 0)) throw new InputError(`sif must be a number >= 0, got ${sif}`);
  const batch = options.batch ?? 1024;
  const { before, after } = tokenTemplate(tokenizer);
  const rows = tokenizer.maxTokenId + 1;
  const raw = new Float32Array(rows * H);
  for (let from = 0; from < rows; from += batch) {
    const ids = Array.from({ length: Math.min(batch, rows - from) }, (_, i) => [...before, from + i, ...after]);
    (await teacher.pool(ids)).forEach((v, i) => {
      raw.set(v, (from + i) * H);
    });
    options.onProgress?.(from + ids.length, rows);
  }
  const pca = principalAxes(raw, rows, H);
  const table = projectRows(raw, rows, H, pca, dims);
  if (sif > 0) {
    const weights = zipfSif(rows, sif);
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < dims; j++) table[r * dims + j] = (table[r * dims + j] as number) * (weights[r] as number);
  }
  const total = pca.variance.reduce((a, b) => a + b, 0);
  const kept = pca.variance.subarray(0, dims).reduce((a, b) => a + b, 0);
  return { table, rows, dims, explained: total > 0 ? kept / total : 1 };
}

/** a / (a + p) per token id, p the Zipf probability of rank id + 1 over `rows` tokens (model2vec's compute_weights). */
export function zipfSif(rows: number, a: number): Float64Array {
  let norm = 0;
  for (let i = 0; i < rows; i++) norm += 1 / (i + 2);
  return Float64Array.from({ length: rows }, (_, i) => a / (a + 1 / (i + 2) / norm));
}

/** The special tokens the teacher puts around a text ([CLS] ... [SEP], <s> ... </s>, ... <|endoftext|>). */
function tokenTemplate(tokenizer: TextTokenizer): { before: number[]; after: number[] } {
  const bare = tokenizer.tokenIds('a', false);
  const full = tokenizer.tokenIds('a', true);
  for (let i = 0; i + bare.length <= full.length; i++) {
    if (bare.every((id, j) => full[i + j] === id)) return { before: full.slice(0, i), after: full.slice(i + bare.length) };
  }
  throw new UnsupportedError("the tokenizer's special-token template does not keep a text's tokens together");
}
