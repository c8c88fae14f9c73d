import { ModelFormatError, UnsupportedError } from '../errors.js';
import type { GgufFile } from './gguf.js';
import type { TensorSource } from './safetensors.js';

// A GGUF file's tensors under transformers' names: which rows of which GGUF tensors make each tensor
// of the checkpoint the file was converted from, decoded from their ggml types as they are read.

/** Rows [from, from + rows) of one GGUF tensor. */
interface Part {
  gguf: string;
  from: number;
  rows: number;
  /** Values in a row where a 3-D tensor is read as a matrix (GgufFile.rows). */
  width?: number;
}

/**
 * Where a transformers tensor comes from: `zeroRows` rows of zeros (XLM-R's position rows, which
 * llama.cpp cuts), then the rows of one or more GGUF tensors in order (a matrix the converter split).
 */
export interface Mapped {
  shape: number[];
  zeroRows: number;
  parts: Part[];
  /** Subtracted from every value: the 1 llama.cpp's converter adds to Gemma's norms, which the Gemma reader adds itself. */
  less?: number;
  /**
   * The file holds each block of this many rows transposed (llama.cpp's experts' down projections,
   * [experts, hidden, inner], for transformers' stacked [experts x inner, hidden]).
   */
  transposedBlocks?: number;
  /** One row: the part's first row minus its second (Qwen3-Reranker's `cls.output` yes and no rows as its `score`). */
  difference?: boolean;
}

/** GGUF tensors under transformers' names (see Mapped), decoded to f32 a block of rows at a time. */
export class GgufTensors implements TensorSource {
  constructor(
    private readonly file: GgufFile,
    private readonly map: ReadonlyMap<string, Mapped>,
  ) {}

  has = (name: string) => this.map.has(name);
  names = () => this.map.keys();
  shape = (name: string) => this.map.get(name)?.shape;

  private mapped(name: string, shape: readonly number[]): Mapped {
    const m = this.map.get(name);
    if (!m) throw new ModelFormatError(`${this.file.name}: missing tensor "${name}"`);
    if (m.shape.length !== shape.length || m.shape.some((d, i) => d !== shape[i]))
      throw new ModelFormatError(
        `${this.file.name}: tensor "${m.parts.map((p) => p.gguf).join('" + "')}" has shape [${m.shape}], expected [${shape}]`,
      );
    return m;
  }

  get(name: string, shape: readonly number[]): Promise<Float32Array> {
    return this.getRows(name, shape, 0, shape[0] ?? 1);
  }

  async getRows(name: string, shape: readonly number[], from: number, to: number): Promise<Float32Array> {
    const m = this.mapped(name, shape);
    if (m.difference) return this.difference(m);
    const rows = m.transposedBlocks ? await this.untransposed(m, m.transposedBlocks, from, to) : await this.decoded(m, from, to);
    const less = m.less;
    return less ? rows.map((v) => v - less) : rows;
  }

  private async difference(m: Mapped): Promise<Float32Array> {
    const cols = m.shape[1] as number;
    const both = await this.file.rows((m.parts[0] as Part).gguf, 0, 2);
    return Float32Array.from({ length: cols }, (_, c) => (both[c] as number) - (both[cols + c] as number));
  }

  /** Whole blocks only: each is one row of the file's first dimension, [cols, n] there and [n, cols] here. */
  private async untransposed(m: Mapped, n: number, from: number, to: number): Promise<Float32Array> {
    const part = m.parts[0] as Part;
    if (from % n !== 0 || to % n !== 0)
      throw new RangeError(`${this.file.name}: rows ${from}..${to} of "${part.gguf}" are not whole blocks of ${n}`);
    const cols = m.shape[1] as number;
    const out = new Float32Array((to - from) * cols);
    for (let b = from / n; b < to / n; b++) {
      const block = await this.file.rows(part.gguf, b, b + 1);
      const at = (b * n - from) * cols;
      for (let c = 0; c < cols; c++) for (let r = 0; r < n; r++) out[at + r * cols + c] = block[c * n + r] as number;
    }
    return out;
  }

  private async decoded({ shape, zeroRows, parts }: Mapped, from: number, to: number): Promise<Float32Array> {
    const only = parts[0] as Part;
    if (parts.length === 1 && from >= zeroRows)
      return this.file.rows(only.gguf, only.from + from - zeroRows, only.from + to - zeroRows, only.width);
    const perRow = shape.slice(1).reduce((a, b) => a * b, 1);
    const out = new Float32Array((to - from) * perRow);
    let start = zeroRows;
    for (const part of parts) {
      const lo = Math.max(from, start);
      const hi = Math.min(to, start + part.rows);
      if (lo < hi)
        out.set(
          await this.file.rows(part.gguf, part.from + lo - start, part.from + hi - start, part.width),
          (lo - from) * perRow,
        );
      start += part.rows;
    }
    return out;
  }
}

