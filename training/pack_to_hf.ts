/**
 * Writes an m3web BERT pack as a Hugging Face folder (f32 safetensors, dequantised): the start
 * point when a run continues the shipped weights (`train.py --init-hf`), since a pack is what the
 * project keeps under version control and training checkpoints are not.
 *
 *   npx tsx training/pack_to_hf.ts public/models/m3-mini training/work/init/m3-mini
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeHfFolder } from '../bench/hf-folder.js';
import { readPackFolder } from '../src/node/pack-folder.js';
import { packWeights } from '../src/pack/read.js';
import { parseHfConfig } from '../src/weights/config.js';

const [packDir, out] = process.argv.slice(2);
if (!packDir || !out) throw new Error('usage: tsx training/pack_to_hf.ts PACK_DIR OUT_DIR');
const { manifest, files } = await readPackFolder(packDir);
const weights = packWeights(manifest, files, parseHfConfig(manifest.config).numLayers);
if (weights.family !== 'bert') throw new Error(`${packDir} is not a BERT pack`);
const json = await readFile(join(packDir, 'tokenizer.json'), 'utf8');
await writeHfFolder(out, weights, { json, config: manifest.tokenizer.config ?? {} });
console.log(`wrote ${out} from ${packDir}`);
