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

/** transformers' GPT2Config attribute_map: the names NomicBERT's config.json uses for BERT's fields. */
const GPT2_NAMES: Readonly<Record<string, string>> = {
  hidden_size: 'n_embd',
  num_hidden_layers: 'n_layer',
  num_attention_heads: 'n_head',
  max_position_embeddings: 'n_positions',
};

/** A config.json field by its BERT name, or by GPT-2's name for it where the config uses that. */
export function hfConfigField(raw: Record<string, unknown>, key: string): unknown {
  const alias = GPT2_NAMES[key];
  return raw[key] ?? (alias === undefined ? undefined : raw[alias]);
}
