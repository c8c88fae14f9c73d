import { ModelFormatError } from '../errors.js';
import type { SpladeSpec } from './encoder-config.js';

/** Where a converted SPLADE model's pooling settings live in its pack's config.json. */
export const SPLADE_KEY = 'm3web_splade';

const POOLINGS = ['max', 'sum'] as const;
const ACTIVATIONS = ['relu', 'log1p_relu'] as const;
const HEAD_ACTIVATIONS = ['gelu', 'gelu_tanh', 'relu'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The spec as config.json records it (snake_case, as SpladePooling's own config.json). */
export function spladeJson(spec: SpladeSpec): Record<string, unknown> {
  return {
    pooling_strategy: spec.pooling,
    activation_function: spec.activation,
    tied: spec.tied,
    head_activation: spec.headActivation,
    ...(spec.staticQuery ? { static_query: true } : {}),
  };
}

/** SpladePooling's settings (its config.json, or a pack's `m3web_splade`), checked. */
export function spladeSettings(raw: unknown, where: string): Pick<SpladeSpec, 'pooling' | 'activation'> {
  const c = isObject(raw) ? raw : {};
  const pooling = c.pooling_strategy ?? 'max';
  const activation = c.activation_function ?? 'relu';
  if (!POOLINGS.includes(pooling as never) || !ACTIVATIONS.includes(activation as never)) {
    throw new ModelFormatError(
      `${where}: pooling_strategy must be ${POOLINGS.join(' or ')} and activation_function ${ACTIVATIONS.join(' or ')}, ` +
        `got ${JSON.stringify(pooling)} and ${JSON.stringify(activation)}`,
    );
  }
  return { pooling: pooling as SpladeSpec['pooling'], activation: activation as SpladeSpec['activation'] };
}

/** config.json's `m3web_splade`, checked (null where there is none). */
export function spladeSpec(cfg: Record<string, unknown>): SpladeSpec | null {
  const raw = cfg[SPLADE_KEY];
  if (raw === undefined) return null;
  if (
    !isObject(raw) ||
    typeof raw.tied !== 'boolean' ||
    !HEAD_ACTIVATIONS.includes(raw.head_activation as never) ||
    ![undefined, true].includes(raw.static_query as never)
  )
    throw new ModelFormatError(
      `config.json: ${SPLADE_KEY} needs tied (a boolean), head_activation (${HEAD_ACTIVATIONS.join(', ')}) and static_query true or left out`,
    );
  return {
    ...spladeSettings(raw, `config.json: ${SPLADE_KEY}`),
    tied: raw.tied,
    headActivation: raw.head_activation as SpladeSpec['headActivation'],
    ...(raw.static_query ? { staticQuery: true as const } : {}),
  };
}
