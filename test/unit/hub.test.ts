import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder } from '../../src/client/client.js';
import { parseHubId } from '../../src/source/hub-id.js';
import { nodeHubId } from '../../src/source/node-hub-id.js';
import type { LoadProgress } from '../../src/types.js';
import { m3web } from '../support/cli.js';
import { type FakeHub, type FakeRepo, folderFiles, shardSafetensors, startFakeHub } from '../support/hub-server.js';
import { cosine } from '../support/random.js';

// Models by hub id, in Node, against a local server in the Hugging Face Hub's layout (no real
// hub is reachable here): redirects to a second origin for the weights, Range requests, a
// gated repo, a connection cut mid-shard, missing and unsupported repos.

const FIXTURE = join(import.meta.dirname, '../oracle/fixtures/bert-tiny');
const MODERN = join(import.meta.dirname, '../oracle/fixtures/modernbert-tiny');
const QWEN3_RERANKER = join(import.meta.dirname, '../oracle/fixtures/qwen3-reranker-tiny');
const MXBAI_RERANKER = join(import.meta.dirname, '../oracle/fixtures/mxbai-rerank-tiny-v2');
const JINA_V3_RERANKER = join(import.meta.dirname, '../oracle/fixtures/jina-reranker-v3-tiny');
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as { texts: string[] };
const oracle = new SafetensorsFile(new Uint8Array(readFileSync(join(FIXTURE, 'expected.safetensors'))));
const H = 48;
const BASE = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/** modules.json of a sentence-transformers folder: Transformer, Pooling, then `last`. */
const modules = (last: string) =>
  json(
    ['Transformer', 'Pooling', last].map((type, idx) => ({
      idx,
      name: String(idx),
      path: ['', '1_Pooling', `2_${last}`][idx],
      type: `sentence_transformers.models.${type}`,
    })),
  );

function bertTiny(extra: [string, Uint8Array][] = []): Map<string, Uint8Array> {
  return new Map([...folderFiles(FIXTURE, [...BASE, 'model.safetensors']), ...extra]);
}

let hub: FakeHub;
let cacheDir: string;

