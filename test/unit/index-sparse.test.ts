import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEncoder, createIndex, type Encoder } from '../../src/client/client.js';
import { InputError } from '../../src/errors.js';
import { sparseScore } from '../../src/index.js';
import { parseIndex, serializeIndex } from '../../src/search/serialize.js';
import type { VectorIndex } from '../../src/search/types.js';
import { m3web } from '../support/cli.js';
import { readOracleJson } from '../support/oracle-pack.js';
import { expectStaticLikeMemory } from '../support/static-folder.js';

// An index over a model with a lexical-weights head (BGE-M3's layout over xlmr-tiny) stores each
// chunk's weights beside its vector and ranks by them too: alone (mode 'sparse') as the model's
// own lexical matching score does, and fused into hybrid search.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const { texts } = readOracleJson<{ texts: string[] }>(join(FIXTURES, 'bge-m3-tiny', 'expected.json'));
const DOCS = texts.map((text, i) => ({ id: `d${i}`, text }));

function folder(head: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'm3web-index-sparse-'));
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'])
    copyFileSync(join(FIXTURES, 'xlmr-tiny', f), join(dir, f));
  mkdirSync(join(dir, '1_Pooling'));
  writeFileSync(join(dir, '1_Pooling/config.json'), JSON.stringify({ pooling_mode_cls_token: true }));
  if (head) copyFileSync(join(FIXTURES, 'bge-m3-tiny', 'sparse_linear.pt'), join(dir, 'sparse_linear.pt'));
  return dir;
}

/** Document ids by the model's own lexical matching score against `query`, best first (ids of equal score by add order). */
async function byModel(encoder: Encoder, query: string, ids: readonly string[]): Promise<string[]> {
  const [q, ...docs] = await encoder.embedSparse([query, ...ids.map((id) => DOCS[Number(id.slice(1))]?.text as string)]);
  return ids
    .map((id, i) => ({ id, score: sparseScore(q as never, docs[i] as never), i }))
    .filter((d) => d.score > 0)
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .map((d) => d.id);
}

