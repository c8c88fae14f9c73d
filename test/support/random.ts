import type { TensorSource } from '../../src/checkpoint/safetensors.js';
import type { EncoderConfig } from '../../src/weights/config.js';
import { quantizeLinear } from '../../src/weights/quantize.js';
import { type BertWeights, F32EmbeddingTable, type Quant } from '../../src/weights/weights.js';

/** mulberry32: a small seeded generator so random fixtures are identical on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Approximately normal values (sum of uniforms), scaled by `std`. */
export function randomArray(n: number, std: number, next: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() + next() + next() + next() - 2) * std * Math.sqrt(3);
  return out;
}

export function bertConfig(overrides: Partial<EncoderConfig> = {}): EncoderConfig {
  const base: EncoderConfig = {
    modelType: 'bert',
    vocabSize: 1000,
    hiddenSize: 64,
    numLayers: 2,
    numHeads: 4,
    headDim: 16,
    intermediateSize: 128,
    maxPositions: 512,
    typeVocabSize: 2,
    layerNormEps: 1e-12,
    padTokenId: 0,
    positionOffset: 0,
    maxTokens: 512,
  };
  const c = { ...base, ...overrides };
  c.headDim = c.hiddenSize / c.numHeads;
  c.maxTokens = c.maxPositions - c.positionOffset;
  return c;
}

/** A BERT with random weights: for kernel tests and benchmarks, where only shapes matter. */
export function randomBert(config: EncoderConfig, quant: Quant = 'f32', seed = 1): BertWeights {
  const next = rng(seed);
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const linear = (rows: number, cols: number) =>
    quantizeLinear(randomArray(rows * cols, 1 / Math.sqrt(cols), next), rows, cols, randomArray(rows, 0.1, next), quant);
  const norm = () => ({
    gamma: randomArray(H, 0.1, next).map((v) => v + 1),
    beta: randomArray(H, 0.1, next),
  });
  return {
    family: 'bert',
    config,
    word: new F32EmbeddingTable(randomArray(config.vocabSize * H, 0.5, next), config.vocabSize, H),
    position: randomArray(config.maxPositions * H, 0.2, next),
    tokenType: randomArray(config.typeVocabSize * H, 0.2, next),
    embNorm: norm(),
    layers: Array.from({ length: config.numLayers }, () => ({
      qkv: linear(3 * H, H),
      attnOut: linear(H, H),
      attnNorm: norm(),
      ffnIn: linear(I, H),
      ffnOut: linear(H, I),
      ffnNorm: norm(),
    })),
  };
}

export function randomTokens(lengths: readonly number[], vocab: number, seed = 7): number[][] {
  const next = rng(seed);
  return lengths.map((n) => Array.from({ length: n }, () => Math.floor(next() * vocab)));
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] as number) * (b[i] as number);
    na += (a[i] as number) ** 2;
    nb += (b[i] as number) ** 2;
  }
  return dot / Math.sqrt(na * nb || 1e-30);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/**
 * Hugging Face-named tensors of a random BERT, generated on demand: a checkpoint for converter
 * tests that never exists as a file.
 */
export function randomHfTensors(config: EncoderConfig, seed = 3): TensorSource {
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const shapes = new Map<string, number[]>([
    ['embeddings.word_embeddings.weight', [config.vocabSize, H]],
    ['embeddings.position_embeddings.weight', [config.maxPositions, H]],
    ['embeddings.token_type_embeddings.weight', [config.typeVocabSize, H]],
    ['embeddings.LayerNorm.weight', [H]],
    ['embeddings.LayerNorm.bias', [H]],
  ]);
  for (let l = 0; l < config.numLayers; l++) {
    const at = `encoder.layer.${l}`;
    for (const p of ['query', 'key', 'value'])
      shapes.set(`${at}.attention.self.${p}.weight`, [H, H]).set(`${at}.attention.self.${p}.bias`, [H]);
    for (const [name, rows, cols] of [
      ['attention.output.dense', H, H],
      ['intermediate.dense', I, H],
      ['output.dense', H, I],
    ] as const) {
      shapes.set(`${at}.${name}.weight`, [rows, cols]).set(`${at}.${name}.bias`, [rows]);
    }
    for (const n of ['attention.output.LayerNorm', 'output.LayerNorm'])
      shapes.set(`${at}.${n}.weight`, [H]).set(`${at}.${n}.bias`, [H]);
  }
  return shapedSource(shapes, seed, randomArray);
}

/**
 * Hugging Face-named tensors of a random ModernBERT (ModernBertForMaskedLM names, `model.`
 * prefix), generated on demand with one uniform draw per value so even a 256k-row vocabulary
 * table is quick to make.
 */