beforeAll(async () => {
  cacheDir = mkdtempSync(join(tmpdir(), 'm3web-hub-cache-'));
  process.env.M3WEB_CACHE_DIR = cacheDir;
  const weights = folderFiles(FIXTURE, ['model.safetensors']).get('model.safetensors') as Uint8Array;
  const shards = shardSafetensors(weights, 3);
  hub = await startFakeHub(
    new Map([
      ['fixtures/bert-tiny', { files: bertTiny(), commit: 'c0ffee1' }],
      ['fixtures/modernbert-tiny', { files: folderFiles(MODERN, [...BASE, 'model.safetensors']), commit: 'c0ffee8' }],
      // Qwen3-Reranker's original layout (Qwen3ForCausalLM): known by its name, as vLLM is told by hf_overrides.
      ['fixtures/Qwen3-Reranker-tiny', { files: folderFiles(QWEN3_RERANKER, [...BASE, 'model.safetensors']), commit: 'c0ffee9' }],
      [
        'fixtures/mxbai-rerank-tiny-v2',
        { files: folderFiles(MXBAI_RERANKER, [...BASE, 'model.safetensors']), commit: 'c0ffeea' },
      ],
      // As jinaai/jina-reranker-v3 holds it: its model code beside the weights (never run; the architecture says it all).
      [
        'fixtures/listwise-tiny',
        {
          files: new Map([
            ...folderFiles(JINA_V3_RERANKER, [...BASE, 'model.safetensors']),
            ['modeling.py', new TextEncoder().encode('class JinaForRanking: ...\n')],
          ]),
          commit: 'c0ffeeb',
        },
      ],
      [
        'fixtures/bert-tiny-sharded',
        {
          files: new Map([...folderFiles(FIXTURE, BASE), ...shards]),
          commit: 'c0ffee2',
          cutOnce: new Map([['model-00002-of-00003.safetensors', 1500]]),
        },
      ],
      [
        'fixtures/bert-tiny-st',
        {
          files: bertTiny([
            ['modules.json', modules('Normalize')],
            [
              '1_Pooling/config.json',
              json({ word_embedding_dimension: H, pooling_mode_cls_token: true, pooling_mode_mean_tokens: false }),
            ],
            [
              'config_sentence_transformers.json',
              json({ prompts: { query: 'query: ', document: 'passage: ' }, default_prompt_name: null }),
            ],
            ['sentence_bert_config.json', json({ max_seq_length: 150, do_lower_case: false })],
          ]),
          commit: 'c0ffee3',
        },
      ],
      [
        'fixtures/bert-tiny-layernorm',
        {
          files: bertTiny([['modules.json', modules('LayerNorm')]]),
          commit: 'c0ffee4',
        },
      ],
      ['fixtures/gated', { files: bertTiny(), commit: 'c0ffee5', token: 'hf_secret' }],
      [
        'fixtures/pickle-only',
        { files: new Map([...folderFiles(FIXTURE, BASE), ['pytorch_model.bin', new Uint8Array(64)]]), commit: 'c0ffee6' },
      ],
      [
        'fixtures/gpt2',
        {
          files: new Map([
            ...bertTiny(),
            ['config.json', json({ ...JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8')), model_type: 'gpt2' })],
          ]),
          commit: 'c0ffee7',
        },
      ],
    ]),
  );
});

afterAll(async () => {
  await hub?.close();
  delete process.env.M3WEB_CACHE_DIR;
});

const open = (repo: string, extra: Record<string, unknown> = {}) =>
  createEncoder({ model: `hf:${repo}`, hub: { url: hub.url }, device: 'cpu', ...extra });

async function expectOracle(repo: string, pooling: 'mean' | 'cls', floor: number, extra: Record<string, unknown> = {}) {
  const enc = await open(repo, extra);
  try {
    const vectors = await enc.embed(expected.texts, { normalize: false });
    vectors.forEach((v, i) => {
      expect(cosine(v, oracle.get(`${pooling}.${i}.4`, [H]))).toBeGreaterThanOrEqual(floor);
    });
    return await enc.info();
  } finally {
    await enc.dispose();
  }
}

describe('hub ids', () => {
  it('parses hf:org/name[@revision] and a bare org/name that cannot be a relative URL, and nothing else', () => {
    expect(parseHubId('hf:intfloat/multilingual-e5-small')).toEqual({ repo: 'intfloat/multilingual-e5-small', revision: 'main' });
    expect(parseHubId('hf:BAAI/bge-m3@refs/pr/12')).toEqual({ repo: 'BAAI/bge-m3', revision: 'refs/pr/12' });
    expect(parseHubId('intfloat/e5')).toEqual({ repo: 'intfloat/e5', revision: 'main' });
    expect(parseHubId('jhu-clsp/mmBERT_small.v2')).toEqual({ repo: 'jhu-clsp/mmBERT_small.v2', revision: 'main' });
    const bad = ['hf:bge-m3', 'hf:a/b/c', 'a/b/c', '/models/m3-mini', './models/m3', 'hf:../x/y', '../x', 'x/', 'm3-mini'];
    bad.push('https://h/a', 'blob:x/y', 'a--b/c', 'a/b..c', 'a/b.', '-a/b', 'a b/c', 'models/m3/manifest.json');
    for (const model of bad) expect(parseHubId(model), model).toBeNull();
  });

  it('takes the revision as an option, and refuses one that contradicts hf:org/name@revision', () => {
    expect(parseHubId('intfloat/e5', 'v2')).toEqual({ repo: 'intfloat/e5', revision: 'v2' });
    expect(parseHubId('hf:intfloat/e5@v2', 'v2')).toEqual({ repo: 'intfloat/e5', revision: 'v2' });
    expect(() => parseHubId('hf:intfloat/e5@v1', 'v2')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => parseHubId('intfloat/e5', 'a b')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });

  it('in Node, a bare org/name that exists as a folder is that folder', async () => {
    expect(await nodeHubId('test/support')).toBeNull();
    expect(await nodeHubId('hf:test/support')).toEqual({ repo: 'test/support', revision: 'main' });
    expect(await nodeHubId('fixtures/bert-tiny')).toEqual({ repo: 'fixtures/bert-tiny', revision: 'main' });
  });
});

describe('createEncoder({ model: "hf:org/name" }) in Node', { timeout: 120_000 }, () => {
  it('downloads by Range from the redirect target, converts, and embeds like the oracle (f32 and q8)', async () => {
    const info = await expectOracle('fixtures/bert-tiny', 'mean', 0.99999, { dtype: 'f32' });
    expect(info.model).toMatchObject({ id: 'fixtures--bert-tiny', quantization: 'f32', exits: [1, 2, 3, 4], dims: [H] });
    const weightRequests = hub.log.filter((r) => r.path.endsWith('model.safetensors'));
    expect(weightRequests.some((r) => r.server === 'cdn' && r.range !== null)).toBe(true);
    await expectOracle('fixtures/bert-tiny', 'mean', 0.999, { dtype: 'q8', dims: [16, H] });
  });

  it('opens the stored conversion without downloading the weights again, and with the hub gone', async () => {
    const before = hub.log.filter((r) => r.server === 'cdn').length;
    await expectOracle('fixtures/bert-tiny', 'mean', 0.99999, { dtype: 'f32' });
    expect(hub.log.filter((r) => r.server === 'cdn').length).toBe(before);
    const url = hub.url;
    await hub.close();
    try {
      const enc = await createEncoder({ model: 'hf:fixtures/bert-tiny', hub: { url }, dtype: 'f32', device: 'cpu' });
      const [v] = await enc.embed([expected.texts[0] as string], { normalize: false });
      expect(cosine(v as Float32Array, oracle.get('mean.0.4', [H]))).toBeGreaterThanOrEqual(0.99999);
      await enc.dispose();
      await expect(createEncoder({ model: 'hf:fixtures/bert-tiny-st', hub: { url }, device: 'cpu' })).rejects.toMatchObject({
        code: 'NETWORK',
        message: expect.stringMatching(/never converted and stored on this device/),
      });
    } finally {
      hub = await startFakeHub(hub.repos);
    }
  });

  it('opens a bare org/name at the revision option, and refuses a revision that contradicts the id', async () => {
    const start = hub.log.length;
    const enc = await createEncoder({ model: 'fixtures/bert-tiny', revision: 'v2', hub: { url: hub.url }, device: 'cpu' });
    await enc.dispose();
    const mine = hub.log.slice(start).filter((r) => r.server === 'hub');
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((r) => r.path.startsWith('/fixtures/bert-tiny/resolve/v2/'))).toBe(true);
    await expect(
      createEncoder({ model: 'hf:fixtures/bert-tiny@v1', revision: 'v2', hub: { url: hub.url }, device: 'cpu' }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/v1.*v2.*one place/) });
    await expect(createEncoder({ model: FIXTURE, revision: 'v2', device: 'cpu' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });

  it('opens a ModernBERT repository like the oracle', async () => {
    const mb = JSON.parse(readFileSync(join(MODERN, 'expected.json'), 'utf8')) as { texts: string[] };
    const mbOracle = new SafetensorsFile(new Uint8Array(readFileSync(join(MODERN, 'expected.safetensors'))));
    const enc = await open('fixtures/modernbert-tiny', { dtype: 'f32' });
    try {
      const vectors = await enc.embed(mb.texts, { normalize: false });
      vectors.forEach((v, i) => {
        expect(cosine(v, mbOracle.get(`mean.none.${i}.4`, [64]))).toBeGreaterThanOrEqual(0.99999);
      });
    } finally {
      await enc.dispose();
    }
  });

  it('reads a sharded checkpoint, resuming a shard whose connection was cut', async () => {
    await expectOracle('fixtures/bert-tiny-sharded', 'mean', 0.99999, { dtype: 'f32' });
    const cut = hub.log.filter((r) => r.server === 'cdn' && r.path.endsWith('model-00002-of-00003.safetensors'));
    expect(cut.length).toBeGreaterThan(1);
  });

  it('reports progress in weight bytes only, per file and overall, ending at the total', async () => {
    const events: LoadProgress[] = [];
    const enc = await open('fixtures/bert-tiny-sharded', {
      revision: 'progress',
      dtype: 'f32',
      onProgress: (p: LoadProgress) => events.push(p),
    });
    await enc.dispose();
    const files = (hub.repos.get('fixtures/bert-tiny-sharded') as FakeRepo).files;
    const sizes = new Map([...files].filter(([f]) => f.endsWith('.safetensors')).map(([f, b]) => [f, b.byteLength]));
    const total = [...sizes.values()].reduce((a, b) => a + b, 0);
    // JSON files (config, tokenizer, index) are not counted: nothing but the weights moves the bar.
    const downloads = events.filter((e) => e.phase === 'download');
    expect(new Set(downloads.map((e) => e.file))).toEqual(new Set(sizes.keys()));
    expect(downloads.length).toBeGreaterThan(sizes.size);
    const perFile = new Map<string, number>();
    let loaded = 0;
    for (const e of downloads) {
      expect(e).toMatchObject({ total, fileTotal: sizes.get(e.file as string) });
      expect(e.loaded).toBeGreaterThan(loaded);
      expect(e.fileLoaded).toBeGreaterThan(perFile.get(e.file as string) ?? 0);
      loaded = e.loaded;
      perFile.set(e.file as string, e.fileLoaded);
    }
    for (const [file, size] of sizes) expect(perFile.get(file)).toBe(size);
    // The stored pack is read back quietly: the bar does not restart at the cache phase.
    expect(events.filter((e) => e.phase !== 'download')).toEqual([
      { phase: 'done', fileLoaded: 0, fileTotal: 0, loaded: total, total },
    ]);
  });

  it("deletes the older commit's conversion once a newer one is stored, and keeps other conversions", async () => {
    const repo = hub.repos.get('fixtures/bert-tiny') as FakeRepo;
    const folders = () => new Set(readdirSync(join(cacheDir, 'hub')).filter((n) => /^[0-9a-f]{24}$/.test(n)));
    const added = (before: Set<string>) => [...folders()].filter((n) => !before.has(n));
    const convert = async (dtype: string) => {
      const before = folders();
      await (await open('fixtures/bert-tiny', { revision: 'prune', dtype })).dispose();
      return added(before);
    };
    const [old] = await convert('f32');
    const [q8] = await convert('q8');
    const commit = repo.commit;
    repo.commit = 'c0ffee9';
    try {
      const [newer] = await convert('f32');
      expect(newer).toBeDefined();
      // Dropped after the new one is written and opened, without holding up the open.
      await vi.waitFor(() => expect(folders().has(old as string)).toBe(false));
      expect(folders().has(q8 as string)).toBe(true);
      expect(folders().has(newer as string)).toBe(true);
    } finally {
      repo.commit = commit;
    }
  });

  it('follows the sentence-transformers modules: CLS pooling, prompts as query/passage prefixes, max length', async () => {
    const info = await expectOracle('fixtures/bert-tiny-st', 'cls', 0.99999, { dtype: 'f32' });
    expect(info.model).toMatchObject({ pooling: 'cls', prefixes: { query: 'query: ', passage: 'passage: ' }, maxTokens: 150 });
  });

  it.each([
    ['fixtures/Qwen3-Reranker-tiny', QWEN3_RERANKER],
    ['fixtures/mxbai-rerank-tiny-v2', MXBAI_RERANKER],
  ])('opens %s (a causal LM) by Hub id as the cross-encoder its name says it is', async (repo, folder) => {
    const expected = JSON.parse(readFileSync(join(folder, 'expected.json'), 'utf8')) as {
      pairs: [string, string][];
      scores: number[];
    };
    const enc = await open(repo, { dtype: 'f32' });
    try {
      expect((await enc.info()).model).toMatchObject({ id: repo.replace('/', '--'), crossEncoder: true });
      const [q, d] = expected.pairs[0] as [string, string];
      const [hit] = await enc.rerank(q, [d]);
      expect(hit?.score).toBeCloseTo(expected.scores[0] as number, 5);
    } finally {
      await enc.dispose();
    }
  });

  it('opens jina-reranker-v3 (JinaForRanking) by Hub id under any name, as a listwise reranker', async () => {
    const { cases } = JSON.parse(readFileSync(join(JINA_V3_RERANKER, 'expected.json'), 'utf8')) as {
      cases: { query: string; documents: string[]; blocks: number[][]; scores: number[] }[];
    };
    const c = cases[0] as (typeof cases)[number];
    const enc = await open('fixtures/listwise-tiny', { dtype: 'f32' });
    try {
      expect((await enc.info()).model).toMatchObject({ crossEncoder: true, listwise: true });
      const hits = await enc.rerank(c.query, c.documents);
      for (const h of hits) expect(h.score).toBeCloseTo(c.scores[(c.blocks[0] as number[]).indexOf(h.index)] as number, 5);
    } finally {
      await enc.dispose();
    }
  });

  it('sends the token to the hub only, never to the host the weights are redirected to', async () => {
    await expect(open('fixtures/gated')).rejects.toMatchObject({
      code: 'ACCESS_DENIED',
      message: expect.stringMatching(/pass hub: \{ token \}/),
    });
    const start = hub.log.length;
    await expectOracle('fixtures/gated', 'mean', 0.999, { hub: { url: hub.url, token: 'hf_secret' } });
    const mine = hub.log.slice(start);
    expect(mine.filter((r) => r.server === 'hub').every((r) => r.authorization === 'Bearer hf_secret')).toBe(true);
    expect(mine.some((r) => r.server === 'cdn')).toBe(true);
    expect(mine.filter((r) => r.server === 'cdn').every((r) => r.authorization === null)).toBe(true);
  });

  it('says what is wrong: a missing repo, a corrupt pytorch_model.bin, an architecture or module m3web does not run', async () => {
    await expect(open('fixtures/nope')).rejects.toMatchObject({
      code: 'MODEL_NOT_FOUND',
      message: expect.stringContaining(`${hub.url}/fixtures/nope/resolve/main/config.json`),
    });
    await expect(open('fixtures/pickle-only')).rejects.toMatchObject({
      code: 'MODEL_FORMAT',
      message: expect.stringMatching(/^pytorch_model\.bin: is not a torch\.save file/),
    });
    await expect(open('fixtures/gpt2')).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringMatching(/gpt2/) });
    await expect(open('fixtures/bert-tiny-layernorm')).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringMatching(/LayerNorm/),
    });
    await expect(createEncoder({ model: 'hf:just-a-name', device: 'cpu' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});

describe('m3web with hub ids', { timeout: 120_000 }, () => {
  const env = () => ({ M3WEB_HUB_URL: hub.url, M3WEB_CACHE_DIR: cacheDir, HF_TOKEN: 'hf_secret' });

  it('embeds from a hub id (converted once into the cache) and converts one into a pack', async () => {
    const texts = expected.texts.slice(0, 3);
    const r = await m3web(
      ['embed', '--model', 'hf:fixtures/gated', '--quant', 'f32', '--backend', 'cpu', '--no-normalize'],
      texts.map((t) => `${JSON.stringify(t)}\n`).join(''),
      env(),
    );
    expect(r.stderr).toBe('m3web: backend cpu\n');
    expect(r.code).toBe(0);
    r.stdout
      .trim()
      .split('\n')
      .forEach((line, i) => {
        expect(cosine(JSON.parse(line) as number[], oracle.get(`mean.${i}.4`, [H]))).toBeGreaterThanOrEqual(0.99999);
      });
    const conflict = await m3web(['embed', '--model', 'hf:fixtures/gated@v1', '--revision', 'v2'], 'x\n', env());
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toMatch(/revision v1 but the revision option says v2/);
    const out = join(mkdtempSync(join(tmpdir(), 'm3web-hub-convert-')), 'pack');
    const conv = await m3web(
      ['convert', 'fixtures/bert-tiny-st', '--revision', 'v3', '--out', out, '--quant', 'q8', '--dims', '16,48'],
      '',
      env(),
    );
    expect(conv.stderr).toMatch(/wrote fixtures--bert-tiny-st \(q8, 5 shards/);
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'))).toMatchObject({
      pooling: 'cls',
      dims: [16, 48],
      prefixes: { query: 'query: ', passage: 'passage: ' },
      source: 'hf:fixtures/bert-tiny-st@v3',
    });
  });
});
