import { InputError } from '../errors.js';
import type { HfCheckpoint } from '../pack/convert.js';
import { type HubOptions, HubRepo, openHubCheckpoint } from '../source/hub.js';
import { folderHubStore } from '../source/hub-folder.js';
import { type HubModelId, hubIdText } from '../source/hub-id.js';
import { dropReplaced, hubWidths, resolveHubPack } from '../source/hub-model.js';
import { nodeHubId } from '../source/node-hub-id.js';
import type { Quant } from '../weights/weights.js';
import type { CliIo } from './args.js';

/** The hub a command talks to: M3WEB_HUB_URL (else huggingface.co) with HF_TOKEN, Hugging Face's own variable. */
export function hubFromEnv(env: CliIo['env']): HubOptions {
  return { ...(env.M3WEB_HUB_URL ? { url: env.M3WEB_HUB_URL } : {}), ...(env.HF_TOKEN ? { token: env.HF_TOKEN } : {}) };
}

/** The hub id a model argument names (see nodeHubId), or null for a folder; --revision needs an id. */
export async function cliHubId(model: string, revision: string | undefined): Promise<HubModelId | null> {
  const id = await nodeHubId(model, revision);
  if (!id && revision !== undefined) {
    throw new InputError(`--revision applies to hub ids (hf:org/name or org/name); ${JSON.stringify(model)} is a folder`);
  }
  return id;
}

/**
 * A --model that may be a hub id, as a local folder: a hub model is converted once into the
 * cache (M3WEB_CACHE_DIR) and its pack folder returned; anything else is returned as it is.
 */
export async function modelFolder(
  model: string,
  io: CliIo,
  options: { dtype?: Quant; dims?: number[]; revision?: string | undefined } = {},
): Promise<string> {
  const { revision, ...rest } = options;
  const id = await cliHubId(model, revision);
  if (!id) return model;
  const hubOptions = { hub: hubFromEnv(io.env), ...rest };
  const store = folderHubStore();
  const ready = await resolveHubPack(id, hubOptions, store);
  if (!('location' in ready)) return model;
  if (ready.replaced) await dropReplaced(id, hubOptions, store, ready.replaced);
  return ready.location;
}

/** A hub id's checkpoint, streamed, for `m3web convert hf:org/name`. */
export async function hubCheckpoint(
  id: HubModelId,
  io: CliIo,
): Promise<HfCheckpoint & { close(): Promise<void>; widths: number[] | undefined }> {
  io.stderr.write(`m3web: reading ${hubIdText(id)}\n`);
  const repo = new HubRepo(id, hubFromEnv(io.env));
  const ckpt = await openHubCheckpoint(repo);
  // The widths createEncoder would open it with.
  return { ...ckpt, widths: await hubWidths(repo, ckpt.config), close: async () => {} };
}
