import { stat } from 'node:fs/promises';
import { type HubModelId, parseHubId } from './hub-id.js';

/**
 * parseHubId in Node, where a bare `org/name` may also be a relative folder path: a path that
 * exists is that folder (as transformers.js looks for a local model first); `hf:` is always an id.
 */
export async function nodeHubId(model: string, revision?: string): Promise<HubModelId | null> {
  const id = parseHubId(model, revision);
  if (!id || model.startsWith('hf:')) return id;
  const local = await stat(model).then(
    () => true,
    () => false,
  );
  return local ? null : id;
}
