import { ModelFormatError } from '../errors.js';
import { bytesSource } from './safetensors.js';
import { TorchCheckpoint } from './torch-checkpoint.js';

/** A tensor of a small torch.save file, decoded whole. */
export interface TorchTensor {
  shape: number[];
  data: Float32Array;
}

/** These heads are a few MB at most: the cap only keeps a corrupt file from allocating wildly. */
const MAX_ELEMENTS = 128 << 20;

/**
 * Small `torch.save(module.state_dict())` files (BGE-M3's sparse_linear.pt, colbert_linear.pt),
 * every tensor decoded. `name` is used in error messages (e.g. 'sparse_linear.pt').
 */
export async function readTorchStateDict(bytes: Uint8Array, name: string): Promise<Map<string, TorchTensor>> {
  const checkpoint = await TorchCheckpoint.open(bytesSource(bytes, name));
  let left = MAX_ELEMENTS;
  const tensors = new Map<string, TorchTensor>();
  for (const [key, ref] of checkpoint.tensors) {
    left -= ref.count;
    if (left < 0) throw new ModelFormatError(`${name}: tensors of [${ref.shape}] elements exceed ${MAX_ELEMENTS} in all`);
    tensors.set(key, { shape: [...ref.shape], data: await checkpoint.get(key, ref.shape) });
  }
  return tensors;
}
