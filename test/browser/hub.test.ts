import { describe, expect, inject, it, vi } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { createEncoder, createIndex } from '../../src/client/client.js';
import { maxSim, type SparseVector, sparseScore } from '../../src/index.js';
import { deleteCachedModel, listCachedModels } from '../../src/store/cache.js';
import { cosine } from '../support/random.js';

// Hub ids in Chromium: the engine's worker reads the fake hub (test/support/global-setup.ts) by
// CORS fetches and Range requests after a cross-origin redirect, converts in the worker, keeps
// the pack in IndexedDB, and opens it again with the hub unreachable.

const H = 48;
const FIXTURE = '/test/oracle/fixtures/bert-tiny';

async function oracle(): Promise<{ texts: string[]; mean: (i: number) => Float32Array }> {
  const { texts } = (await (await fetch(`${FIXTURE}/expected.json`)).json()) as { texts: string[] };
  const file = new SafetensorsFile(new Uint8Array(await (await fetch(`${FIXTURE}/expected.safetensors`)).arrayBuffer()));
  return { texts: texts.slice(0, 4), mean: (i) => file.get(`mean.${i}.4`, [H]) };
}

/** A fixture repository of the fake hub, opened on WebGPU in the worker in f32 and never cached. */
const onWebGpu = (repo: string) =>
  createEncoder({
    model: `hf:fixtures/${repo}`,
    hub: { url: inject('hubUrl') },
    dtype: 'f32',
    device: 'webgpu',
    activations: 'f32',
    cache: false,
  });

const hubLog = async (hub: string) =>
  (
    (await (await fetch(`${hub}/__log`)).json()) as {
      server: string;
      method: string;
      path: string;
      range: string | null;
      authorization: string | null;
    }[]
  ).filter(
    // CORS preflights carry no credentials by design.
    (r) => r.method !== 'OPTIONS',
  );

