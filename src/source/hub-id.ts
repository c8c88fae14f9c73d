import { InputError } from '../errors.js';

// Apart from the hub reader, so the page's client can tell an id from a URL without bundling it.

export interface HubModelId {
  /** "org/name". */
  repo: string;
  /** A branch, tag or commit (default "main"). */
  revision: string;
  /** `hf:org/name:Q8_0`: which GGUF file of the repository to read, by its quantization (llama.cpp's `-hf repo:TAG`). */
  ggufTag?: string;
}

const NAME = '[A-Za-z0-9](?:[\\w.-]{0,94}[A-Za-z0-9_])?';
const REVISION = '[\\w./-]{1,200}';
const GGUF_TAG = '[\\w.-]{1,64}';
const HUB_ID = new RegExp(`^hf:(${NAME}/${NAME})(?::(${GGUF_TAG}))?(?:@(${REVISION}))?$`);
const BARE_ID = new RegExp(`^${NAME}/${NAME}$`);
const REVISION_RE = new RegExp(`^${REVISION}$`);
// The Hub refuses these in repo names; a string holding them is a path or URL, never an id.
const NOT_HUB = /--|\.\./;

/**
 * The hub id `model` names, or null: `hf:org/name`, `hf:org/name@revision`, `hf:org/name:Q8_0` (a
 * GGUF repository's file by its quantization, before any `@revision`), or a bare `org/name`
 * as transformers.js takes it, which is only read so where it cannot be a relative URL or path:
 * no scheme, no leading `./` or `/`, exactly one slash, characters the Hub allows in names.
 * (So a pack next to the page is written `./models/m3` or with its `manifest.json`.)
 * `revision` is the separate option; one that contradicts an `@revision` in `model` is an InputError.
 */
export function parseHubId(model: string, revision?: string): HubModelId | null {
  const m = HUB_ID.exec(model) ?? (BARE_ID.test(model) ? [model, model] : null);
  if (!m || NOT_HUB.test(m[1] as string)) return null;
  if (revision !== undefined && (typeof revision !== 'string' || !REVISION_RE.test(revision))) {
    throw new InputError(
      `revision must be a branch, tag or commit name (letters, digits, _ . / -), got ${JSON.stringify(revision)}`,
    );
  }
  const [, repo, ggufTag, named] = m;
  if (named !== undefined && revision !== undefined && named !== revision) {
    throw new InputError(
      `${model} names revision ${named} but the revision option says ${revision}: give the revision in one place only`,
    );
  }
  return { repo: repo as string, revision: named ?? revision ?? 'main', ...(ggufTag ? { ggufTag } : {}) };
}

export const hubIdText = (id: HubModelId) => `hf:${id.repo}${id.ggufTag ? `:${id.ggufTag}` : ''}@${id.revision}`;
