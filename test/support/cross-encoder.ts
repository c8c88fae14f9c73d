import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createEncoder } from '../../src/client/client.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';

/**
 * The largest difference from the oracle's logits of a cross-encoder folder converted to an f32 and
 * a q8 pack, each written to disk and opened as a pack (an Identity model's scores are its logits;
 * a sigmoid one's are compared through the sigmoid's inverse).
 */
export async function packAgainstOracleFolder(
  dir: string,
  expected: { pairs: [string, string][]; logits: number[]; scores: number[]; instructions?: (string | null)[] },
): Promise<{ f32: number; q8: number }> {
  const worst = { f32: 0, q8: 0 };
  for (const quant of ['f32', 'q8'] as const) {
    const ckpt = await openHfCheckpoint(dir);
    // The pack is named after the folder: an original Qwen3-Reranker is known by its name.
    const pack = await convertCheckpoint(ckpt, { id: `${basename(dir)}-${quant}`, quant }).finally(() => ckpt.close());
    const out = mkdtempSync(join(tmpdir(), 'm3web-ce-pack-'));
    for (const [name, bytes] of pack.files) writeFileSync(join(out, name), bytes);
    const enc = await createEncoder({ model: out, device: 'cpu' });
    try {
      for (const [i, [q, d]] of expected.pairs.entries()) {
        const instruction = expected.instructions?.[i];
        const [hit] = await enc.rerank(q, [d], instruction ? { instruction } : {});
        const sigmoid = expected.scores[i] !== expected.logits[i];
        const score = hit?.score as number;
        const logit = sigmoid ? Math.log(score / (1 - score)) : score;
        worst[quant] = Math.max(worst[quant], Math.abs(logit - (expected.logits[i] as number)));
      }
    } finally {
      await enc.dispose();
    }
  }
  return worst;
}
