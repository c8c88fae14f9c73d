import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IntegrityError, ModelFormatError } from '../errors.js';
import { MANIFEST_FILE, type PackManifest, parseManifest, shardsFor } from '../pack/manifest.js';
import { sha256Hex } from '../pack/sha256.js';

/**
 * Reads a model pack from a local folder: the manifest and the files the first `layers` layers
 * need (all when omitted), each checked against its size and SHA-256.
 */
export async function readPackFolder(
  dir: string,
  layers?: number,
  have: ReadonlySet<string> = new Set(),
): Promise<{ manifest: PackManifest; files: Map<string, Uint8Array> }> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8'));
  } catch (cause) {
    throw new ModelFormatError(`${join(dir, MANIFEST_FILE)} is missing or not JSON`, { cause });
  }
  const manifest = parseManifest(raw);
  const wanted = [manifest.tokenizer, ...shardsFor(manifest, layers ?? Number.MAX_SAFE_INTEGER)].filter((f) => !have.has(f.file));
  const files = new Map<string, Uint8Array>();
  for (const entry of wanted) {
    const path = join(dir, entry.file);
    const bytes = new Uint8Array(
      await readFile(path).catch((cause) => {
        throw new ModelFormatError(`pack file ${path} is missing`, { cause });
      }),
    );
    if (bytes.length !== entry.bytes)
      throw new ModelFormatError(`${path} has ${bytes.length} bytes, the manifest says ${entry.bytes} (truncated?)`);
    const hash = await sha256Hex(bytes);
    if (hash !== entry.sha256) throw new IntegrityError(`${path} is corrupt: SHA-256 ${hash}, the manifest says ${entry.sha256}`);
    files.set(entry.file, bytes);
  }
  return { manifest, files };
}
