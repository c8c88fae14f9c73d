import { ModelFormatError } from '../errors.js';
import { QuantizedEmbeddingTable } from '../weights/embedding-table.js';
import type { SpladeSpec } from '../weights/encoder-config.js';
import { type EmbeddingTable, type EncoderWeights, F32EmbeddingTable, type Linear, type MlmHead } from '../weights/weights.js';
import { type CpuLinear, cpuLinear, layerNorm } from './cpu-ops.js';
import type { SparseVector } from './sparse.js';
import type { WasmKernels } from './wasm/kernels.js';

/**
 * The decoder as a Linear over the hidden size: the model's own, or the word table where the two
 * are tied, read in place (a q8 table is already a q8 Linear, one scale per row).
 */
export function decoderOf(head: MlmHead, table: EmbeddingTable): Linear {
  if (head.decoder) return head.decoder;
  if (table instanceof QuantizedEmbeddingTable) return { ...table.table, bias: head.bias };
  if (table instanceof F32EmbeddingTable) {
    const { data, rows, cols } = table;
    return { quant: 'f32', rows, cols, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), bias: head.bias };
  }
  throw new ModelFormatError('a SPLADE model whose decoder is its word table needs that table in memory');
}

/** What a SPLADE head is made of: the masked-LM head, its settings, the word table and the norm's epsilon. */
export interface SpladeParts {
  head: MlmHead;
  spec: SpladeSpec;
  table: EmbeddingTable;
  eps: number;
}

/** A SPLADE model's head with what it runs over, or null for other models. */
export function spladeOf(weights: EncoderWeights): SpladeParts | null {
  const spec = weights.config.splade;
  if (!spec || weights.family !== 'bert' || !weights.mlmHead) return null;
  return { head: weights.mlmHead, spec, table: weights.word, eps: weights.config.layerNormEps };
}

/**
 * A SPLADE encoder's output from its last layer's token states, on the CPU (in the SIMD
 * WebAssembly kernels where the runtime has them): the masked-LM head over every token, then
 * sentence-transformers' SpladePooling. The decoder is the costly part, [tokens, H] x [H, V].
 */
export class SpladeHead {
  private readonly head: MlmHead;
  private readonly spec: SpladeSpec;
  private readonly eps: number;
  private readonly transform: CpuLinear;
  private readonly decoder: CpuLinear;
  private readonly vocab: number;

  constructor(parts: SpladeParts, kernel: WasmKernels | null) {
    ({ head: this.head, spec: this.spec, eps: this.eps } = parts);
    const decoder = decoderOf(parts.head, parts.table);
    this.vocab = decoder.rows;
    this.transform = cpuLinear(parts.head.transform, kernel);
    this.decoder = cpuLinear(decoder, kernel);
  }

  /** Each text's weights from its token states as a backend's hiddenStates gives them. */
  vectors(states: readonly Float32Array[], tokens: readonly ArrayLike<number>[]): SparseVector[] {
    return states.map((s, i) => this.vector(s, (tokens[i] as ArrayLike<number>).length));
  }

  /** One text's weights from its token states ([length, H], every token the model attended). */
  vector(states: Float32Array, length: number): SparseVector {
    const H = this.head.transform.cols;
    const { headActivation, pooling, activation } = this.spec;
    const x = this.transform(states.subarray(0, length * H), length, headActivation === 'relu' ? 'none' : headActivation);
    if (headActivation === 'relu') for (let i = 0; i < x.length; i++) x[i] = Math.max(0, x[i] as number);
    layerNorm(x, null, this.head.norm, H, this.eps);
    const logits = this.decoder(x, length);
    const V = this.vocab;
    const pooled = new Float32Array(V);
    for (let t = 0; t < length; t++) {
      const row = t * V;
      for (let v = 0; v < V; v++) {
        const logit = logits[row + v] as number;
        if (!(logit > 0)) continue;
        const w = activation === 'log1p_relu' ? Math.log1p(Math.log1p(logit)) : Math.log1p(logit);
        if (pooling === 'sum') pooled[v] = (pooled[v] as number) + w;
        else if (w > (pooled[v] as number)) pooled[v] = w;
      }
    }
    return sparseOf(pooled);
  }
}

/** A pooled vector over the vocabulary as the ids that weigh (ascending) and their weights. */
export function sparseOf(pooled: Float32Array): SparseVector {
  let n = 0;
  for (let v = 0; v < pooled.length; v++) if ((pooled[v] as number) > 0) n++;
  const indices = new Uint32Array(n);
  const values = new Float32Array(n);
  for (let v = 0, j = 0; v < pooled.length; v++) {
    if ((pooled[v] as number) > 0) {
      indices[j] = v;
      values[j++] = pooled[v] as number;
    }
  }
  return { indices, values };
}