/** Transformers' names of an architecture's tensors, by llama.cpp's (`blk.N.` + the name, per layer). */
export interface TensorNames {
  /** Those outside the layers. */
  outside: readonly (readonly [string, string])[];
  layer: (l: number) => string;
  layers: readonly (readonly [string, string])[];
  /** BERT's separate query / key / value, which some conversions fuse into one `attn_qkv`. */
  splitsQkv?: boolean;
  /** A matrix older converters split into `ffn_gate` (its first rows) and `ffn_up` (the rest). */
  gatedUp?: string;
  /** The converter stored Gemma's RMSNorm factors as (1 + w). */
  normsPlusOne?: boolean;
  /** Mixture-of-experts layers: llama.cpp's `ffn_up_exps` / `ffn_down_exps` as NomicBERT's stacked experts. */
  experts?: boolean;
}

/**
 * The file's tensors under transformers' names. Conversions that fuse BERT's three projections
 * (`attn_qkv`) have them split into three; XLM-R's position table gets `zeroPositions` rows back.
 */
export function tensorMap(
  file: GgufFile,
  names: TensorNames,
  layers: number,
  hidden: number,
  zeroPositions: number,
): Map<string, Mapped> {
  const map = new Map<string, Mapped>();
  const add = (hf: string, gguf: string, from = 0, rows?: number, zeroRows = 0) => {
    const info = file.tensors.get(gguf);
    if (!info) return;
    const part = { gguf, from, rows: rows ?? (info.shape[0] as number) };
    const less = names.normsPlusOne && /norm\.weight$/.test(hf) ? 1 : 0;
    map.set(hf, { shape: [part.rows + zeroRows, ...info.shape.slice(1)], zeroRows, parts: [part], less });
  };
  // An older JinaBERT conversion's split feed-forward: the GELU'd half (ffn_gate) first, as transformers stores it.
  const join = (hf: string, first: string, second: string) => {
    const [a, b] = [file.tensors.get(first), file.tensors.get(second)];
    if (!a || !b) return;
    const parts = [a, b].map((t) => ({ gguf: t.name, from: 0, rows: t.shape[0] as number }));
    map.set(hf, { shape: [(a.shape[0] as number) + (b.shape[0] as number), ...a.shape.slice(1)], zeroRows: 0, parts });
  };
  for (const p of ['weight', 'bias']) {
    for (const [hf, gguf] of names.outside) add(`${hf}.${p}`, `${gguf}.${p}`);
    for (let l = 0; l < layers; l++) {
      for (const [hf, gguf] of names.layers) add(`${names.layer(l)}${hf}.${p}`, `blk.${l}.${gguf}.${p}`);
      const qkv = `blk.${l}.attn_qkv.${p}`;
      if (names.splitsQkv && file.tensors.has(qkv))
        for (const [i, k] of ['query', 'key', 'value'].entries())
          add(`${names.layer(l)}attention.self.${k}.${p}`, qkv, i * hidden, hidden);
      if (names.gatedUp) join(`${names.layer(l)}${names.gatedUp}.${p}`, `blk.${l}.ffn_gate.${p}`, `blk.${l}.ffn_up.${p}`);
    }
  }
  add('embeddings.position_embeddings.weight', 'position_embd.weight', 0, undefined, zeroPositions);
  if (names.experts) for (let l = 0; l < layers; l++) mapExperts(file, map, `${names.layer(l)}mlp.experts.`, l);
  return map;
}

/**
 * One layer's experts, where it has them, under NomicMoELayer's names: `ffn_up_exps` [E, I, H] is
 * `mlp.w1` [E x I, H] as it is; `ffn_down_exps` holds each expert's `mlp.w2` block transposed,
 * [E, H, I]. The converter drops the experts' shared output `bias` and llama.cpp runs without it:
 * zeros here too, so a file gives the vectors llama.cpp gives.
 */
function mapExperts(file: GgufFile, map: Map<string, Mapped>, at: string, l: number): void {
  const up = file.tensors.get(`blk.${l}.ffn_up_exps.weight`);
  const down = file.tensors.get(`blk.${l}.ffn_down_exps.weight`);
  if (!up || !down) return;
  const [E, I, H] = up.shape as [number, number, number];
  if (up.shape.length !== 3 || down.shape.join() !== [E, H, I].join())
    throw new ModelFormatError(`${file.name}: experts of layer ${l} shaped [${up.shape}] and [${down.shape}]`);
  map.set(`${at}mlp.w1`, { shape: [E * I, H], zeroRows: 0, parts: [{ gguf: up.name, from: 0, rows: E * I, width: H }] });
  map.set(`${at}mlp.w2`, { shape: [E * I, H], zeroRows: 0, parts: [{ gguf: down.name, from: 0, rows: E }], transposedBlocks: I });
  map.set(`${at}bias`, { shape: [H], zeroRows: H, parts: [] });
}

/**
 * A tensor no name reaches is a part of the model m3web would leave out (jina-embeddings-v2-base-code's
 * query / key norms, a classifier): refused rather than run without it.
 */
export function refuseUnread(file: GgufFile, maps: readonly ReadonlyMap<string, Mapped>[]): void {
  const used = new Set(maps.flatMap((map) => [...map.values()].flatMap((m) => m.parts.map((p) => p.gguf))));
  const left = [...file.tensors.keys()].filter((t) => !used.has(t));
  if (left.length > 0)
    throw new UnsupportedError(
      `${file.name} holds tensors m3web does not run: ${left.slice(0, 6).join(', ')}${left.length > 6 ? ', ...' : ''}`,
    );
}