describe('createEncoder({ model: "hf:org/name" }) in the browser', { timeout: 120_000 }, () => {
  it('converts in the worker, embeds like the oracle, and reopens from IndexedDB with the hub unreachable', async () => {
    const hub = inject('hubUrl');
    const { texts, mean } = await oracle();
    const options = { model: 'hf:fixtures/bert-tiny', hub: { url: hub }, dtype: 'f32' as const, device: 'cpu' as const };
    await deleteCachedModel('fixtures--bert-tiny');
    const first = await createEncoder(options);
    expect(await first.info()).toMatchObject({ fromCache: false, model: { id: 'fixtures--bert-tiny', quantization: 'f32' } });
    (await first.embed(texts, { normalize: false })).forEach((v, i) => {
      expect(cosine(v, mean(i))).toBeGreaterThanOrEqual(0.99999);
    });
    await first.dispose();

    await fetch(`${hub}/__offline`, { method: 'POST' });
    try {
      const again = await createEncoder(options);
      expect((await again.info()).fromCache).toBe(true);
      (await again.embed(texts, { normalize: false })).forEach((v, i) => {
        expect(cosine(v, mean(i))).toBeGreaterThanOrEqual(0.99999);
      });
      await again.dispose();
    } finally {
      await fetch(`${hub}/__online`, { method: 'POST' });
    }
  });

  it('opens an ONNX-only repository (transformers.js layout) from its graph by Range requests, and embeds like the oracle', async () => {
    const hub = inject('hubUrl');
    const { texts, mean } = await oracle();
    const enc = await createEncoder({
      model: 'hf:fixtures/bert-tiny-onnx',
      hub: { url: hub },
      dtype: 'f32',
      device: 'cpu',
      cache: false,
    });
    (await enc.embed(texts, { normalize: false })).forEach((v, i) => {
      expect(cosine(v, mean(i))).toBeGreaterThanOrEqual(0.99999);
    });
    await enc.dispose();
    const reads = (await hubLog(hub)).filter((r) => r.path.endsWith('onnx/model.onnx'));
    expect(reads.length).toBeGreaterThan(1);
  });

  it('opens a pytorch_model.bin-only repository by Range requests (no code runs: a restricted unpickler), and embeds like the oracle on WebGPU', async () => {
    const hub = inject('hubUrl');
    const { texts, mean } = await oracle();
    const enc = await onWebGpu('bert-tiny-bin');
    expect((await enc.info()).backend).toBe('webgpu');
    (await enc.embed(texts, { normalize: false })).forEach((v, i) => {
      expect(cosine(v, mean(i))).toBeGreaterThanOrEqual(0.99999);
    });
    await enc.dispose();
    // The directory, the pickle, then tensor by tensor: Range requests to the file's CDN address.
    const reads = (await hubLog(hub)).filter((r) => r.server === 'cdn' && /bert-tiny-bin\/pytorch_model\.bin$/.test(r.path));
    expect(reads.length).toBeGreaterThan(10);
    expect(reads.every((r) => r.range !== null)).toBe(true);
  });

  it('opens a model2vec static embedder in the worker, on the CPU whatever the device, and embeds like model2vec', async () => {
    const hub = inject('hubUrl');
    const m2v = '/test/oracle/fixtures/model2vec-tiny';
    const { texts, ids } = (await (await fetch(`${m2v}/expected.json`)).json()) as { texts: string[]; ids: number[][] };
    const file = new SafetensorsFile(new Uint8Array(await (await fetch(`${m2v}/expected.safetensors`)).arrayBuffer()));
    const enc = await createEncoder({ model: 'hf:fixtures/model2vec-tiny', hub: { url: hub }, cache: false });
    const info = await enc.info();
    expect(info).toMatchObject({ backend: 'cpu', model: { exits: [0], dims: [16, 32] } });
    expect(info.backends.short.reason).toMatch(/static embedder/);
    const vectors = await enc.embed(texts, { normalize: false });
    vectors.forEach((v, i) => {
      if (ids[i]?.length) expect(cosine(v, file.get(`mean.${i}`, [32]))).toBeGreaterThanOrEqual(0.999);
      else expect(Array.from(v).every((x) => x === 0)).toBe(true);
    });
    await enc.dispose();
  });

  it("runs jina-embeddings-v3's task adapters (lora.wgsl) on WebGPU in the worker as the CPU runs them", async () => {
    const hub = inject('hubUrl');
    const dir = '/test/oracle/fixtures/jina-v3-tiny';
    const { texts, layers, hidden } = (await (await fetch(`${dir}/expected.json`)).json()) as {
      texts: string[];
      layers: number;
      hidden: number;
    };
    const file = new SafetensorsFile(new Uint8Array(await (await fetch(`${dir}/expected.safetensors`)).arrayBuffer()));
    const open = (device: 'webgpu' | 'cpu') =>
      createEncoder({ model: 'hf:fixtures/jina-v3-tiny', hub: { url: hub }, dtype: 'f32', device, cache: false });
    const gpu = await open('webgpu');
    const cpu = await open('cpu');
    try {
      expect(await gpu.info()).toMatchObject({ backend: 'webgpu', model: { dims: [16, 32, 64] } });
      const some = texts.slice(0, 4);
      (await gpu.embed(some, { normalize: false })).forEach((v, i) => {
        expect(cosine(v, file.get(`mean.${i}.${layers}`, [hidden]))).toBeGreaterThanOrEqual(0.99999);
      });
      for (const kind of ['query', 'passage'] as const) {
        const onGpu = await gpu.embed(some, { kind });
        const onCpu = await cpu.embed(some, { kind });
        const plain = await gpu.embed(some);
        onGpu.forEach((v, i) => {
          expect(cosine(v, onCpu[i] as Float32Array)).toBeGreaterThanOrEqual(0.99999);
          expect(cosine(v, plain[i] as Float32Array)).toBeLessThan(0.99);
        });
      }
    } finally {
      await gpu.dispose();
      await cpu.dispose();
    }
  });

  it('reranks with a cross-encoder on WebGPU in the worker, and as a search step of an index in the worker', async () => {
    const hub = inject('hubUrl');
    const dir = '/test/oracle/fixtures/ce-xlmr-tiny';
    const { pairs, scores } = (await (await fetch(`${dir}/expected.json`)).json()) as {
      pairs: [string, string][];
      scores: number[];
    };
    const reranker = await createEncoder({
      model: 'hf:fixtures/ce-xlmr-tiny',
      hub: { url: hub },
      dtype: 'f32',
      device: 'webgpu',
      cache: false,
    });
    const encoder = await createEncoder({ model: 'hf:fixtures/bert-tiny', hub: { url: hub }, dtype: 'f32', device: 'cpu' });
    const index = await createIndex({ encoder, name: 'browser-rerank', store: 'memory' });
    try {
      expect(await reranker.info()).toMatchObject({ backend: 'webgpu', model: { crossEncoder: true } });
      for (const [i, [q, d]] of pairs.entries()) {
        const [hit] = await reranker.rerank(q, [d]);
        expect(Math.abs((hit?.score as number) - (scores[i] as number))).toBeLessThan(1e-4);
      }
      const docs = [...new Set(pairs.map(([, d]) => d))];
      await index.add(docs.map((text, i) => ({ id: `d${i}`, text })));
      const query = (pairs[0] as [string, string])[0];
      const first = await index.search(query, { k: 5 });
      const hits = await index.search(query, { k: 2, rerank: { reranker, top: 5 } });
      const want = await reranker.rerank(
        query,
        first.map((h) => h.chunk.text),
      );
      expect(hits.map((h) => h.id)).toEqual(want.slice(0, 2).map((r) => first[r.index]?.id));
    } finally {
      index.close();
      await encoder.dispose();
      await reranker.dispose();
    }
  });

  it('opens a DeBERTa-v3 reranker and a sentence-t5 embedder by Hub id on WebGPU in the worker, as their oracles', async () => {
    const hub = inject('hubUrl');
    const open = (name: string) =>
      createEncoder({ model: `hf:fixtures/${name}`, hub: { url: hub }, dtype: 'f32', device: 'webgpu', cache: false });
    const deberta = await open('ce-deberta-tiny');
    try {
      const { pairs, scores } = (await (await fetch('/test/oracle/fixtures/ce-deberta-tiny/expected.json')).json()) as {
        pairs: [string, string][];
        scores: number[];
      };
      expect(await deberta.info()).toMatchObject({ backend: 'webgpu', model: { crossEncoder: true } });
      for (const [i, [q, d]] of pairs.entries()) {
        const [hit] = await deberta.rerank(q, [d]);
        expect(Math.abs((hit?.score as number) - (scores[i] as number))).toBeLessThan(1e-4);
      }
    } finally {
      await deberta.dispose();
    }
    const t5 = await open('t5-st-tiny');
    try {
      const dir = '/test/oracle/fixtures/t5-st-tiny';
      const { texts, hidden } = (await (await fetch(`${dir}/expected.json`)).json()) as { texts: string[]; hidden: number };
      const want = new SafetensorsFile(new Uint8Array(await (await fetch(`${dir}/expected.safetensors`)).arrayBuffer()));
      expect(await t5.info()).toMatchObject({ backend: 'webgpu', model: { pooling: 'mean' } });
      (await t5.embed(texts)).forEach((v, i) => {
        expect(cosine(v, want.get(`st.${i}`, [hidden]))).toBeGreaterThanOrEqual(0.9999);
      });
    } finally {
      await t5.dispose();
    }
  });

  it("opens jina-embeddings-v2-base-code's layout (query / key norms) by Hub id on WebGPU in the worker, as its oracle", async () => {
    const dir = '/test/oracle/fixtures/jina-code-tiny';
    const encoder = await createEncoder({
      model: 'hf:fixtures/jina-code-tiny',
      hub: { url: inject('hubUrl') },
      dtype: 'f32',
      device: 'webgpu',
      cache: false,
    });
    try {
      const { texts, hidden, layers } = (await (await fetch(`${dir}/expected.json`)).json()) as {
        texts: string[];
        hidden: number;
        layers: number;
      };
      const want = new SafetensorsFile(new Uint8Array(await (await fetch(`${dir}/expected.safetensors`)).arrayBuffer()));
      expect(await encoder.info()).toMatchObject({ backend: 'webgpu', model: { pooling: 'mean' } });
      (await encoder.embed(texts)).forEach((v, i) => {
        expect(cosine(v, want.get(`mean.${i}.${layers}`, [hidden]))).toBeGreaterThanOrEqual(0.9999);
      });
    } finally {
      await encoder.dispose();
    }
  });

  it("opens jina-embeddings-v5-text-nano's layout (EuroBERT, adapters/retrieval merged) by Hub id on WebGPU in the worker, as its oracle", async () => {
    const dir = '/test/oracle/fixtures/jina-v5-nano-tiny';
    const encoder = await onWebGpu('jina-v5-nano-tiny');
    try {
      const { texts, hidden } = (await (await fetch(`${dir}/expected.json`)).json()) as { texts: string[]; hidden: number };
      const want = new SafetensorsFile(new Uint8Array(await (await fetch(`${dir}/expected.safetensors`)).arrayBuffer()));
      expect(await encoder.info()).toMatchObject({
        backend: 'webgpu',
        model: { pooling: 'last', prefixes: { query: 'Query: ', passage: 'Document: ' } },
      });
      (await encoder.embed(texts)).forEach((v, i) => {
        expect(cosine(v, want.get(`st.${i}`, [hidden]))).toBeGreaterThanOrEqual(0.9999);
      });
    } finally {
      await encoder.dispose();
    }
  });

  it('reranks with a late-interaction model on WebGPU in the worker, and its token vectors come back for maxSim', async () => {
    const hub = inject('hubUrl');
    const dir = '/test/oracle/fixtures/colbert-modernbert-tiny';
    const { queries, documents, scores } = (await (await fetch(`${dir}/expected.json`)).json()) as {
      queries: string[];
      documents: string[];
      scores: number[][];
    };
    const colbert = await createEncoder({
      model: 'hf:fixtures/colbert-modernbert-tiny',
      hub: { url: hub },
      dtype: 'f32',
      device: 'webgpu',
      activations: 'f32',
      cache: false,
    });
    try {
      expect(await colbert.info()).toMatchObject({ backend: 'webgpu', model: { lateInteraction: { dim: 24, queryLength: 32 } } });
      let worst = 0;
      for (const [i, q] of queries.entries()) {
        for (const hit of await colbert.rerank(q, documents)) {
          worst = Math.max(worst, Math.abs(hit.score - (scores[i]?.[hit.index] as number)));
        }
      }
      expect(worst).toBeLessThan(1e-3);
      const [query] = await colbert.embedTokens([queries[0] as string], { kind: 'query' });
      const docs = await colbert.embedTokens(documents);
      docs.forEach((d, j) => {
        expect(Math.abs(maxSim(query as Float32Array, d, 24) - (scores[0]?.[j] as number))).toBeLessThan(1e-3);
      });
    } finally {
      await colbert.dispose();
    }
  });

  // gguf-qwen3's q8_0 file says neither its pooling nor add_eos_token, as the first official Qwen3-Embedding GGUFs;
  // gguf-eurobert's is jina-embeddings-v5-text-nano's layout (EuroBERT, Llama 3's vocabulary), pooling NONE;
  // gguf-gemma's is EmbeddingGemma with its Dense projections after the mean; gguf-modernbert's q8_0 file is a
  // ModernBERT (local windows, two RoPE bases) on GPT-2's vocabulary, pooled by CLS, its f16-silu file the same
  // weights with granite-embedding-97m-multilingual-r2's SwiGLU.
  it.each([
    ['gguf-bert', 'Q4_K_M', { pooling: 'mean', layers: 2, hiddenSize: 256 }],
    ['gguf-qwen3', 'Q8_0', { pooling: 'last', layers: 3, hiddenSize: 64 }],
    ['gguf-eurobert', 'Q8_0', { pooling: 'last', layers: 3, hiddenSize: 64 }],
    ['gguf-gemma', 'Q8_0', { pooling: 'mean', layers: 7, hiddenSize: 64 }],
    ['gguf-modernbert', 'Q8_0', { pooling: 'cls', layers: 4, hiddenSize: 64 }],
    ['gguf-modernbert', 'SILU', { pooling: 'cls', layers: 4, hiddenSize: 64 }, 'f16-silu.gguf'],
  ])(
    'opens the GGUF repository %s by hub id and quantization %s on WebGPU in the worker, as its oracle',
    async (repo, tag, model, fileName = `${tag.toLowerCase()}.gguf`) => {
      const { texts, files } = (await (await fetch(`/test/oracle/fixtures/${repo}/expected.json`)).json()) as {
        texts: string[];
        files: Record<string, { mean?: number[][]; pooled?: number[][] }>;
      };
      const gguf = await onWebGpu(`${repo}:${tag}`);
      try {
        expect(await gguf.info()).toMatchObject({ backend: 'webgpu', model });
        const vectors = await gguf.embed(texts);
        const file = files[fileName];
        vectors.forEach((v, i) => {
          expect(cosine(v, (file?.pooled ?? file?.mean)?.[i] as number[])).toBeGreaterThan(0.99999);
        });
      } finally {
        await gguf.dispose();
      }
    },
  );

  // gguf-reranker: an XLM-R with RoBERTa's head (bge-reranker's layout); gguf-qwen3-reranker: Qwen3-Reranker's.
  it.each(['gguf-reranker', 'gguf-qwen3-reranker'])(
    'reranks with the GGUF reranker %s opened by hub id on WebGPU in the worker, as its oracle',
    async (repo) => {
      const { queries, documents, files } = (await (await fetch(`/test/oracle/fixtures/${repo}/expected.json`)).json()) as {
        queries: string[];
        documents: string[];
        files: Record<string, { logits: number[] }>;
      };
      const reranker = await onWebGpu(`${repo}:Q8_0`);
      try {
        expect(await reranker.info()).toMatchObject({ backend: 'webgpu', model: { crossEncoder: true } });
        const logits = files['q8_0.gguf']?.logits as number[];
        for (const [q, query] of queries.entries()) {
          for (const hit of await reranker.rerank(query, documents)) {
            const want = 1 / (1 + Math.exp(-(logits[q * documents.length + hit.index] as number)));
            expect(Math.abs(hit.score - want)).toBeLessThan(1e-4);
          }
        }
      } finally {
        await reranker.dispose();
      }
    },
  );

  it('reranks listwise with jina-reranker-v3 opened by hub id on WebGPU in the worker, as its oracle', async () => {
    const { cases } = (await (await fetch('/test/oracle/fixtures/jina-reranker-v3-tiny/expected.json')).json()) as {
      cases: { query: string; documents: string[]; instruction?: string; blocks: number[][]; scores: number[] }[];
    };
    const reranker = await onWebGpu('jina-reranker-v3-tiny');
    try {
      expect(await reranker.info()).toMatchObject({ backend: 'webgpu', model: { crossEncoder: true, listwise: true } });
      // The two prompts under 1,000 tokens (SwiftShader's pace); the CPU and Dawn tests take every case.
      for (const c of cases.slice(0, 2)) {
        const hits = await reranker.rerank(c.query, c.documents, c.instruction ? { instruction: c.instruction } : {});
        for (const hit of hits) {
          const want = c.scores[(c.blocks[0] as number[]).indexOf(hit.index)] as number;
          expect(Math.abs(hit.score - want)).toBeLessThan(2e-5);
        }
      }
    } finally {
      await reranker.dispose();
    }
  });

  it("gives BGE-M3's lexical weights and multi-vector scores on WebGPU in the worker, as its oracle", async () => {
    const { texts, lexical, colbert } = (await (await fetch('/test/oracle/fixtures/bge-m3-tiny/expected.json')).json()) as {
      texts: string[];
      lexical: { indices: number[]; values: number[] }[];
      colbert: number[][];
    };
    const m3 = await onWebGpu('bge-m3-tiny');
    try {
      expect(await m3.info()).toMatchObject({ backend: 'webgpu', model: { sparse: true, lateInteraction: { score: 'mean' } } });
      const weights = await m3.embedSparse(texts);
      weights.forEach((v, i) => {
        expect(v.indices).toBeInstanceOf(Uint32Array);
        expect([...v.indices]).toEqual(lexical[i]?.indices);
      });
      const off = Math.max(
        ...weights.flatMap((v, i) => Array.from(v.values, (x, k) => Math.abs(x - (lexical[i]?.values[k] as number)))),
      );
      expect(off).toBeLessThan(1e-4);
      expect(sparseScore(weights[0] as SparseVector, weights[0] as SparseVector)).toBeGreaterThan(1);
      let worst = 0;
      for (const hit of await m3.rerank(texts[1] as string, texts))
        worst = Math.max(worst, Math.abs(hit.score - (colbert[1]?.[hit.index] as number)));
      expect(worst).toBeLessThan(1e-4);
      const both = await m3.embedDetailed(texts, { sparse: true });
      expect(both.sparse?.map((v) => [...v.indices])).toEqual(lexical.map((l) => l.indices));
      expect(both.vectors).toHaveLength(texts.length);
      // An index in the worker stores the weights in IndexedDB and ranks by them after a reopen.
      const docs = texts.map((text, i) => ({ id: `d${i}`, text }));
      const first = await createIndex({ encoder: m3, name: 'bge-m3-sparse', store: 'indexeddb' });
      await first.clear();
      await first.add(docs);
      const before = (await first.search(texts[2] as string, { mode: 'sparse', k: 12 })).map((h) => h.id);
      first.close();
      const again = await createIndex({ encoder: m3, name: 'bge-m3-sparse', store: 'indexeddb' });
      try {
        expect(again.signature.sparse).toBe(true);
        expect(again.size).toBe(texts.length);
        expect(before[0]).toBe('d2');
        expect((await again.search(texts[2] as string, { mode: 'sparse', k: 12 })).map((h) => h.id)).toEqual(before);
        expect((await again.search(texts[2] as string))[0]?.ranks.sparse).toBe(1);
        await again.clear();
      } finally {
        again.close();
      }
    } finally {
      await m3.dispose();
    }
  });

  it('sends the token to the hub only, and names ACCESS_DENIED without one', async () => {
    const hub = inject('hubUrl');
    await expect(createEncoder({ model: 'hf:fixtures/gated', hub: { url: hub }, device: 'cpu' })).rejects.toMatchObject({
      code: 'ACCESS_DENIED',
    });
    const before = (await hubLog(hub)).length;
    // cache: false converts every time (nothing stored), so the weights are fetched in this test.
    const enc = await createEncoder({
      model: 'hf:fixtures/gated',
      hub: { url: hub, token: 'hf_browser' },
      device: 'cpu',
      cache: false,
    });
    const { texts, mean } = await oracle();
    const [v] = await enc.embed(texts.slice(0, 1), { normalize: false });
    expect(cosine(v as Float32Array, mean(0))).toBeGreaterThanOrEqual(0.999);
    await enc.dispose();
    const mine = (await hubLog(hub)).slice(before);
    expect(mine.some((r) => r.server === 'cdn')).toBe(true);
    expect(mine.filter((r) => r.server === 'cdn').every((r) => r.authorization === null)).toBe(true);
    expect(mine.filter((r) => r.server === 'hub').every((r) => r.authorization === 'Bearer hf_browser')).toBe(true);
  });

  it("opens a bare org/name at a revision, and deletes the older commit's conversion once a newer one is stored", async () => {
    const hub = inject('hubUrl');
    const options = {
      model: 'fixtures/bert-tiny',
      revision: 'prune',
      hub: { url: hub },
      dtype: 'f32' as const,
      device: 'cpu' as const,
    };
    const versions = async () => (await listCachedModels()).filter((m) => m.id === 'fixtures--bert-tiny').map((m) => m.hash);
    const push = (commit: string) => fetch(`${hub}/__commit?repo=fixtures/bert-tiny&commit=${commit}`, { method: 'POST' });
    await deleteCachedModel('fixtures--bert-tiny');
    await (await createEncoder(options)).dispose();
    const [old] = await versions();
    expect(old).toBeDefined();
    await push('b0a719');
    // Another tab still reading this repo's conversions holds the lock shared: nothing is dropped under it.
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    void navigator.locks.request(`m3web-hub ${hub} fixtures/bert-tiny`, { mode: 'shared' }, () => held);
    try {
      const enc = await createEncoder(options);
      expect((await enc.info()).fromCache).toBe(false);
      await enc.dispose();
      await new Promise((r) => setTimeout(r, 300));
      expect(await versions()).toHaveLength(2);
      release();
      await vi.waitFor(
        async () => {
          const now = await versions();
          expect(now).toHaveLength(1);
          expect(now).not.toContain(old);
        },
        { timeout: 10_000 },
      );
      const log = (await hubLog(hub)).filter((r) => r.server === 'hub');
      expect(log.some((r) => r.path.startsWith('/fixtures/bert-tiny/resolve/prune/'))).toBe(true);
    } finally {
      release();
      await push('b0a710');
    }
  });
});
