import { ModelFormatError } from '../errors.js';
import { type ByteSource, SafetensorsReader, ShardedTensors, type TensorSource } from './safetensors.js';
import { TorchCheckpoint } from './torch-checkpoint.js';

/** A model folder's files as a weights reader needs them: a hub repository, a Node folder, dropped Files. */
export interface WeightFiles {
  /** A small JSON file parsed, or undefined where the folder has none. */
  json(name: string): Promise<unknown>;
  /** A file for reading by ranges, or undefined where the folder has none. */
  open(name: string): Promise<ByteSource | undefined>;
}

/**
 * The checkpoint formats of a Hugging Face folder, in the order read: safetensors, then (what
 * older repositories hold) torch.save's pytorch_model.bin, read by a pickle interpreter that runs
 * no code. Each is one file or shards listed by an index.
 */
const FORMATS = [
  { file: 'model.safetensors', index: 'model.safetensors.index.json', read: SafetensorsReader.open },
  { file: 'pytorch_model.bin', index: 'pytorch_model.bin.index.json', read: TorchCheckpoint.open },
] as const;

/** The folder's weights in the first format it has, or undefined where it has none of them. */
export async function checkpointWeights(files: WeightFiles): Promise<TensorSource | undefined> {
  for (const format of FORMATS) {
    const index = await files.json(format.index);
    if (index !== undefined) {
      return ShardedTensors.open(
        index,
        format.index,
        async (name) => {
          const source = await files.open(name);
          if (!source) throw new ModelFormatError(`${format.index} lists ${name}, which is missing`);
          return source;
        },
        format.read,
      );
    }
    const single = await files.open(format.file);
    if (single) return format.read(single);
  }
  return undefined;
}
