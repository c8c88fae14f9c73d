import { ModelFormatError, UnsupportedError } from '../errors.js';
import { isJinaV5, JINA_V5_ADAPTER } from '../weights/jina-v5.js';
import type { TensorSource } from './safetensors.js';

/**
 * A PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors) merged into the weights it
 * adapts as they are read: W + (lora_alpha / r) B A, vLLM's and PEFT's merge_and_unload. The
 * result is an ordinary checkpoint, so every reader, format and backend runs it unchanged, at no
 * cost per call. Only what the merge reproduces exactly is accepted: plain LoRA on Linear weights,
 * without DoRA, biases or modules saved whole.
 */
export interface LoraAdapterFiles {
  /** adapter_config.json, parsed. */
  config: unknown;
  /** adapter_model.safetensors. */
  weights: TensorSource;
  /** Where they came from, for messages (adapters/retrieval). */
  path: string;
}

interface LoraPair {
  down: Float32Array;
  up: Float32Array;
  rank: number;
  rows: number;
  cols: number;
}

const PEFT_PREFIX = 'base_model.model.';
/** Hugging Face checkpoints of one model are saved with or without their base model's prefix. */
const bare = (name: string) => name.replace(/^model\./, '');

function loraScale(config: unknown, path: string): number {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ModelFormatError(`${path}/adapter_config.json must be a JSON object`);
  }
  const c = config as Record<string, unknown>;
  const refuse = (what: string) => {
    throw new UnsupportedError(`${path}: ${what} is not supported (only plain LoRA on Linear weights)`);
  };
  if (c.peft_type !== 'LORA') refuse(`peft_type ${JSON.stringify(c.peft_type)}`);
  if (c.use_dora === true) refuse('use_dora');
  if ((c.bias ?? 'none') !== 'none') refuse(`bias ${JSON.stringify(c.bias)}`);
  if (c.fan_in_fan_out === true) refuse('fan_in_fan_out');
  if (Array.isArray(c.modules_to_save) && c.modules_to_save.length > 0) refuse('modules_to_save');
  const r = c.r;
  const alpha = c.lora_alpha;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1 || typeof alpha !== 'number' || !Number.isFinite(alpha)) {
    throw new ModelFormatError(`${path}/adapter_config.json needs a positive integer "r" and a number "lora_alpha"`);
  }
  // rank_pattern / alpha_pattern give some modules their own r or alpha: not read, so refused.
  for (const key of ['rank_pattern', 'alpha_pattern']) {
    const v = c[key];
    if (typeof v === 'object' && v !== null && Object.keys(v).length > 0) refuse(key);
  }
  return c.use_rslora === true ? alpha / Math.sqrt(r) : alpha / r;
}

/** The adapter's A and B matrices by the name of the weight they adapt (without `model.`). */
async function loraPairs(adapter: LoraAdapterFiles, scale: number): Promise<Map<string, LoraPair>> {
  const halves = new Map<string, { A?: string; B?: string }>();
  for (const name of adapter.weights.names()) {
    const m = /^(.*)\.lora_([AB])(?:\.[^.]+)?\.weight$/.exec(
      name.startsWith(PEFT_PREFIX) ? name.slice(PEFT_PREFIX.length) : name,
    );
    if (!m) throw new UnsupportedError(`${adapter.path}: tensor "${name}" is not a LoRA A or B matrix`);
    const [, module, half] = m as unknown as [string, string, 'A' | 'B'];
    const key = `${bare(module)}.weight`;
    halves.set(key, { ...halves.get(key), [half]: name });
  }
  const pairs = new Map<string, LoraPair>();
  for (const [key, { A, B }] of halves) {
    if (!A || !B) throw new ModelFormatError(`${adapter.path}: ${key} has lora_${A ? 'A' : 'B'} without its other half`);
    const [rank, cols] = adapter.weights.shape(A) ?? [];
    const [rows, rankB] = adapter.weights.shape(B) ?? [];
    if (!rank || !cols || !rows || rankB !== rank) {
      throw new ModelFormatError(
        `${adapter.path}: ${key}'s lora_A ${adapter.weights.shape(A)} and lora_B ${adapter.weights.shape(B)} do not make a rank-r update`,
      );
    }
    const up = Float32Array.from(await adapter.weights.get(B, [rows, rank]), (v) => v * scale);
    pairs.set(key, { down: Float32Array.from(await adapter.weights.get(A, [rank, cols])), up, rank, rows, cols });
  }
  return pairs;
}

