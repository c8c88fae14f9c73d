import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/checkpoint/safetensors.js';
import { weightsFromTensors } from '../../src/checkpoint/weights.js';
import { createEncoder, createIndex } from '../../src/client/client.js';
import { UnsupportedError } from '../../src/errors.js';
import { CpuEncoder } from '../../src/model/cpu.js';
import { cpuClassifier } from '../../src/model/cpu-classifier.js';
import { openHfCheckpoint } from '../../src/node/hf-checkpoint.js';
import { convertCheckpoint } from '../../src/pack/convert.js';
import { encodeRerankInput } from '../../src/tokenizer/rerank-input.js';
import type { EncodedPair } from '../../src/tokenizer/tokenizer.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import type { RerankHit } from '../../src/types.js';
import { type CrossEncoderSpec, parseHfConfig, peekHfConfig, readsSegmentTypes } from '../../src/weights/config.js';
import { decoderRerankerOverrides } from '../../src/weights/decoder-rerankers.js';
import type { ClassifierHead } from '../../src/weights/weights.js';
import { jsonLines, m3web } from '../support/cli.js';
import { packAgainstOracleFolder } from '../support/cross-encoder.js';
import { PAIR_CROSS_ENCODERS } from '../support/cross-encoder-fixtures.js';

// Cross-encoders (rerankers) against test/oracle/make_cross_encoder.py and make_cross_encoder_heads.py:
// float64 PyTorch forwards of BertForSequenceClassification and XLMRobertaForSequenceClassification written
// from transformers' definitions, and of GTE's (new-impl), ModernBERT's, DistilBERT's and jina-reranker-v2's
// (xlm-roberta-flash-implementation's names, a config without model_type).

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
interface Expected {
  pairs: [string, string][];
  ids: number[][];
  token_type_ids: number[][];
  logits: number[];
  scores: number[];
}
const read = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected;
const MODELS = PAIR_CROSS_ENCODERS;
const configOf = (name: string) =>
  JSON.parse(readFileSync(join(FIXTURES, name, 'config.json'), 'utf8')) as Record<string, unknown>;

