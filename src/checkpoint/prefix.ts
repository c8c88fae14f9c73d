import { ModelFormatError } from '../errors.js';
import type { TensorSource } from './safetensors.js';

/**
 * What a checkpoint puts before its encoder's tensor names: a model class with a head saves them
 * under `bert.`, `roberta.`, `model.` or `new.`, the bare model without. Found from `tensor`,
 * which every checkpoint of the `architecture` has.
 */
export function tensorPrefix(source: TensorSource, tensor: string, architecture: string): string {
  for (const name of source.names()) {
    if (name.endsWith(tensor)) return name.slice(0, -tensor.length);
  }
  throw new ModelFormatError(`the checkpoint has no tensor "…${tensor}" (is it a ${architecture} checkpoint?)`);
}