/** rows [from, to) of `w` plus those of up · down, in place. */
function addUpdate(w: Float32Array, pair: LoraPair, from: number, to: number): Float32Array {
  const { down, up, rank, cols } = pair;
  for (let r = from; r < to; r++) {
    const out = (r - from) * cols;
    for (let k = 0; k < rank; k++) {
      const u = up[r * rank + k] as number;
      if (u === 0) continue;
      const d = k * cols;
      for (let c = 0; c < cols; c++) w[out + c] = (w[out + c] as number) + u * (down[d + c] as number);
    }
  }
  return w;
}

/**
 * `base` with `adapter` merged into the weights it names. An adapter naming a weight the
 * checkpoint lacks, or of another shape, is refused: skipped, the model would be another.
 */
export async function mergeLoraAdapter(base: TensorSource, adapter: LoraAdapterFiles): Promise<TensorSource> {
  const pairs = await loraPairs(adapter, loraScale(adapter.config, adapter.path));
  const byName = new Map<string, LoraPair>();
  const found = new Set<string>();
  for (const name of base.names()) {
    const pair = pairs.get(bare(name));
    if (!pair) continue;
    const shape = base.shape(name);
    if (shape?.length !== 2 || shape[0] !== pair.rows || shape[1] !== pair.cols) {
      throw new ModelFormatError(
        `${adapter.path}: ${name} is [${shape}] in the checkpoint, [${pair.rows},${pair.cols}] in the adapter`,
      );
    }
    byName.set(name, pair);
    found.add(bare(name));
  }
  const missing = [...pairs.keys()].filter((key) => !found.has(key));
  if (missing.length > 0) {
    throw new ModelFormatError(`${adapter.path} adapts ${missing.slice(0, 3).join(', ')}, which the checkpoint does not have`);
  }
  const merged = async (name: string, rows: Float32Array | Promise<Float32Array>, from: number, to: number) => {
    const pair = byName.get(name);
    // A copy: the source may hand out a block it reuses.
    return pair ? addUpdate(Float32Array.from(await rows), pair, from, to) : rows;
  };
  return {
    has: (name) => base.has(name),
    names: () => base.names(),
    shape: (name) => base.shape(name),
    get: (name, shape) => merged(name, base.get(name, shape), 0, shape[0] ?? 1),
    getRows: (name, shape, from, to) => merged(name, base.getRows(name, shape, from, to), from, to),
  };
}

/** A model folder's or repository's files: JSON (undefined where missing) and safetensors (undefined where missing). */
export interface AdapterFileReader {
  json(name: string): Promise<unknown>;
  tensors(name: string): Promise<TensorSource | undefined>;
}

/**
 * The weights a jina-embeddings-v5 repository's code runs for retrieval, search's task: its
 * adapters/retrieval merged into the base weights. A repository of one task (Jina's
 * jina-embeddings-v5-text-*-retrieval and the like) has its adapter merged already and no
 * adapters folder: its weights are read as they are, as are every other model's.
 */
export async function withJinaV5Adapter(config: unknown, weights: TensorSource, files: AdapterFileReader): Promise<TensorSource> {
  if (!isJinaV5(config)) return weights;
  const path = JINA_V5_ADAPTER;
  const adapterConfig = await files.json(`${path}/adapter_config.json`);
  if (adapterConfig === undefined) return weights;
  const adapter = await files.tensors(`${path}/adapter_model.safetensors`);
  if (!adapter) throw new ModelFormatError(`${path}/adapter_config.json has no ${path}/adapter_model.safetensors beside it`);
  return mergeLoraAdapter(weights, { config: adapterConfig, weights: adapter, path });
}
