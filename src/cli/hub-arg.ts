import type { HfCheckpoint } from '../pack/convert.js';
import { type HubModelId, type HubOptions, HubRepo, hubIdText, openHubCheckpoint, parseHubId } from '../source/hub.js';
import { folderHubStore } from '../source/hub-folder.js';
import { resolveHubPack } from '../source/hub-model.js';
import type { Quant } from '../weights/weights.js';
import type { CliIo } from './args.js';

/** The hub a command talks to: M3WEB_HUB_URL (else huggingface.co) with HF_TOKEN, Hugging Face's own variable. */
export function hubFromEnv(env: CliIo['env']): HubOptions {
  return { ...(env.M3WEB_HUB_URL ? { url: env.M3WEB_HUB_URL } : {}), ...(env.HF_TOKEN ? { token: env.HF_TOKEN } : {}) };
}

/**
 * A --model that may be a hub id, as a local folder: a hub model is converted once into the
 * cache (M3WEB_CACHE_DIR) and its pack folder returned; anything else is returned as it is.
 */
export async function modelFolder(model: string, io: CliIo, options: { dtype?: Quant; dims?: number[] } = {}): Promise<string> {
  const id = parseHubId(model);
  if (!id) return model;
  const ready = await resolveHubPack(id, { hub: hubFromEnv(io.env), ...options }, folderHubStore());
  return 'location' in ready ? ready.location : model;
}

/** A hub id's checkpoint, streamed, for `m3web convert hf:org/name`. */
export async function hubCheckpoint(id: HubModelId, io: CliIo): Promise<HfCheckpoint & { close(): Promise<void> }> {
  io.stderr.write(`m3web: reading ${hubIdText(id)}\n`);
  const ckpt = await openHubCheckpoint(new HubRepo(id, hubFromEnv(io.env)));
  return { ...ckpt, close: async () => {} };
}