describe('an index that stores lexical weights', () => {
  let encoder: Encoder;
  let index: VectorIndex;
  beforeAll(async () => {
    encoder = await createEncoder({ model: folder(true), device: 'cpu' });
    index = await createIndex({ encoder, name: 'sparse', store: 'memory' });
    await index.add(DOCS);
  });
  afterAll(async () => {
    index.close();
    await encoder.dispose();
  });

  it("is the default on such a model, and mode 'sparse' ranks as the model's lexical matching score", async () => {
    expect(index.signature.sparse).toBe(true);
    const ids = DOCS.map((d) => d.id);
    for (const query of [texts[0] as string, texts[2] as string, 'President Bush']) {
      const hits = await index.search(query, { mode: 'sparse', k: 12 });
      expect(hits.map((h) => h.id)).toEqual(await byModel(encoder, query, ids));
      expect(hits.every((h) => h.ranks.sparse !== undefined && h.ranks.vector === undefined)).toBe(true);
    }
  });

  it('fuses the lexical weights into hybrid search as a third ranker, weighted by fusion.weights.sparse', async () => {
    const hybrid = await index.search(texts[0] as string, { k: 5 });
    expect(hybrid[0]?.id).toBe('d0');
    expect(hybrid[0]?.ranks).toMatchObject({ vector: 1, sparse: 1 });
    const without = await index.search(texts[0] as string, { k: 12, fusion: { weights: { sparse: 0 } } });
    const alone = await index.search(texts[0] as string, { k: 12, fusion: { weights: { vector: 0, lexical: 0 } } });
    // Documents the other rankers found still come, at a fused score of 0, after the sparse ranker's.
    expect(alone.filter((h) => h.score > 0).map((h) => h.id)).toEqual(
      await byModel(
        encoder,
        texts[0] as string,
        DOCS.map((d) => d.id),
      ),
    );
    expect(without.map((h) => h.score)).not.toEqual(hybrid.map((h) => h.score));
    await expect(index.search('x', { fusion: { weights: { splade: 1 } as never } })).rejects.toThrow(/unknown ranker "splade"/);
  });

  it('keeps the weights through export and import, and forgets a removed document', async () => {
    const copy = await createIndex({ encoder, name: 'sparse-copy', store: 'memory' });
    try {
      await copy.import(await index.export());
      expect(copy.signature.sparse).toBe(true);
      const query = texts[1] as string;
      expect((await copy.search(query, { mode: 'sparse', k: 12 })).map((h) => h.id)).toEqual(
        (await index.search(query, { mode: 'sparse', k: 12 })).map((h) => h.id),
      );
      await copy.remove(['d1']);
      const after = (await copy.search(query, { mode: 'sparse', k: 12 })).map((h) => h.id);
      expect(after).not.toContain('d1');
      expect(after).toEqual(
        await byModel(
          encoder,
          query,
          DOCS.map((d) => d.id).filter((id) => id !== 'd1'),
        ),
      );
    } finally {
      copy.close();
    }
  });

  it('a static index written from it ranks by the weights, words, vectors and all three as this index does', async () => {
    const queries = [texts[0] as string, texts[2] as string, 'President Bush'];
    const m = await expectStaticLikeMemory(index, encoder, queries, ['sparse', 'hybrid', 'vector', 'lexical'], [64]);
    expect(m.signature.sparse).toBe(true);
    expect(m.sizes.sparse?.length).toBeGreaterThan(0);
  });

  it('refuses an export whose lexical weights are damaged, keeping what it holds', async () => {
    const copy = await createIndex({ encoder, name: 'sparse-damaged', store: 'memory' });
    try {
      const { signature, segment } = parseIndex(await index.export());
      const damaged = (change: (w: { indices: number[]; values: number[] }) => void) => {
        const docs = structuredClone(segment.docs);
        change(docs[0]?.sparse?.[0] as { indices: number[]; values: number[] });
        return serializeIndex(signature, { ...segment, docs });
      };
      for (const bytes of [
        damaged((w) => w.values.pop()),
        damaged((w) => {
          w.indices[0] = -1;
        }),
        damaged((w) => {
          w.values[0] = Number.NaN;
        }),
      ])
        await expect(copy.import(bytes)).rejects.toThrow(InputError);
      expect(copy.size).toBe(0);
    } finally {
      copy.close();
    }
  });

  it('sparse: false stores none, and refuses an export made with them', async () => {
    const plain = await createIndex({ encoder, name: 'plain', store: 'memory', sparse: false });
    try {
      expect(plain.signature.sparse).toBeUndefined();
      await plain.add(DOCS.slice(0, 2));
      await expect(plain.search('cat', { mode: 'sparse' })).rejects.toThrow(InputError);
      expect((await plain.search(texts[0] as string))[0]?.ranks.sparse).toBeUndefined();
      await expect(plain.import(await index.export())).rejects.toThrow(/lexical weights/);
    } finally {
      plain.close();
    }
  });

  it('m3web index stores the weights by default, and --no-sparse leaves them out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'm3web-index-sparse-cli-'));
    const docs = join(dir, 'docs.jsonl');
    writeFileSync(
      docs,
      DOCS.slice(0, 3)
        .map((d) => `${JSON.stringify(d)}\n`)
        .join(''),
    );
    const model = folder(true);
    const withWeights = await m3web(['index', '--model', model, '--docs', docs, '--out', join(dir, 'a.m3index')], '');
    expect(withWeights.code, withWeights.stderr).toBe(0);
    expect(withWeights.stderr).toMatch(/lexical weights/);
    expect(parseIndex(new Uint8Array(readFileSync(join(dir, 'a.m3index')))).segment.docs[0]?.sparse).toHaveLength(1);
    const without = await m3web(['index', '--model', model, '--docs', docs, '--out', join(dir, 'b.m3index'), '--no-sparse'], '');
    expect(without.code, without.stderr).toBe(0);
    expect(without.stderr).not.toMatch(/lexical weights/);
    expect(parseIndex(new Uint8Array(readFileSync(join(dir, 'b.m3index')))).signature.sparse).toBeUndefined();
  });

  it('a model without the head refuses sparse: true', async () => {
    const other = await createEncoder({ model: folder(false), device: 'cpu' });
    try {
      await expect(createIndex({ encoder: other, name: 'no-head', store: 'memory', sparse: true })).rejects.toThrow(
        /no lexical-weights head/,
      );
      const index = await createIndex({ encoder: other, name: 'no-head', store: 'memory' });
      expect(index.signature.sparse).toBeUndefined();
      index.close();
    } finally {
      await other.dispose();
    }
  });
});
