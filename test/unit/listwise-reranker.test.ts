import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEncoder } from '../../src/client/client.js';
import { listwiseScores } from '../../src/model/listwise.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { listwisePrompts } from '../../src/tokenizer/listwise-prompt.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { type ListwiseSpec, parseHfConfig } from '../../src/weights/config.js';
import { jsonLines, m3web } from '../support/cli.js';

// jina-reranker-v3 (JinaForRanking) against test/oracle/make_jina_reranker_v3.py: its modeling.py's
// prompt, blocks, truncation, projector and block-weighted cosines, over a float64 Qwen3 forward.

const DIR = join(import.meta.dirname, '../oracle/fixtures/jina-reranker-v3-tiny');
interface Case {
  why: string;
  query: string;
  documents: string[];
  instruction?: string;
  blocks: number[][];
  ids: number[][];
  weights: number[];
  scores: number[];
  truncated: boolean[];
}
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as { cases: Case[] };
const config = JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
const tokenizer = () =>
  TextTokenizer.fromJson(
    JSON.parse(readFileSync(join(DIR, 'tokenizer.json'), 'utf8')),
    JSON.parse(readFileSync(join(DIR, 'tokenizer_config.json'), 'utf8')),
  );
const options = (c: Case) => (c.instruction ? { instruction: c.instruction } : {});
/** The oracle's scores in document order. */
const byDocument = (c: Case) => {
  const out: number[] = [];
  c.blocks.flat().forEach((d, k) => {
    out[d] = c.scores[k] as number;
  });
  return out;
};
const copyWith = (files: Record<string, string>) => {
  const dir = mkdtempSync(join(tmpdir(), 'm3web-listwise-'));
  for (const f of readdirSync(DIR)) copyFileSync(join(DIR, f), join(dir, f));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
};

