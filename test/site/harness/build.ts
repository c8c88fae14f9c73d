import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openHfCheckpoint } from '../../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../../src/pack/convert.js';

const ROOT = join(import.meta.dirname, '../../..');
const VITE = join(ROOT, 'node_modules/vite/bin/vite.js');

/**
 * Builds the harness page with Vite (production, as a user's app would be) into a fresh folder,
 * with the bert-tiny fixture converted to a q8 pack under `pack/`; returns the folder.
 */
export async function buildHarness(packId: string): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'm3web-harness-'));
  execFileSync(process.execPath, [VITE, 'build', '--config', 'test/site/harness/vite.config.ts', '--outDir', outDir], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const ckpt = await openHfCheckpoint(join(ROOT, 'test/oracle/fixtures/bert-tiny'));
  const pack = await convertCheckpoint(ckpt, { id: packId, quant: 'q8' });
  await ckpt.close();
  mkdirSync(join(outDir, 'pack'));
  for (const [file, bytes] of pack.files) writeFileSync(join(outDir, 'pack', file), bytes);
  return outDir;
}