describe('cross-encoder config', () => {
  const bert = configOf('ce-bert-tiny');
  const tanh = { activation: 'tanh', bias: true, norm: null };

  it('a single-label sequence classifier of the BERT family is a cross-encoder; more labels open as an encoder', () => {
    expect(parseHfConfig(bert).crossEncoder).toEqual({ activation: 'sigmoid', pooling: 'cls', hidden: tanh, input: 'pair' });
    const identity = { ...bert, sentence_transformers: { activation_fn: 'torch.nn.modules.linear.Identity' } };
    expect(parseHfConfig(identity).crossEncoder?.activation).toBe('identity');
    expect(parseHfConfig({ ...bert, num_labels: 1, id2label: undefined }).crossEncoder).toBeDefined();
    const twoLabels = { ...bert, id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' } };
    expect(parseHfConfig(twoLabels).crossEncoder).toBeUndefined();
    expect(parseHfConfig({ ...bert, id2label: undefined }).crossEncoder).toBeUndefined();
    expect(parseHfConfig({ ...bert, architectures: ['BertModel'] }).crossEncoder).toBeUndefined();
    const softmax = { ...bert, sentence_transformers: { activation_fn: 'torch.nn.modules.activation.Softmax' } };
    expect(() => parseHfConfig(softmax)).toThrow(UnsupportedError);
    expect(() => parseHfConfig(softmax)).toThrow(/activation_fn/);
  });

  it("each architecture's head: GTE's and RoBERTa's tanh, DistilBERT's ReLU, ELECTRA's GELU, ModernBERT's GELU + LayerNorm over its pooling", () => {
    expect(parseHfConfig(configOf('ce-gte-tiny')).crossEncoder?.hidden).toEqual(tanh);
    expect(parseHfConfig(configOf('ce-distilbert-tiny')).crossEncoder?.hidden).toEqual({ ...tanh, activation: 'relu' });
    const electra = configOf('ce-electra-tiny');
    expect(parseHfConfig(electra)).toMatchObject({
      modelType: 'bert',
      crossEncoder: { hidden: { ...tanh, activation: 'gelu' } },
    });
    // The small discriminators' narrower embeddings (embeddings_project) under the same head.
    expect(parseHfConfig({ ...electra, embedding_size: 16 })).toMatchObject({ factorized: { width: 16 }, crossEncoder: {} });
    expect(parseHfConfig(electra).factorized).toBeUndefined();
    const modern = configOf('ce-modernbert-tiny');
    expect(parseHfConfig(modern).crossEncoder).toEqual({
      activation: 'sigmoid',
      pooling: 'mean',
      hidden: { activation: 'gelu', bias: false, norm: { bias: false } },
      input: 'pair',
    });
    const cls = { ...modern, classifier_pooling: undefined, classifier_bias: true, norm_bias: true };
    expect(parseHfConfig(cls).crossEncoder).toMatchObject({ pooling: 'cls', hidden: { bias: true, norm: { bias: true } } });
    expect(() => parseHfConfig({ ...modern, classifier_pooling: 'max' })).toThrow(/classifier_pooling/);
    expect(() => parseHfConfig({ ...modern, classifier_activation: 'silu' })).toThrow(UnsupportedError);
    // jina-reranker-v2's config names no model_type: auto_map's XLMRobertaFlashConfig says XLM-R.
    const flash = configOf('ce-jina-flash-tiny');
    expect(flash.model_type).toBeUndefined();
    expect(parseHfConfig(flash)).toMatchObject({ modelType: 'xlm-roberta', positionOffset: 2, crossEncoder: { hidden: tanh } });
    expect(() => parseHfConfig({ ...flash, auto_map: undefined })).toThrow(/model_type/);
    // jina-reranker-v1: BERT's pooler and classifier over JinaBERT (ALiBi, GeGLU).
    expect(parseHfConfig(configOf('ce-jinabert-tiny'))).toMatchObject({
      modelType: 'jina_bert',
      crossEncoder: { pooling: 'cls', hidden: tanh, input: 'pair' },
    });
  });
});

describe.each(MODELS)('%s', (model) => {
  const dir = join(FIXTURES, model);
  const expected = read(model);

  it('the pair template: BERT types the second text 1 where the model reads types, RoBERTa types none', () => {
    const tokenizer = TextTokenizer.fromJson(
      JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
      JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
    );
    const typed = readsSegmentTypes(parseHfConfig(configOf(model)));
    expect(typed).toBe(
      model === 'ce-bert-tiny' || model === 'ce-gte-tiny' || model === 'ce-jinabert-tiny' || model === 'ce-electra-tiny',
    );
    expected.pairs.forEach(([q, d], i) => {
      const pair = tokenizer.encodePair(q, d, 512, typed);
      const types = expected.token_type_ids[i] as number[];
      expect(pair.ids).toEqual(expected.ids[i]);
      expect(pair.secondSegment).toBe(typed && types.includes(1) ? types.indexOf(1) : types.length);
      expect(pair.truncated).toBe(false);
    });
    // Longest first: the longer text loses tokens until the pair fits, the template kept whole.
    const [q, d] = expected.pairs[3] as [string, string];
    const cut = tokenizer.encodePair(q, d, 24, typed);
    expect(cut.ids).toHaveLength(24);
    expect(cut.truncated).toBe(true);
    expect(cut.ids.at(-1)).toBe(expected.ids[3]?.at(-1));
  });

  it('rerank scores every pair as the oracle does (CPU, f32), best first', async () => {
    const enc = await createEncoder({ model: dir, device: 'cpu' });
    try {
      expect((await enc.info()).model.crossEncoder).toBe(true);
      expect((await enc.info()).model.rerankInstruction).toBeUndefined();
      for (const [i, [q, d]] of expected.pairs.entries()) {
        const [hit] = await enc.rerank(q, [d]);
        expect(hit?.index).toBe(0);
        expect(hit?.score).toBeCloseTo(expected.scores[i] as number, 5);
      }
      // One query against several documents: sorted by score.
      const query = (expected.pairs[0] as [string, string])[0];
      const docs = expected.pairs.filter(([q]) => q === query).map(([, d]) => d);
      const want = expected.pairs.flatMap(([q], i) => (q === query ? [expected.scores[i] as number] : []));
      const hits = await enc.rerank(query, docs);
      expect(hits.map((h) => h.index)).toEqual(want.map((_, i) => i).sort((a, b) => (want[b] as number) - (want[a] as number)));
      expect(await enc.rerank(query, [])).toEqual([]);
    } finally {
      await enc.dispose();
    }
  });

  it('packs: f32 as the checkpoint, q8 at the level q8 rounding alone reaches in the oracle', async () => {
    const worst = await packAgainstOracleFolder(dir, expected);
    console.log(`${model} packs: max |logit - oracle| f32 ${worst.f32.toExponential(1)}, q8 ${worst.q8.toFixed(3)}`);
    expect(worst.f32).toBeLessThan(1e-5);
    // make_cross_encoder*.py: per-row q8 rounding of these random models moves the logits by up to
    // 0.07-0.33 on spreads of 0.8-1.9; the runtime's q8 adds its int16 activations.
    expect(worst.q8).toBeLessThan(0.3);
  });
});

describe('Qwen3-Reranker (a decoder cross-encoder) against test/oracle/make_qwen3_reranker.py', () => {
  const dir = join(FIXTURES, 'ce-qwen3-tiny');
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected & { instructions: (string | null)[] };
  const options = (i: number) => (expected.instructions[i] ? { instruction: expected.instructions[i] as string } : {});

  it('its sequence-classifier form is a cross-encoder over the last token, read through the chat prompt', () => {
    expect(parseHfConfig(configOf('ce-qwen3-tiny')).crossEncoder).toEqual({
      activation: 'sigmoid',
      pooling: 'last',
      hidden: null,
      input: 'qwen3-reranker',
    });
    // Qwen3ForCausalLM (Qwen3-Embedding's and the original reranker's class) stays an embedder here.
    expect(parseHfConfig(configOf('qwen3-tiny')).crossEncoder).toBeUndefined();
  });

  it('the prompt: prefix and suffix tokenized apart, the instruction given or the default, the document cut first', () => {
    const config = parseHfConfig(configOf('ce-qwen3-tiny'));
    const tokenizer = TextTokenizer.fromJson(
      JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
      JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
    );
    const spec = config.crossEncoder as CrossEncoderSpec;
    expected.pairs.forEach(([q, d], i) => {
      const [input] = encodeRerankInput(tokenizer, spec, q, d, 512, {
        segmentTypes: false,
        instruction: expected.instructions[i] ?? undefined,
      });
      expect(input?.ids).toEqual(expected.ids[i]);
      expect(input?.truncated).toBe(false);
    });
    const [q, d] = expected.pairs[3] as [string, string];
    const full = expected.ids[3] as number[];
    const [cut] = encodeRerankInput(tokenizer, spec, q, d, full.length - 10, { segmentTypes: false }) as [EncodedPair];
    expect(cut.truncated).toBe(true);
    expect(cut.ids).toHaveLength(full.length - 10);
    // The suffix (the assistant turn the score is read after) stays whole at the end.
    expect(cut.ids.slice(-12)).toEqual(full.slice(-12));
    expect(() => encodeRerankInput(tokenizer, spec, q, d, 20, { segmentTypes: false })).toThrow(/no room/);
    expect(() => encodeRerankInput(tokenizer, spec, q, d, 512, { segmentTypes: false, windows: { overlap: 80 } })).toThrow(
      /pair template/,
    );
  });

  it('rerank scores every pair as the oracle does (CPU, f32), packs f32 and q8 too', async () => {
    const enc = await createEncoder({ model: dir, device: 'cpu' });
    try {
      expect((await enc.info()).model).toMatchObject({
        crossEncoder: true,
        rerankInstruction: 'Given a web search query, retrieve relevant passages that answer the query',
      });
      for (const [i, [q, d]] of expected.pairs.entries()) {
        const [hit] = await enc.rerank(q, [d], options(i));
        const logit = Math.log((hit?.score as number) / (1 - (hit?.score as number)));
        expect(Math.abs(logit - (expected.logits[i] as number))).toBeLessThan(1e-4);
      }
      // The instruction matters: the same pair under another one scores otherwise.
      const [q, d] = expected.pairs[5] as [string, string];
      const [other] = await enc.rerank(q, [d]);
      expect(Math.abs((other?.score as number) - (expected.scores[5] as number))).toBeGreaterThan(1e-3);
      await expect(enc.rerank(q, [d], { instruction: ' ' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    } finally {
      await enc.dispose();
    }
    const worst = await packAgainstOracleFolder(dir, expected);
    console.log(`ce-qwen3-tiny packs: max |logit - oracle| f32 ${worst.f32.toExponential(1)}, q8 ${worst.q8.toFixed(3)}`);
    expect(worst.f32).toBeLessThan(1e-4);
    // make_qwen3_reranker.py: q8 rounding alone moves these logits (spread 3.6) by up to 0.29.
    expect(worst.q8).toBeLessThan(0.6);
  });

  it("the original repository (Qwen3ForCausalLM) is known by its name and scored by its LM head's yes and no rows", async () => {
    const original = join(FIXTURES, 'qwen3-reranker-tiny');
    expect(parseHfConfig(configOf('qwen3-reranker-tiny')).crossEncoder).toBeUndefined();
    const enc = await createEncoder({ model: original, device: 'cpu' });
    try {
      expect((await enc.info()).model.crossEncoder).toBe(true);
      for (const [i, [q, d]] of expected.pairs.entries()) {
        const [hit] = await enc.rerank(q, [d], options(i));
        expect(hit?.score).toBeCloseTo(expected.scores[i] as number, 5);
      }
    } finally {
      await enc.dispose();
    }
    const worst = await packAgainstOracleFolder(original, expected);
    expect(worst.f32).toBeLessThan(1e-4);
    expect(worst.q8).toBeLessThan(0.6);
    // A pack under another id keeps what the folder's name said.
    const ckpt = await openHfCheckpoint(original);
    const pack = await convertCheckpoint(ckpt, { id: 'renamed', quant: 'f32' }).finally(() => ckpt.close());
    expect(parseHfConfig(pack.manifest.config).crossEncoder?.input).toBe('qwen3-reranker');
    // The same files under another name are a causal LM, opened as an embedder (last-token pooling).
    const copy = mkdtempSync(join(tmpdir(), 'm3web-qwen3-'));
    for (const f of readdirSync(original)) copyFileSync(join(original, f), join(copy, f));
    const plain = await createEncoder({ model: copy, device: 'cpu' });
    try {
      expect((await plain.info()).model.crossEncoder).toBeUndefined();
    } finally {
      await plain.dispose();
    }
  });

  it("vLLM's override fields in a config say the same under any name; a token the tokenizer lacks is a format error", async () => {
    const original = join(FIXTURES, 'qwen3-reranker-tiny');
    const folder = (config: Record<string, unknown>) => {
      const dir = mkdtempSync(join(tmpdir(), 'm3web-causal-'));
      for (const f of readdirSync(original)) copyFileSync(join(original, f), join(dir, f));
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      return dir;
    };
    const base = configOf('qwen3-reranker-tiny');
    const told = await createEncoder({
      model: folder({ ...base, is_original_qwen3_reranker: true, classifier_from_token: ['no', 'yes'] }),
      device: 'cpu',
    });
    try {
      const [q, d] = expected.pairs[0] as [string, string];
      expect((await told.rerank(q, [d]))[0]?.score).toBeCloseTo(expected.scores[0] as number, 5);
    } finally {
      await told.dispose();
    }
    const bad = { ...base, is_original_qwen3_reranker: true, classifier_from_token: ['no', 'maybe'] };
    await expect(createEncoder({ model: folder(bad), device: 'cpu' })).rejects.toThrow(/no token "maybe"/);
    await expect(createEncoder({ model: folder({ ...bad, classifier_from_token: 'yes' }), device: 'cpu' })).rejects.toMatchObject(
      { code: 'MODEL_FORMAT' },
    );
  });

  it('a model whose prompt takes no instruction refuses one', async () => {
    const enc = await createEncoder({ model: join(FIXTURES, 'ce-xlmr-tiny'), device: 'cpu' });
    try {
      await expect(enc.rerank('q', ['d'], { instruction: 'find it' })).rejects.toThrow(/reads no instruction/);
    } finally {
      await enc.dispose();
    }
  });
});

describe('mxbai-rerank-v2 (a Qwen2 decoder reranker) against test/oracle/make_mxbai_reranker.py', () => {
  const original = join(FIXTURES, 'mxbai-rerank-tiny-v2');
  const seq = join(FIXTURES, 'mxbai-rerank-tiny-v2-seq');
  const expected = JSON.parse(readFileSync(join(original, 'expected.json'), 'utf8')) as Expected & {
    instructions: (string | null)[];
    truncated: boolean[];
  };
  const options = (i: number) => (expected.instructions[i] ? { instruction: expected.instructions[i] as string } : {});

  it('a reranker by its name; a Qwen2 classifier of unknown prompt and Qwen2 with its own model code are refused', () => {
    const causal = configOf('mxbai-rerank-tiny-v2');
    // Under no known name: a causal LM, run as transformers' Qwen2Model runs it (an embedder).
    expect(parseHfConfig(causal).crossEncoder).toBeUndefined();
    expect(parseHfConfig(causal).decoder).toMatchObject({ causal: true, qkNorm: false, qkvBias: true });
    const ownCode = { ...causal, auto_map: { AutoModel: 'modeling_qwen.Qwen2Model' } };
    expect(() => parseHfConfig(ownCode)).toThrow(UnsupportedError);
    expect(() => parseHfConfig(ownCode)).toThrow(/own code.*modeling_qwen\.Qwen2Model/);
    const spec = { activation: 'sigmoid', pooling: 'last', hidden: null, input: 'mxbai-rerank-v2' };
    expect(parseHfConfig(decoderRerankerOverrides(causal, 'mixedbread-ai/mxbai-rerank-base-v2')).crossEncoder).toEqual(spec);
    expect(peekHfConfig(causal, 'mixedbread-ai/mxbai-rerank-large-v2').numLayers).toBe(3);
    expect(peekHfConfig(causal, 'someone/qwen2-embedder').modelType).toBe('qwen2');
    const classifier = configOf('mxbai-rerank-tiny-v2-seq');
    expect(() => parseHfConfig(classifier)).toThrow(/prompt is unknown/);
    expect(parseHfConfig(decoderRerankerOverrides(classifier, 'michaelfeil/mxbai-rerank-base-v2-seq')).crossEncoder).toEqual(
      spec,
    );
    expect(() => parseHfConfig({ ...classifier, m3web_rerank_prompt: 'chatml' })).toThrow(/m3web_rerank_prompt/);
    // Names that only look alike say nothing.
    for (const name of ['mixedbread-ai/mxbai-rerank-base-v1', 'mixedbread-ai/mxbai-rerank-base-v20', 'x/not-mxbai-rerank-base']) {
      expect(decoderRerankerOverrides(causal, name)).toBe(causal);
    }
  });

  it("the prompt: MxbaiRerankV2's pieces tokenized apart, the query cut to 3/4 of the room, the document after it", () => {
    const config = parseHfConfig(decoderRerankerOverrides(configOf('mxbai-rerank-tiny-v2'), original));
    const tokenizer = TextTokenizer.fromJson(
      JSON.parse(readFileSync(join(original, 'tokenizer.json'), 'utf8')),
      JSON.parse(readFileSync(join(original, 'tokenizer_config.json'), 'utf8')),
    );
    const spec = config.crossEncoder as CrossEncoderSpec;
    const maxTokens = Math.max(...expected.ids.map((ids) => ids.length));
    expected.pairs.forEach(([q, d], i) => {
      const [input] = encodeRerankInput(tokenizer, spec, q, d, maxTokens, {
        segmentTypes: false,
        instruction: expected.instructions[i] ?? undefined,
      });
      expect(input?.ids).toEqual(expected.ids[i]);
      expect(input?.truncated).toBe(expected.truncated[i]);
    });
    const [q, d] = expected.pairs[0] as [string, string];
    expect(() => encodeRerankInput(tokenizer, spec, q, d, 20, { segmentTypes: false })).toThrow(/no room/);
  });

  it.each([
    ['the original repository (Qwen2ForCausalLM), by its LM head\'s "1" and "0" rows', original],
    ['its sequence-classifier conversion', seq],
  ])('scores every pair as the oracle does: %s (CPU, f32; packs f32 and q8)', async (_, dir) => {
    const enc = await createEncoder({ model: dir, device: 'cpu' });
    try {
      const info = (await enc.info()).model;
      expect(info.crossEncoder).toBe(true);
      // It takes an instruction and reads none by default.
      expect(info.rerankInstruction).toBe('');
      for (const [i, [q, d]] of expected.pairs.entries()) {
        const [hit] = await enc.rerank(q, [d], options(i));
        const logit = Math.log((hit?.score as number) / (1 - (hit?.score as number)));
        expect(Math.abs(logit - (expected.logits[i] as number))).toBeLessThan(1e-4);
        expect(hit?.truncated).toBe(expected.truncated[i]);
      }
    } finally {
      await enc.dispose();
    }
    const worst = await packAgainstOracleFolder(dir, expected);
    console.log(
      `${dir.split('/').pop()} packs: max |logit - oracle| f32 ${worst.f32.toExponential(1)}, q8 ${worst.q8.toFixed(3)}`,
    );
    expect(worst.f32).toBeLessThan(1e-4);
    // make_mxbai_reranker.py: q8 rounding alone moves these logits (spread 2.6) by up to 0.18.
    expect(worst.q8).toBeLessThan(0.4);
  });

  it('the same files under another name are the causal LM their config says: an embedder', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'm3web-qwen2-'));
    for (const f of readdirSync(original)) copyFileSync(join(original, f), join(copy, f));
    const enc = await createEncoder({ model: copy, device: 'cpu' });
    try {
      expect((await enc.info()).model.crossEncoder).toBeUndefined();
      const [v] = await enc.embed([(expected.pairs[0] as [string, string])[0]]);
      expect(Math.hypot(...(v as Float32Array))).toBeCloseTo(1, 5);
      await expect(enc.rerank('q', ['d'])).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    } finally {
      await enc.dispose();
    }
  });
});

describe.each([
  ['ce-bert-tiny', 'Xenova/ms-marco-MiniLM-L-6-v2'],
  ['ce-xlmr-tiny', 'Xenova/bge-reranker-base'],
])('%s as a transformers.js text-classification repository (ONNX only, %s)', (model) => {
  it('reads the head out of the graph (Gemm under its own names) and scores as the oracle', async () => {
    const expected = read(model);
    const enc = await createEncoder({ model: join(FIXTURES, `${model}-onnx`), device: 'cpu' });
    try {
      expect((await enc.info()).model.crossEncoder).toBe(true);
      for (const [i, [q, d]] of expected.pairs.entries()) {
        const [hit] = await enc.rerank(q, [d]);
        expect(hit?.score).toBeCloseTo(expected.scores[i] as number, 5);
      }
    } finally {
      await enc.dispose();
    }
  });
});

describe("a long document in windows (RerankOptions.long: 'windows')", () => {
  const dir = join(FIXTURES, 'ce-bert-tiny');
  const expected = read('ce-bert-tiny');
  const tokenizer = TextTokenizer.fromJson(
    JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
    JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
  );
  const [query, short] = expected.pairs[0] as [string, string];
  const long = expected.pairs.map(([, d]) => d).join(' ');

  it('windows cover the whole document in order, overlapping, each framed by the template with the query', () => {
    const max = 48;
    const b = tokenizer.tokenIds(long, false);
    const a = tokenizer.tokenIds(query, false);
    const windows = tokenizer.encodePairWindows(query, long, max, true, 8);
    expect(windows.length).toBeGreaterThan(3);
    const keepA = Math.min(a.length, Math.floor((max - 3) / 2));
    const width = max - 3 - keepA;
    let covered = 0;
    windows.forEach((w, i) => {
      expect(w.ids.length).toBeLessThanOrEqual(max);
      expect(w.ids.slice(0, keepA + 2)).toEqual([2, ...a.slice(0, keepA), 3]);
      expect(w.ids.at(-1)).toBe(3);
      expect(w.secondSegment).toBe(keepA + 2);
      const part = w.ids.slice(keepA + 2, -1);
      const from = i === windows.length - 1 ? b.length - part.length : i * (width - Math.min(8, Math.floor(width / 4)));
      expect(part).toEqual(b.slice(from, from + part.length));
      expect(from).toBeLessThanOrEqual(covered);
      covered = from + part.length;
    });
    expect(covered).toBe(b.length);
    // A pair that fits is encodePair's, whole.
    expect(tokenizer.encodePairWindows(query, short, 512, true, 8)).toEqual([tokenizer.encodePair(query, short, 512)]);
  });

  it("scores a long document by its best window, as the model's forward scores each; short ones as 'cut' does", async () => {
    const enc = await createEncoder({ model: dir, device: 'cpu' });
    const config = parseHfConfig(configOf('ce-bert-tiny'));
    const weights = await weightsFromTensors(config, new SafetensorsFile(readFileSync(join(dir, 'model.safetensors'))));
    const cpu = new CpuEncoder(weights);
    try {
      const windowed = await enc.rerank(query, [short, long], { long: 'windows' });
      const cut = await enc.rerank(query, [short, long]);
      const hit = (hits: RerankHit[], index: number) => hits.find((h) => h.index === index) as RerankHit;
      expect(hit(windowed, 0).score).toBe(hit(cut, 0).score);
      expect(hit(cut, 1).truncated).toBe(true);
      expect(hit(windowed, 1).truncated).toBe(false);
      const windows = tokenizer.encodePairWindows(query, long, config.maxTokens, true, 80);
      expect(windows.length).toBeGreaterThan(1);
      const states = await cpu.embed(
        windows.map((w) => w.ids),
        {
          layers: config.numLayers,
          dims: config.hiddenSize,
          pooling: 'cls',
          normalize: false,
          secondSegment: windows.map((w) => w.secondSegment),
        },
      );
      const head = cpuClassifier(
        weights.classifier as ClassifierHead,
        config.crossEncoder as CrossEncoderSpec,
        config.layerNormEps,
      );
      const bestLogit = Math.max(...states.map((v) => head(v)));
      expect(hit(windowed, 1).score).toBeCloseTo(1 / (1 + Math.exp(-bestLogit)), 5);
      await expect(enc.rerank(query, [long], { long: 'all' as never })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    } finally {
      cpu.dispose();
      await enc.dispose();
    }
  });
});

describe('rerank and embed refuse the other kind of model, and bad input', () => {
  it('an embedding model has no rerank; a cross-encoder makes no vectors; documents must be texts', async () => {
    const embedder = await createEncoder({ model: join(FIXTURES, 'bert-tiny'), device: 'cpu' });
    const cross = await createEncoder({ model: join(FIXTURES, 'ce-bert-tiny'), device: 'cpu' });
    try {
      await expect(embedder.rerank('q', ['d'])).rejects.toMatchObject({ code: 'UNSUPPORTED' });
      await expect(embedder.rerank('q', ['d'])).rejects.toThrow(/cross-encoder/);
      await expect(cross.embed(['a text'])).rejects.toMatchObject({ code: 'UNSUPPORTED' });
      await expect(cross.embed(['a text'])).rejects.toThrow(/rerank/);
      await expect(cross.rerank('q', 'd' as unknown as string[])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(cross.rerank('q', ['d', ''])).rejects.toThrow(/documents\[1\]/);
      await expect(cross.rerank('  ', ['d'])).rejects.toThrow(/query/);
      await expect(cross.rerank('q', ['d'], { layers: 7 })).rejects.toThrow(/layers/);
      const [shallow] = await cross.rerank('q', ['d'], { layers: 1 });
      expect(Number.isFinite(shallow?.score)).toBe(true);
    } finally {
      await embedder.dispose();
      await cross.dispose();
    }
  });
});

describe('search with a reranking step', () => {
  it("reorders the first stage's best `top` hits by the cross-encoder, and keeps k", async () => {
    const encoder = await createEncoder({ model: join(FIXTURES, 'bert-tiny'), device: 'cpu' });
    const reranker = await createEncoder({ model: join(FIXTURES, 'ce-bert-tiny'), device: 'cpu' });
    const { texts } = JSON.parse(readFileSync(join(FIXTURES, 'bert-tiny/expected.json'), 'utf8')) as { texts: string[] };
    // Whole words only: the lexical first stage below then finds the query's own text alone.
    const index = await createIndex({ encoder, name: 'rerank', store: 'memory', ngrams: false });
    try {
      await index.add(texts.map((text, i) => ({ id: `d${i}`, text })));
      const query = texts[2] as string;
      const first = await index.search(query, { k: 6 });
      const hits = await index.search(query, { k: 3, rerank: { reranker, top: 6 } });
      const want = await reranker.rerank(
        query,
        first.map((h) => h.chunk.text),
      );
      expect(hits.map((h) => h.id)).toEqual(want.slice(0, 3).map((r) => first[r.index]?.id));
      hits.forEach((h, i) => {
        expect(h.rerankScore).toBeCloseTo(want[i]?.score as number, 6);
      });
      // The lexical first stage reranks the same way (here it finds the query's own text only).
      const lexical = await index.search(query, { k: 2, mode: 'lexical', rerank: { reranker } });
      expect(lexical.map((h) => h.id)).toEqual(['d2']);
      expect(lexical[0]?.rerankScore).toBeGreaterThan(0);
      await expect(index.search(query, { rerank: { reranker: encoder } })).rejects.toMatchObject({ code: 'UNSUPPORTED' });
      await expect(index.search(query, { rerank: {} as never })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(index.search(query, { rerank: { reranker, top: 0 } })).rejects.toThrow(/rerank.top/);
      // The instruction reaches the reranker, which takes none here.
      await expect(index.search(query, { rerank: { reranker, instruction: 'find it' } })).rejects.toThrow(/reads no instruction/);
    } finally {
      index.close();
      await encoder.dispose();
      await reranker.dispose();
    }
  });
});

describe('m3web rerank', () => {
  it('scores stdin documents against --query, best first, as rerank() does', async () => {
    const dir = join(FIXTURES, 'ce-xlmr-tiny');
    const expected = read('ce-xlmr-tiny');
    const query = (expected.pairs[0] as [string, string])[0];
    const docs = expected.pairs.filter(([q]) => q === query).map(([, d]) => d);
    const r = await m3web(['rerank', '--model', dir, '--query', query, '--backend', 'cpu'], jsonLines(docs));
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { index: number; score: number });
    const enc = await createEncoder({ model: dir, device: 'cpu' });
    try {
      const want = await enc.rerank(query, docs);
      expect(lines.map((l) => l.index)).toEqual(want.map((h) => h.index));
      lines.forEach((l, i) => {
        expect(l.score).toBeCloseTo(want[i]?.score as number, 6);
      });
    } finally {
      await enc.dispose();
    }
    const top = await m3web(['rerank', '--model', dir, '--query', query, '--backend', 'cpu', '--top', '1'], jsonLines(docs));
    expect(top.stdout.trim().split('\n')).toHaveLength(1);
    // An instruction for a model whose prompt takes none is an input error; Qwen3-Reranker's takes one.
    const refused = await m3web(
      ['rerank', '--model', dir, '--query', query, '--backend', 'cpu', '--instruction', 'x'],
      jsonLines(docs),
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/reads no instruction/);
    const qwen = read('ce-qwen3-tiny') as Expected & { instructions: (string | null)[] };
    const [qq, qd] = qwen.pairs[5] as [string, string];
    const instructed = await m3web(
      [
        'rerank',
        '--model',
        join(FIXTURES, 'ce-qwen3-tiny'),
        '--query',
        qq,
        '--backend',
        'cpu',
        '--instruction',
        qwen.instructions[5] as string,
      ],
      jsonLines([qd]),
    );
    expect(instructed.code).toBe(0);
    expect((JSON.parse(instructed.stdout) as { score: number }).score).toBeCloseTo(qwen.scores[5] as number, 5);
    // --windows: a document past the model's limit read in windows, as rerank({ long: 'windows' }).
    const long = expected.pairs.map(([, d]) => d).join(' ');
    const windowed = await m3web(
      ['rerank', '--model', dir, '--query', query, '--backend', 'cpu', '--windows'],
      jsonLines([long]),
    );
    expect(windowed.code).toBe(0);
    const enc2 = await createEncoder({ model: dir, device: 'cpu' });
    try {
      const [want] = await enc2.rerank(query, [long], { long: 'windows' });
      expect((JSON.parse(windowed.stdout) as { score: number }).score).toBeCloseTo(want?.score as number, 6);
    } finally {
      await enc2.dispose();
    }
    const noQuery = await m3web(['rerank', '--model', dir], jsonLines(docs));
    expect(noQuery.code).toBe(2);
    expect(noQuery.stderr).toMatch(/--query/);
    const embedder = await m3web(
      ['rerank', '--model', join(FIXTURES, 'bert-tiny'), '--query', 'q', '--backend', 'cpu'],
      jsonLines(docs),
    );
    expect(embedder.code).toBe(1);
    expect(embedder.stderr).toMatch(/cross-encoder/);
  });
});
