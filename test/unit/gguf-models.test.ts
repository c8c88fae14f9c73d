import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GGML_TYPES } from '../../src/checkpoint/gguf-quants.js';
import { createEncoder } from '../../src/client/client.js';
import { UnsupportedError } from '../../src/errors.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { openModelFolder } from '../../src/node/model-folder.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { parseManifest } from '../../src/pack/manifest.js';
import { modelFromPack } from '../../src/pack/model.js';
import { jsonLines, m3web, vectors } from '../support/cli.js';
import { folderFiles } from '../support/hub-server.js';
import { serveFakeHub } from '../support/oracle-pack.js';
import { cosine } from '../support/random.js';
import { rejection } from '../support/rejection.js';

// GGUF models (llama.cpp's format) against two oracles that are not m3web: test/oracle/make_gguf.py
// writes a BERT as llama.cpp's converter lays it out (every 2-D tensor in one ggml type per file,
// and two files cycling through the other types m3web decodes: fifteen in all) and runs it in float64 PyTorch on
// the weights each file stores (its own dequantizer, written from ggml's); gguf_llamacpp.mjs runs
// the same files in llama.cpp itself (node-llama-cpp 3.22.1, CPU).

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const DIR = join(FIXTURES, 'gguf-bert');
const FILES = ['f16.gguf', 'q8_0.gguf', 'q4_k_m.gguf', 'mixed.gguf', 'lowbit.gguf'] as const;

/** A pooled vector per text: the mean (BERT's fixtures), the last token (gguf-qwen3's `pooled`) or the first (`cls`). */
interface Pooled {
  mean?: number[][];
  pooled?: number[][];
  cls?: number[][];
}
interface Oracles {
  /** PyTorch's (make_gguf.py, make_gguf_qwen3.py) */
  expected: Pooled & {
    texts: string[];
    ids: number[][];
    layers: number;
    hidden: number;
    pooling?: 'last';
    files: Record<string, Pooled & { tensor_types: Record<string, string>; pooling_type?: number }>;
  };
  /** llama.cpp's (gguf_llamacpp.mjs) */
  llamaCpp: { files: Record<string, { ids: number[][]; embeddings_from_ids: number[][] }> };
}
const oracles = (dir: string): Oracles => ({
  expected: JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')),
  llamaCpp: JSON.parse(readFileSync(join(dir, 'llamacpp.json'), 'utf8')),
});
const { expected } = oracles(DIR);
/** A file's entry in an oracle's table. */
const of = <T>(table: Record<string, T>, file: string): T => {
  const entry = table[file];
  if (!entry) throw new Error(`no oracle entry for ${file}`);
  return entry;
};

const worst = (vectors: ArrayLike<number>[], oracle: number[][]) =>
  Math.min(...vectors.map((v, i) => cosine(v, oracle[i] as number[])));
const pooledOf = (o: Pooled): number[][] => {
  const v = o.pooled ?? o.mean;
  if (!v) throw new Error('no pooled vectors in the oracle');
  return v;
};