describe('jina-reranker-v3 (a listwise reranker)', () => {
  const spec = parseHfConfig(config).listwise as ListwiseSpec;

  it('is known by its architecture, reads no pair classifier, and runs causally despite its auto_map', () => {
    expect(spec).toEqual({
      prompt: 'jina-reranker-v3',
      dim: 512,
      projection: ['relu', 'identity'],
      documentToken: '<|embed_token|>',
      queryToken: '<|rerank_token|>',
    });
    const parsed = parseHfConfig(config);
    expect(parsed.crossEncoder).toBeUndefined();
    expect(parsed.decoder?.causal).toBe(true);
    expect(parseHfConfig({ ...config, architectures: ['Qwen3ForCausalLM'], auto_map: undefined }).listwise).toBeUndefined();
    // Sliding-window layers would change every score past the window: refused, not run as full attention.
    const layer_types = ['full_attention', 'sliding_attention', 'full_attention'];
    expect(() => parseHfConfig({ ...config, layer_types, sliding_window: 1024 })).toThrow(/sliding-window layers/);
    expect(parseHfConfig({ ...config, layer_types: layer_types.map(() => 'full_attention') }).listwise).toBeDefined();
  });

  it("builds the model's prompts: the blocks, the cuts and every token id", () => {
    const tok = tokenizer();
    for (const c of expected.cases) {
      const got = listwisePrompts(tok, spec, c.query, c.documents, 4096, c.instruction);
      expect(
        got.blocks.map((b) => b.documents),
        c.why,
      ).toEqual(c.blocks);
      expect(
        got.blocks.map((b) => b.ids),
        c.why,
      ).toEqual(c.ids);
      expect(got.truncated, c.why).toEqual(c.truncated);
      for (const b of got.blocks) {
        expect(b.queryAt).toBe(b.ids.lastIndexOf(tok.tokenId(spec.queryToken) as number));
        expect(b.documentAt.map((at) => b.ids[at])).toEqual(b.documents.map(() => tok.tokenId(spec.documentToken)));
      }
    }
  });

  it('a model of fewer positions cuts the query at an eighth of them and a document at half, each prompt within them', () => {
    const tok = tokenizer();
    const c = expected.cases.find((c) => c.why.includes('cut and decoded')) as Case;
    const short = c.documents.slice(1);
    const got = listwisePrompts(tok, spec, c.query, short, 1000);
    const cutTo = (text: string, n: number) => tok.decode(tok.tokenIds(text, true).slice(0, n));
    const precut = listwisePrompts(tok, spec, cutTo(c.query, 125), short, 1000);
    expect(got.blocks.map((b) => b.ids)).toEqual(precut.blocks.map((b) => b.ids));
    expect(got.truncated).toEqual([true, true]);
    expect(precut.truncated).toEqual([false, false]);
    // The long document is cut at 500 tokens, then further where the prompt around it leaves less.
    const long = listwisePrompts(tok, spec, c.query, c.documents, 1000);
    expect(Math.max(...long.blocks.map((b) => b.ids.length))).toBeLessThanOrEqual(1000);
    expect(long.blocks[0]?.ids.length).toBeGreaterThan(990);
    const alone = listwisePrompts(tok, spec, cutTo(c.query, 125), [cutTo(c.documents[0] as string, 500)], 1000);
    expect(alone.truncated).toEqual([true]);
    expect(Math.max(...alone.blocks.map((b) => b.ids.length))).toBeLessThanOrEqual(1000);
  });

  it('a prompt that cannot fit even one document is an input error', () => {
    expect(() => listwisePrompts(tokenizer(), spec, 'q', ['d'], 4096, 'x '.repeat(5000))).toThrow(
      /tokens without its document, the model reads 4096 \(a shorter instruction/,
    );
  });

  it('scores every case as the oracle does, on the CPU', async () => {
    const enc = await createEncoder({ model: DIR, device: 'cpu' });
    try {
      const { model } = await enc.info();
      expect(model).toMatchObject({ crossEncoder: true, listwise: true, rerankInstruction: '' });
      let worst = 0;
      for (const c of expected.cases) {
        const hits = await enc.rerank(c.query, c.documents, options(c));
        const want = byDocument(c);
        for (const h of hits) {
          worst = Math.max(worst, Math.abs(h.score - (want[h.index] as number)));
          expect(h.truncated).toBe(c.truncated[h.index]);
        }
        expect(hits.map((h) => h.score)).toEqual([...hits.map((h) => h.score)].sort((a, b) => b - a));
      }
      console.log(`jina-reranker-v3-tiny cpu f32: max |score - oracle| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(2e-5);
      await expect(enc.embed(['a'])).rejects.toThrow(/listwise reranker/);
      await expect(enc.rerank('q', ['d'], { long: 'windows' })).rejects.toThrow(/listwise/);
    } finally {
      await enc.dispose();
    }
  });

  it('m3web rerank prints the instruction case best first, as the oracle ranks it', async () => {
    const c = expected.cases.find((c) => c.instruction) as Case;
    const r = await m3web(
      ['rerank', '--model', DIR, '--query', c.query, '--instruction', c.instruction as string, '--backend', 'cpu'],
      jsonLines(c.documents),
    );
    expect(r.stderr).toBe('');
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { index: number; score: number });
    const want = byDocument(c);
    expect(lines.map((l) => l.index)).toEqual([...want.keys()].sort((a, b) => (want[b] as number) - (want[a] as number)));
    for (const l of lines) expect(l.score).toBeCloseTo(want[l.index] as number, 5);
  });

  it('a pack under any id keeps the projector and the architecture: f32 as the folder, q8 close', async () => {
    const c = expected.cases[0] as Case;
    const want = byDocument(c);
    const off: Record<string, number> = {};
    for (const quant of ['f32', 'q8'] as const) {
      const ckpt = await openHfCheckpoint(DIR);
      const pack = await convertCheckpoint(ckpt, { id: `renamed-${quant}`, quant }).finally(() => ckpt.close());
      expect(parseHfConfig(pack.manifest.config).listwise?.prompt).toBe('jina-reranker-v3');
      const out = mkdtempSync(join(tmpdir(), 'm3web-listwise-pack-'));
      for (const [name, bytes] of pack.files) writeFileSync(join(out, name), bytes);
      const enc = await createEncoder({ model: out, device: 'cpu' });
      try {
        const hits = await enc.rerank(c.query, c.documents);
        off[quant] = Math.max(...hits.map((h) => Math.abs(h.score - (want[h.index] as number))));
      } finally {
        await enc.dispose();
      }
    }
    console.log(`jina-reranker-v3-tiny packs: max |score - oracle| f32 ${off.f32?.toExponential(1)}, q8 ${off.q8?.toFixed(4)}`);
    expect(off.f32).toBeLessThan(2e-5);
    expect(off.q8).toBeLessThan(0.05);
  });

  it('a checkpoint without its projector, or a tokenizer without its tokens, is a format error', async () => {
    // The header's name for the projector's second Linear, changed in place (same length).
    const bytes = readFileSync(join(DIR, 'model.safetensors'));
    const at = bytes.indexOf('projector.2.weight');
    expect(at).toBeGreaterThan(0);
    bytes.write('projector.9.weight', at);
    const noProjector = copyWith({});
    writeFileSync(join(noProjector, 'model.safetensors'), bytes);
    await expect(createEncoder({ model: noProjector, device: 'cpu' })).rejects.toThrow(/needs projector\.2\.weight \[512, 32\]/);
    const tok = JSON.parse(readFileSync(join(DIR, 'tokenizer.json'), 'utf8')) as {
      added_tokens: { content: string }[];
      model: { vocab: Record<string, number> };
    };
    const without = {
      ...tok,
      added_tokens: tok.added_tokens.filter((t) => t.content !== '<|rerank_token|>'),
      model: {
        ...tok.model,
        vocab: Object.fromEntries(Object.entries(tok.model.vocab).filter(([k]) => k !== '<|rerank_token|>')),
      },
    };
    const enc = await createEncoder({ model: copyWith({ 'tokenizer.json': JSON.stringify(without) }), device: 'cpu' });
    try {
      await expect(enc.rerank('q', ['d'])).rejects.toThrow(/has no <\|rerank_token\|> token/);
    } finally {
      await enc.dispose();
    }
  });

  it('merges blocks by their best cosine: one block is its own cosine, a weak block counts less', () => {
    const v = (...x: number[]) => Float32Array.from(x);
    const [same, diagonal] = listwiseScores([{ documents: [v(1, 0), v(1, 1)], query: v(2, 0) }]);
    expect(same).toBeCloseTo(1, 12);
    expect(diagonal).toBeCloseTo(Math.SQRT1_2, 12);
    const [a, b] = listwiseScores([
      { documents: [v(1, 0)], query: v(1, 0) },
      { documents: [v(0, 1)], query: v(-1, 0) },
    ]);
    // Weights 1 and 0.5: the merged query is (0.5 / 1.5, 0), so the first document scores 1, the second 0.
    expect(a).toBeCloseTo(1, 12);
    expect(b).toBeCloseTo(0, 12);
  });
});
