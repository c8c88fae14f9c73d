import { ModelFormatError } from '../errors.js';
import { quantizeLinear } from '../weights/quantize.js';
import { type Linear, PROMPT_KINDS, type Projection, type PromptKind, type Quant } from '../weights/weights.js';
import type { TensorSource } from './safetensors.js';

const NAME_RE = /^projection\.(\d+)\.weight$/;

/**
 * A checkpoint's projection of prompted text (training/export.py writes `projection.{exit}.weight`,
 * [H, H], beside the model's tensors), for the prompts it has; null where it has none. Every exit
 * the pack keeps needs its matrix: a call may stop at any of them. Stored as f16 (f32 for an f32
 * pack): the matrices are small and near the identity, where q8's per-row scale rounds away the
 * off-diagonal terms that do the work.
 */
export async function checkpointProjection(
  weights: TensorSource,
  exits: readonly number[],
  hiddenSize: number,
  prompts: Partial<Record<PromptKind, string>>,
  quant: Quant,
): Promise<Projection | null> {
  if (![...weights.names()].some((n) => NAME_RE.test(n))) return null;
  const kinds = PROMPT_KINDS.filter((k) => prompts[k] !== undefined);
  if (kinds.length === 0) {
    throw new ModelFormatError('the checkpoint has projection matrices but no query or passage prompt for them to follow');
  }
  const byExit = new Map<number, Linear>();
  for (const exit of exits) {
    const name = `projection.${exit}.weight`;
    if (!weights.has(name)) throw new ModelFormatError(`the checkpoint projects prompted text but has no ${name} (exit ${exit})`);
    const w = await weights.get(name, [hiddenSize, hiddenSize]);
    byExit.set(exit, quantizeLinear(w, hiddenSize, hiddenSize, new Float32Array(hiddenSize), quant === 'f32' ? 'f32' : 'f16'));
  }
  return { kinds, byExit };
}