export function randomModernBertTensors(config: EncoderConfig, seed = 3): TensorSource {
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const spec = config.modern;
  if (!spec) throw new Error('randomModernBertTensors needs a ModernBERT config');
  const shapes = new Map<string, number[]>([['model.embeddings.tok_embeddings.weight', [config.vocabSize, H]]]);
  const norm = (name: string) => {
    shapes.set(`${name}.weight`, [H]);
    if (spec.normBias) shapes.set(`${name}.bias`, [H]);
  };
  const linear = (name: string, rows: number, cols: number, bias: boolean) => {
    shapes.set(`${name}.weight`, [rows, cols]);
    if (bias) shapes.set(`${name}.bias`, [rows]);
  };
  norm('model.embeddings.norm');
  for (let l = 0; l < config.numLayers; l++) {
    const at = `model.layers.${l}`;
    if (l > 0) norm(`${at}.attn_norm`);
    linear(`${at}.attn.Wqkv`, 3 * H, H, spec.attentionBias);
    linear(`${at}.attn.Wo`, H, H, spec.attentionBias);
    norm(`${at}.mlp_norm`);
    linear(`${at}.mlp.Wi`, 2 * I, H, spec.mlpBias);
    linear(`${at}.mlp.Wo`, H, I, spec.mlpBias);
  }
  norm('model.final_norm');
  return shapedSource(shapes, seed, uniformDraw(1));
}

/**
 * Transformers-named tensors of a random Qwen3 or Gemma 3 text model (no `model.` prefix, as the
 * sentence-transformers checkpoints store them), one uniform draw per value: the real shapes of
 * a 0.6B model are quick to make.
 */
export function randomDecoderTensors(config: EncoderConfig, seed = 3): TensorSource {
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const D = config.headDim;
  const spec = config.decoder;
  if (!spec) throw new Error('randomDecoderTensors needs a qwen3 or gemma3 config');
  const shapes = new Map<string, number[]>([
    ['embed_tokens.weight', [config.vocabSize, H]],
    ['norm.weight', [H]],
  ]);
  for (let l = 0; l < config.numLayers; l++) {
    const at = `layers.${l}`;
    shapes
      .set(`${at}.self_attn.q_proj.weight`, [config.numHeads * D, H])
      .set(`${at}.self_attn.k_proj.weight`, [spec.numKvHeads * D, H])
      .set(`${at}.self_attn.v_proj.weight`, [spec.numKvHeads * D, H])
      .set(`${at}.self_attn.o_proj.weight`, [H, config.numHeads * D])
      .set(`${at}.self_attn.q_norm.weight`, [D])
      .set(`${at}.self_attn.k_norm.weight`, [D])
      .set(`${at}.mlp.gate_proj.weight`, [I, H])
      .set(`${at}.mlp.up_proj.weight`, [I, H])
      .set(`${at}.mlp.down_proj.weight`, [H, I]);
    const norms = spec.sandwichNorms
      ? ['input_layernorm', 'post_attention_layernorm', 'pre_feedforward_layernorm', 'post_feedforward_layernorm']
      : ['input_layernorm', 'post_attention_layernorm'];
    for (const n of norms) shapes.set(`${at}.${n}.weight`, [H]);
  }
  // Gemma's norms multiply by (1 + w): near 0 is near identity there, near 1 for Qwen's.
  return shapedSource(shapes, seed, uniformDraw(spec.sandwichNorms ? 0 : 1));
}

/** One uniform draw per value with the given std; norm weights centred on `normCentre`. */
function uniformDraw(normCentre: number) {
  return (n: number, std: number, next: () => number, name: string): Float32Array => {
    const out = new Float32Array(n);
    const centre = name.endsWith('norm.weight') ? normCentre : 0;
    const half = std * Math.sqrt(3);
    for (let i = 0; i < n; i++) out[i] = centre + (2 * next() - 1) * half;
    return out;
  };
}

/**
 * A TensorSource over `shapes`, each tensor drawn on demand with its own seeded generator;
 * matrices get std 1/sqrt(cols), vectors 0.1.
 */
function shapedSource(
  shapes: Map<string, number[]>,
  seed: number,
  draw: (n: number, std: number, next: () => number, name: string) => Float32Array,
): TensorSource {
  // The last tensor drawn, so reading one a block of rows at a time draws it once.
  let last: { name: string; values: Float32Array } | null = null;
  const get = (name: string, shape: readonly number[]) => {
    const s = shapes.get(name);
    if (!s || s.join() !== shape.join()) throw new Error(`random checkpoint: no tensor ${name} [${shape}]`);
    if (last?.name !== name) {
      const n = s.reduce((a, b) => a * b, 1);
      last = {
        name,
        values: draw(n, s.length === 2 ? 1 / Math.sqrt(s[1] as number) : 0.1, rng(seed + name.length * 7919 + n), name),
      };
    }
    return last.values;
  };
  return {
    has: (name) => shapes.has(name),
    names: () => shapes.keys(),
    shape: (name) => shapes.get(name),
    get: (name, shape) => get(name, shape).slice(),
    getRows(name, shape, from, to) {
      const row = shape.slice(1).reduce((a, b) => a * b, 1);
      return get(name, shape).slice(from * row, to * row);
    },
  };
}
