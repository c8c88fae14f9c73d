import { parseManifest } from '../../src/pack/manifest.js';
import { packWeights } from '../../src/pack/read.js';
import type { BertWeights } from '../../src/weights/weights.js';
import { readFixtureBytes, readFixtureJson } from './fixtures.js';

const PACK = 'public/models/m3-mini';

/** The bundled m3-mini's weights as shipped (q8) and its exits, plus the oracle fixture's token ids (28 texts: 8 languages, a long one, two behind the query / passage prefixes). */
export async function m3Mini(): Promise<{ weights: BertWeights; exits: number[]; ids: number[][] }> {
  const manifest = parseManifest(JSON.parse(new TextDecoder().decode(await readFixtureBytes(`${PACK}/manifest.json`))));
  const files = new Map<string, Uint8Array>();
  for (const s of manifest.shards) files.set(s.file, await readFixtureBytes(`${PACK}/${s.file}`));
  const weights = packWeights(manifest, files, manifest.exits.at(-1) as number);
  if (weights.family !== 'bert') throw new Error('the bundled m3-mini is a BERT model');
  const { ids } = await readFixtureJson<{ ids: number[][] }>('test/oracle/fixtures/m3-mini/expected.json');
  return { weights, exits: manifest.exits, ids };
}
