import { ModelFormatError, UnsupportedError } from '../errors.js';

/** Readers of config.json fields that name the field in their errors, for every architecture. */

export function num(raw: Record<string, unknown>, key: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ModelFormatError(`config.json: "${key}" must be a number, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function positiveInt(raw: Record<string, unknown>, key: string, fallback?: number): number {
  const v = num(raw, key, fallback);
  if (!Number.isInteger(v) || v <= 0) {
    throw new ModelFormatError(`config.json: "${key}" must be a positive integer, got ${v}`);
  }
  return v;
}

export function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ModelFormatError(`config.json: ${what} must be an object`);
  return v as Record<string, unknown>;
}

/** One rope_parameters entry (transformers 5): only unscaled ("default") RoPE is implemented. */
export function ropeTheta(params: Record<string, unknown>, type: string): number {
  const p = obj(params[type], `rope_parameters.${type}`);
  if ((p.rope_type ?? 'default') !== 'default') {
    throw new UnsupportedError(
      `rope_parameters.${type}.rope_type ${JSON.stringify(p.rope_type)} is not supported (only default RoPE)`,
    );
  }
  const theta = num(p, 'rope_theta');
  if (theta <= 0) throw new ModelFormatError(`config.json: rope_parameters.${type}.rope_theta must be positive`);
  return theta;
}

/**
 * The names other configs use for BERT's fields: transformers' GPT2Config attribute_map
 * (NomicBERT), DistilBertConfig's and T5Config's.
 */
const ALIASES: Readonly<Record<string, readonly string[]>> = {
  hidden_size: ['n_embd', 'dim', 'd_model'],
  num_hidden_layers: ['n_layer', 'n_layers', 'num_layers'],
  num_attention_heads: ['n_head', 'n_heads', 'num_heads'],
  max_position_embeddings: ['n_positions'],
};

/** A config.json field by its BERT name, or by the name a GPT-2 or DistilBERT config gives it. */
export function hfConfigField(raw: Record<string, unknown>, key: string): unknown {
  const alias = ALIASES[key]?.find((name) => raw[name] != null);
  return raw[key] ?? (alias === undefined ? undefined : raw[alias]);
}

export function nonNegativeInt(raw: Record<string, unknown>, key: string, fallback: number): number {
  const v = num(raw, key, fallback);
  if (!Number.isInteger(v) || v < 0) throw new ModelFormatError(`config.json: "${key}" must be an integer >= 0, got ${v}`);
  return v;
}

export function bool(raw: Record<string, unknown>, key: string): boolean {
  const v = raw[key] ?? false;
  if (typeof v !== 'boolean') throw new ModelFormatError(`config.json: "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** hidden_act values that name exact erf GELU. */
export const ERF_GELU = new Set(['gelu', 'gelu_python']);

/** hidden_act values that name tanh-approximated GELU (transformers' NewGELUActivation, FastGELUActivation, PytorchGELUTanh). */
export const TANH_GELU = new Set(['gelu_new', 'gelu_fast', 'gelu_pytorch_tanh']);
