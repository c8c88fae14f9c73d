import { InputError } from '../errors.js';
import type { LoraSpec } from './encoder-config.js';
import type { PromptKind } from './weights.js';

/**
 * The task adapter a call runs on a model with some (config.lora, jina-embeddings-v3): the one it
 * names (`task`), whose instruction then replaces a kind's prefix, or its kind's (retrieval.query,
 * retrieval.passage), or none: the base weights. `instruction` is null where the kind's prefix
 * applies as on any model.
 */
export function taskAdapter(
  call: { kind?: PromptKind | undefined; task?: string | undefined },
  lora: LoraSpec | undefined,
): { adapter: number | null; instruction: string | null } {
  if (call.task === undefined) {
    return { adapter: call.kind === undefined ? null : (lora?.byKind[call.kind] ?? null), instruction: null };
  }
  if (!lora) throw new InputError(`this model has no task adapters, got task ${JSON.stringify(call.task)}`);
  if (call.kind !== undefined) throw new InputError('give task or kind, not both: a task brings its own instruction');
  const adapter = typeof call.task === 'string' ? lora.tasks.indexOf(call.task) : -1;
  if (adapter < 0) throw new InputError(`task must be one of ${lora.tasks.join(', ')}, got ${JSON.stringify(call.task)}`);
  return { adapter, instruction: lora.instructions[call.task] ?? '' };
}