describe('GGUF models', () => {
  it('the fixtures hold every ggml type m3web decodes', () => {
    const types = new Set(FILES.flatMap((f) => Object.values(of(expected.files, f).tensor_types)));
    for (const t of Object.values(GGML_TYPES)) expect(types).toContain(t.name);
    expect(types.size).toBe(Object.keys(GGML_TYPES).length);
  });

  // gguf-xlmr: an XLM-R with a real SentencePiece Unigram vocabulary (google/sentencepiece's test
  // model) as the converter writes it: pieces, scores and character map, positions cut by two rows.
  // gguf-nomic: nomic-tiny's NomicBERT (fused q/k/v, SwiGLU, RoPE) on a vocabulary padded to 2064.
  // gguf-jina: jina-tiny's JinaBERT v2 (ALiBi, GeGLU), its feed-forward whole (today's converter) or split in
  // two (older ones').
  // gguf-qwen3: a Qwen3-Embedding (causal, grouped-query, RoPE, last token) on the real Qwen3 vocabulary cut to
  // 2,000 byte-level BPE tokens; f16 as a current converter writes it (pooling_type last, add_eos_token), q8_0 as
  // the first official files were (neither key, the model's name: <|endoftext|> and the last token all the same).
  // gguf-eurobert: a jina-embeddings-v5-text-nano (EuroBERT: both ways, grouped-query, RoPE, last token) on the real
  // Llama 3 vocabulary cut to 2,000 tokens (pre-tokenizer jina-v5-nano, ignore_merges, <|end_of_text|> appended);
  // f16 pooling_type last, q8_0 pooling_type none (the last token all the same).
  // gguf-gemma: an EmbeddingGemma (bidirectional, sliding and full layers, Gemma's norms stored as 1 + w, Dense
  // 64 -> 128 -> 64 after the mean) on the real Gemma 3 vocabulary cut to 2,965 pieces, as the converter writes it
  // with --sentence-transformers-dense-modules.
  // gguf-nomic-moe: nomic-moe-tiny's NomicBERT with 8 experts (top 2) in every second layer, on gguf-xlmr's
  // SentencePiece vocabulary, as the converter writes nomic-embed-text-v2-moe: w2 transposed per expert, the
  // experts' shared bias dropped (llama.cpp runs without it, and so does m3web from this file).
  // gguf-modernbert: a ModernBERT (windows of 8 in two of four layers, two RoPE bases, GeGLU) on the real GPT-2
  // vocabulary cut to 2,000 tokens (pre-tokenizer modern-bert: GPT-2's regex), [CLS] ... [SEP]; f16 pooling_type
  // mean, q8_0 pooling_type cls, f16-silu the same weights as granite-embedding-97m-multilingual-r2 runs them
  // (hidden_activation silu: SwiGLU), pooling_type cls.
  // gguf-roberta: gguf-bert's BERT run as a RobertaModel (positions from pad_token_id + 1, the two rows before them
  // cut by the converter) on RoBERTa's layout of the real GPT-2 vocabulary cut to 2,000 tokens (pre-tokenizer
  // roberta-bpe), <s> ... </s>, as granite-embedding-30m-english's GGUF.
  const cases: [string, string][] = [
    ...FILES.map((f): [string, string] => ['gguf-bert', f]),
    ['gguf-xlmr', 'f16.gguf'],
    ['gguf-xlmr', 'q8_0.gguf'],
    ['gguf-nomic', 'f16.gguf'],
    ['gguf-nomic', 'q8_0.gguf'],
    ['gguf-jina', 'f16.gguf'],
    ['gguf-jina', 'q8_0.gguf'],
    ['gguf-jina', 'f16-split.gguf'],
    ['gguf-qwen3', 'f16.gguf'],
    ['gguf-qwen3', 'q8_0.gguf'],
    ['gguf-eurobert', 'f16.gguf'],
    ['gguf-eurobert', 'q8_0.gguf'],
    ['gguf-gemma', 'f16.gguf'],
    ['gguf-gemma', 'q8_0.gguf'],
    ['gguf-nomic-moe', 'f16.gguf'],
    ['gguf-nomic-moe', 'q8_0.gguf'],
    ['gguf-modernbert', 'f16.gguf'],
    ['gguf-modernbert', 'q8_0.gguf'],
    ['gguf-modernbert', 'f16-silu.gguf'],
    ['gguf-roberta', 'f16.gguf'],
    ['gguf-roberta', 'q8_0.gguf'],
  ];
  it.each(cases)(
    '%s/%s opens from its path and embeds as PyTorch and llama.cpp do with the weights it stores',
    async (folder, file) => {
      const dir = join(FIXTURES, folder);
      const { expected, llamaCpp } = oracles(dir);
      const { tokenizer, config } = await openModelFolder(join(dir, file));
      const ids = expected.texts.map((t) => tokenizer.encode(t, config.maxTokens).ids);
      expect(ids).toEqual(expected.ids);
      const enc = await createEncoder({ model: join(dir, file), device: 'cpu' });
      try {
        const pooling = expected.pooling ?? (of(expected.files, file).pooling_type === 2 ? 'cls' : 'mean');
        expect((await enc.info()).model).toMatchObject({ pooling, layers: expected.layers, hiddenSize: expected.hidden });
        const vectors = await enc.embed(expected.texts);
        // Decoded exactly: what is left is f32 against float64 arithmetic.
        expect(worst(vectors, pooledOf(of(expected.files, file)))).toBeGreaterThan(0.999999);
        // llama.cpp multiplies quantized matrices by 8-bit activations and takes GELU's tanh form:
        // it is itself 0.99986 from PyTorch on gguf-nomic's q8_0 file, 0.99948 on gguf-qwen3's, whose one
        // pooled token is noisier than a mean (gguf-modernbert's q8_0 CLS vectors: 0.99941).
        const bound = pooling !== 'mean' && file === 'q8_0.gguf' ? 0.999 : 0.9998;
        expect(worst(vectors, of(llamaCpp.files, file).embeddings_from_ids)).toBeGreaterThan(bound);
        // Against the float weights the file was made from, quantization shows (4-bit: 0.991).
        const master = pooling === 'cls' ? expected.cls : pooledOf(expected);
        if (!file.startsWith('f16')) expect(worst(vectors, master as number[][])).toBeLessThan(0.99999);
      } finally {
        await enc.dispose();
      }
      // llama.cpp's WordPiece drops Devanagari's vowel signs, which BertTokenizer keeps (the Hindi text of
      // gguf-nomic and gguf-jina); its byte-level BPE has no NFC, which Qwen's tokenizer applies (gguf-qwen3's
      // "e" + U+0301). And it appends <|endoftext|> only where the file says add_eos_token (not q8_0's). The
      // oracle's node-llama-cpp reads special tokens written in a text as plain text (gguf-eurobert's, gguf-modernbert's).
      const llamaIds = of(llamaCpp.files, file).ids;
      const bare = (x: number[]) => JSON.stringify(folder === 'gguf-qwen3' ? x.filter((id) => id !== 2000) : x);
      const differ = ids.flatMap((x, i) => (bare(x) === bare(llamaIds[i] as number[]) ? [] : [expected.texts[i]]));
      expect(differ.every((t) => /[\u0900-\u097f]|e\u0301|<\|begin_of_text\|>|\[CLS\]|<s>/.test(t as string))).toBe(true);
      const oneDiffers = ['gguf-nomic', 'gguf-jina', 'gguf-qwen3', 'gguf-eurobert', 'gguf-modernbert', 'gguf-roberta'];
      expect(differ.length).toBe(oneDiffers.includes(folder) ? 1 : 0);
      if (folder === 'gguf-gemma') expect(ids.every((x) => x[0] === 2 && x.at(-1) === 1)).toBe(true);
      if (folder === 'gguf-qwen3') expect(ids.every((x) => x.at(-1) === 2000)).toBe(true);
      if (folder === 'gguf-eurobert') expect(ids.every((x) => x[0] !== 2002 && x.at(-1) === 2003)).toBe(true);
      if (folder === 'gguf-modernbert') expect(ids.every((x) => x[0] === 2002 && x.at(-1) === 2003)).toBe(true);
      if (folder === 'gguf-roberta') expect(ids.every((x) => x[0] === 0 && x.at(-1) === 2)).toBe(true);
    },
  );

  // gguf-reranker: gguf-xlmr's XLM-R with RoBERTa's classification head (`cls`, `cls.output`), as the converter writes
  // a bge-reranker; llama.cpp ranks it by that head over the pair's first token (gguf-roberta-reranker: the same head
  // on gguf-roberta's RoBERTa, <s> q </s></s> d </s>). gguf-qwen3-reranker: a Qwen3 on
  // gguf-qwen3's vocabulary as the converter writes Qwen3-Reranker (`cls.output`: its yes and no rows; rank pooling,
  // softmax over them at the last token of its prompt).
  it.each([
    ['gguf-reranker', 'f16.gguf'],
    ['gguf-reranker', 'q8_0.gguf'],
    ['gguf-qwen3-reranker', 'f16.gguf'],
    ['gguf-qwen3-reranker', 'q8_0.gguf'],
    ['gguf-roberta-reranker', 'f16.gguf'],
  ])('%s/%s reranks every pair as PyTorch and llama.cpp do with the weights it stores', async (folder, file) => {
    const dir = join(FIXTURES, folder);
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as {
      queries: string[];
      documents: string[];
      files: Record<string, { logits: number[] }>;
    };
    const llamaCpp = JSON.parse(readFileSync(join(dir, 'llamacpp.json'), 'utf8')) as { scores: Record<string, number[]> };
    const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
    const enc = await createEncoder({ model: join(dir, file), device: 'cpu' });
    try {
      expect((await enc.info()).model.crossEncoder).toBe(true);
      const scores: number[] = [];
      for (const q of expected.queries) {
        const hits = await enc.rerank(q, expected.documents);
        const byIndex = [...hits].sort((a, b) => a.index - b.index);
        scores.push(...byIndex.map((h) => h.score));
        // best first
        expect(hits.map((h) => h.score)).toEqual([...hits.map((h) => h.score)].sort((a, b) => b - a));
      }
      const oracle = (of(expected.files, file).logits as number[]).map(sigmoid);
      const llama = of(llamaCpp.scores, file);
      scores.forEach((s, i) => {
        // Decoded exactly: what is left is f32 against float64.
        expect(Math.abs(s - (oracle[i] as number))).toBeLessThan(1e-5);
        // llama.cpp: GELU's tanh form, and 8-bit activations in q8_0's matrix products.
        expect(Math.abs(s - (llama[i] as number))).toBeLessThan(file === 'f16.gguf' ? 2e-3 : 3e-2);
      });
    } finally {
      await enc.dispose();
    }
  });

  it('a folder holding several GGUF files reads the Q8_0 one; converted to a q8 pack it keeps its vectors', async () => {
    const ckpt = await openHfCheckpoint(DIR);
    const pack = await convertCheckpoint(ckpt, { id: 'gguf-bert', quant: 'q8' }).finally(() => ckpt.close());
    const manifest = parseManifest(JSON.parse(new TextDecoder().decode(pack.files.get('manifest.json'))));
    expect(manifest).toMatchObject({ pooling: 'mean', exits: [1, 2] });
    const model = modelFromPack(manifest, pack.files, 2);
    const cpu = new CpuEncoder(model.weights);
    const tokens = expected.texts.map((t) => model.tokenizer.encode(t, model.config.maxTokens).ids);
    const [last] = await cpu.pooledAtExits(tokens, [2], 'mean');
    cpu.dispose();
    expect(worst(last as Float32Array[], pooledOf(of(expected.files, 'q8_0.gguf')))).toBeGreaterThan(0.999);
  });

  it('the CLI converts a .gguf file and embeds from a .gguf path', async () => {
    const out = mkdtempSync(join(tmpdir(), 'm3web-gguf-'));
    const converted = await m3web(['convert', join(DIR, 'q4_k_m.gguf'), '--out', out, '--quant', 'f16'], '');
    expect(converted.code).toBe(0);
    expect(parseManifest(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')))).toMatchObject({ id: 'q4_k_m' });
    for (const model of [out, join(DIR, 'q4_k_m.gguf')]) {
      const embedded = await m3web(['embed', '--model', model], jsonLines(expected.texts.slice(0, 2)));
      expect(embedded.code).toBe(0);
      expect(worst(vectors(embedded.stdout), pooledOf(of(expected.files, 'q4_k_m.gguf')))).toBeGreaterThan(0.9999);
    }
  });
});

describe('EmbeddingGemma as a GGUF file and as its checkpoint', () => {
  const dir = join(FIXTURES, 'gguf-gemma');
  const { expected } = oracles(dir);

  it('the sentence-transformers folder of the same weights embeds as the f16 file does', async () => {
    // Its sentence_bert_config.json truncates at 160 tokens, which one text (168 ids) passes.
    const fit = expected.ids.flatMap((x, i) => (x.length <= 160 ? [i] : []));
    expect(fit.length).toBe(expected.texts.length - 1);
    const enc = await createEncoder({ model: dir, device: 'cpu' });
    try {
      const vectors = await enc.embed(fit.map((i) => expected.texts[i] as string));
      expect(
        worst(
          vectors,
          fit.map((i) => pooledOf(expected)[i] as number[]),
        ),
      ).toBeGreaterThan(0.999999);
    } finally {
      await enc.dispose();
    }
  });

  it('refuses a file converted without the Dense projections (llama.cpp would return the bare mean)', async () => {
    const err = await rejection(createEncoder({ model: join(dir, 'f16-nodense.gguf'), device: 'cpu' }));
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(String(err)).toMatch(/without its Dense projections/);
  });
});

describe('GGUF files without their extension', () => {
  it('an Ollama blob (named by its digest) opens by path: its first bytes say GGUF', async () => {
    const blob = join(mkdtempSync(join(tmpdir(), 'm3web-ollama-')), 'sha256-6a3f8c1d');
    copyFileSync(join(DIR, 'q8_0.gguf'), blob);
    const enc = await createEncoder({ model: blob, device: 'cpu' });
    try {
      expect(worst(await enc.embed(expected.texts), pooledOf(of(expected.files, 'q8_0.gguf')))).toBeGreaterThan(0.999999);
    } finally {
      await enc.dispose();
    }
  });
});

describe('GGUF models dropped in a page', () => {
  it('a folder of one .gguf file (what the playground makes of a dropped file) converts and embeds as its oracle', async () => {
    const bytes = readFileSync(join(DIR, 'mixed.gguf'));
    const enc = await createEncoder({
      model: { name: 'mixed', files: { 'mixed.gguf': new Blob([bytes]) } },
      device: 'cpu',
      dtype: 'f32',
    });
    try {
      expect((await enc.info()).model).toMatchObject({ source: 'folder mixed', pooling: 'mean' });
      expect(worst(await enc.embed(expected.texts), pooledOf(of(expected.files, 'mixed.gguf')))).toBeGreaterThan(0.999999);
    } finally {
      await enc.dispose();
    }
  });
});

describe('GGUF models by hub id', () => {
  const files = folderFiles(DIR, [...FILES]);
  files.set('README.md', new TextEncoder().encode('# gguf-bert\n'));
  // Some repositories keep each quantization in a folder of its own.
  const nested = new Map([...files].map(([name, bytes]) => [`${name.replace('.gguf', '').toUpperCase()}/${name}`, bytes]));
  const hub = serveFakeHub(
    'gguf',
    () =>
      new Map([
        ['fixtures/gguf-bert', { files, commit: 'c0ffee' }],
        ['fixtures/gguf-nested', { files: nested, commit: 'c0ffef' }],
      ]),
  );

  it.each([
    ['hf:fixtures/gguf-bert', 'q8_0.gguf'],
    ['hf:fixtures/gguf-bert:Q4_K_M', 'q4_k_m.gguf'],
    ['hf:fixtures/gguf-nested:q4_k_m', 'q4_k_m.gguf'],
  ] as const)('%s lists the repository, reads %s and embeds as its oracle', async (model, file) => {
    const enc = await createEncoder({ model, hub: { url: hub.url }, device: 'cpu', dtype: 'f32' });
    try {
      expect((await enc.info()).model).toMatchObject({ pooling: 'mean', layers: 2 });
      expect(worst(await enc.embed(expected.texts), pooledOf(of(expected.files, file)))).toBeGreaterThan(0.999999);
    } finally {
      await enc.dispose();
    }
  });
});
