// llama.cpp itself as the second oracle of fixtures/gguf-bert/, fixtures/gguf-xlmr/, fixtures/gguf-nomic/ and
// fixtures/gguf-jina/ (made by make_gguf.py; see README.md, "gguf-bert"), fixtures/gguf-qwen3/ (make_gguf_qwen3.py;
// README.md, "gguf-qwen3"), fixtures/gguf-eurobert/ (make_gguf_eurobert.py; README.md, "gguf-eurobert"), fixtures/gguf-gemma/ (make_gguf_gemma.py; README.md, "gguf-gemma"),
// fixtures/gguf-nomic-moe/ (make_gguf_nomic_moe.py; README.md, "gguf-nomic-moe"), fixtures/gguf-modernbert/
// (make_gguf_modernbert.py; README.md, "gguf-modernbert") and fixtures/gguf-roberta/ (make_gguf_roberta.py; README.md,
// "gguf-roberta").
//
// For each .gguf of those folders this loads the file in llama.cpp (CPU) through node-llama-cpp and records
//   ids:          llama.cpp's tokenization of each text, framed as llama_tokenize(add_special) frames it: for a WPM
//                 vocab (gguf-bert, gguf-nomic, gguf-jina) BOS = [CLS] first and SEP = [SEP] last; for a UGM vocab
//                 (gguf-xlmr, gguf-nomic-moe), a BPE vocab (gguf-qwen3) and an SPM vocab (gguf-gemma) BOS first when
//                 tokenizer.ggml.add_bos_token says so and EOS last when add_eos_token says so (gguf-qwen3: f16.gguf
//                 appends <|endoftext|>, q8_0.gguf, which has no add_eos_token, appends nothing).
//                 node-llama-cpp's model.tokenize(text) runs llama_tokenize without specials, so they are added here,
//   embeddings:   the embedding of those ids, pooled as the GGUF's pooling_type says (mean; gguf-qwen3: last token;
//                 gguf-gemma: mean, then its dense layers):
//                 getEmbeddingFor(text) for WPM (node-llama-cpp's embedding context prepends tokens.bos and appends
//                 tokens.sep, the same ids); getEmbeddingFor(ids) for UGM, where node-llama-cpp would append </s> but
//                 never prepend <s>, and for BPE and SPM. A file without pooling_type (gguf-qwen3's q8_0.gguf) runs with
//                 pooling NONE: node-llama-cpp then returns llama_get_embeddings_ith(ctx, -1), the last token's
//                 hidden state after output_norm, which is last-token pooling (what `--pooling last` gives),
//   embeddings_from_ids: getEmbeddingFor(expected.json's ids), so the numbers can be compared with the PyTorch
//                 oracle even where the tokenizations differ,
// writes <folder>/llamacpp.json and prints, per file and text, the cosines with expected.json's oracle (its mean; its
// pooled for the decoder folders, those with `pooled` in FOLDERS).
//
// node-llama-cpp is NOT a dependency of m3web. Install it outside the repository:
//     npm install --prefix /tmp/nlc node-llama-cpp@3.22.1
// (it brings prebuilt CPU llama.cpp binaries), then
//     cd test/oracle && /usr/bin/python3 make_gguf.py && node gguf_llamacpp.mjs [path/to/node_modules/node-llama-cpp]
// The package path may also be given as NODE_LLAMA_CPP=...; default /tmp/nlc/node_modules/node-llama-cpp.
// GGUF_FOLDERS=gguf-qwen3[,gguf-bert...] runs only those folders (default: all).
// Exits 1 when a file does not load or a cosine is under its bound (see FOLDERS).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const NLC = process.argv[2] ?? process.env.NODE_LLAMA_CPP ?? '/tmp/nlc/node_modules/node-llama-cpp';
// Lower bounds on the cosine of llama.cpp's embedding (from the Hugging Face ids) with
//   oracle: expected.json's mean (float32 weights), stored: files[f].mean (the weights f stores, dequantized).
// llama.cpp differs from the oracle by its float32/f16 arithmetic, tanh-approximated GELU (ggml_gelu, BERT uses
// erf) and, for quantized weights, Q8 rounding of the activations in its quantized matrix products.
const FOLDERS = [
  {
    name: 'gguf-bert',
    bounds: {
      'f16.gguf': { oracle: 0.999, stored: 0.999 },
      'q8_0.gguf': { oracle: 0.999, stored: 0.999 },
      'q4_k_m.gguf': { oracle: 0.98, stored: 0.999 },
      'mixed.gguf': { oracle: 0.98, stored: 0.999 },
      // plain roundings to 2-4 bits: far from the float32 weights (0.93), not from what the file stores
      'lowbit.gguf': { oracle: 0.9, stored: 0.999 },
    },
  },
  {
    name: 'gguf-xlmr',
    bounds: {
      'f16.gguf': { oracle: 0.999, stored: 0.999 },
      'q8_0.gguf': { oracle: 0.999, stored: 0.999 },
    },
  },
  // NomicBERT (architecture nomic-bert: RoPE, SwiGLU); its longest text has 150 ids, nomic-bert.context_length is 160
  {
    name: 'gguf-nomic',
    contextSize: 160,
    bounds: {
      'f16.gguf': { oracle: 0.999, stored: 0.999 },
      'q8_0.gguf': { oracle: 0.999, stored: 0.999 },
    },
  },
  // NomicBERT with experts (architecture nomic-bert-moe: 8 experts, top 2, in layers 1 and 3; ffn_up_exps /
  // ffn_down_exps, no experts bias) on gguf-xlmr's SentencePiece vocabulary (UGM)
  {
    name: 'gguf-nomic-moe',
    contextSize: 160,
    bounds: {
      'f16.gguf': { oracle: 0.999, stored: 0.999 },
      'q8_0.gguf': { oracle: 0.999, stored: 0.999 },
    },
  },
  // RoBERTa (architecture bert, a byte-level BPE vocabulary: pre-tokenizer roberta-bpe, GPT-2's) framed <s> ... </s>,
  // positions from pad_token_id + 1 with the two rows before them cut, as granite-embedding-30m-english's GGUF
  {
    name: 'gguf-roberta',
    bounds: {
      'f16.gguf': { oracle: 0.999, stored: 0.999 },
      'q8_0.gguf': { oracle: 0.999, stored: 0.999 },
    },
    note: (norms) =>
      "embeddings / embeddings_from_ids: what getEmbeddingFor returns (llama_get_embeddings_seq of the GGUF's " +
      `pooling_type, mean), not normalised: their L2 norms are ${norms} times those of the oracle's unnormalised ` +
      'means. ids: [bos] + model.tokenize(text) + [eos] (add_bos_token / add_eos_token true; bos <s>, eos </s>), ' +
      'what llama_tokenize(add_special) gives for this BPE vocabulary; embeddings come from those ids, ' +
      "embeddings_from_ids from expected.json's ids. cosine (of embeddings_from_ids, but text_vs_oracle: of " +
      "embeddings): with expected.json's mean (oracle: float32 weights; stored: files[f].mean, the file's own " +
      'dequantized weights) and with its CLS vector (vs_cls, far from 1: llama.cpp pooled by mean, not CLS).',
  },
  // JinaBERT v2 (architecture jina-bert-v2: ALiBi, GeGLU in one fused ffn_up, or split into ffn_gate + ffn_up as
  // older converters wrote it); the same 12 texts as gguf-nomic
  {
    name: 'gguf-jina',
    contextSize: 160,
    bounds: {
      'f16.gguf': { oracle: 0.999, stored: 0.999 },
      'q8_0.gguf': { oracle: 0.999, stored: 0.999 },
      'f16-split.gguf': { oracle: 0.999, stored: 0.999 },
    },
  },
  // Qwen3 (architecture qwen3: causal, GQA, q/k norms, last-token pooling) on a reduced real Qwen3 BPE vocabulary;
  // the oracle is expected.json's `pooled` (the last token, <|endoftext|>), not a mean. Its longest text has 209 ids.
  // One token's state is noisier than a mean: Q8_0 weights alone bring the oracle to 0.99926 (make_gguf_qwen3.py), so
  // q8_0.gguf's bound against the float32 oracle is 0.998.
  {
    name: 'gguf-qwen3',
    contextSize: 512,
    pooled: true,
    bounds: {
      'f16.gguf': { oracle: 0.999, stored: 0.999 },
      'q8_0.gguf': { oracle: 0.998, stored: 0.999 },
    },
    note: (norms) =>
      "embeddings / embeddings_from_ids: what getEmbeddingFor returns, not normalised: with the GGUF's pooling_type (3, " +
      'LAST) llama_get_embeddings_seq, without one (pooling NONE) llama_get_embeddings_ith(ctx, -1); both are the ' +
      "last token's hidden state after output_norm. Their L2 norms are " +
      `${norms} times those of the oracle's. ids: ([bos] if add_bos) + model.tokenize(text) + ` +
      '([eos] if add_eos), what llama_tokenize(add_special) gives for this BPE vocabulary (q8_0.gguf has no ' +
      'add_eos_token: no <|endoftext|>, so its embeddings are those of the last text token, not the oracle); ' +
      "embeddings come from those ids, embeddings_from_ids from expected.json's ids. cosine: of embeddings_from_ids " +
      "with expected.json's pooled (oracle: float32 weights; stored: files[f].pooled, the file's own dequantized " +
      "weights); text_vs_oracle: of embeddings with pooled. ids_agree: ids equal expected.json's; tokens_agree: " +
      "model.tokenize(text) equals expected.json's ids less the final <|endoftext|> (llama.cpp's BPE has no NFC " +
      'normalizer: a decomposed accent stays two characters).',
  },
  // EuroBERT (architecture eurobert: bidirectional, GQA, no q/k norms, last-token pooling), as jina-embeddings-v5-text-nano
  // is converted, on a reduced real Llama 3 BPE vocabulary (pre-tokenizer jina-v5-nano: Llama 3's); compared, like
  // gguf-qwen3, with expected.json's `pooled`. q8_0.gguf says pooling_type 0 (NONE): the last token's state all the same.
  {
    name: 'gguf-eurobert',
    contextSize: 512,
    pooled: true,
    bounds: {
      'f16.gguf': { oracle: 0.999, stored: 0.999 },
      'q8_0.gguf': { oracle: 0.998, stored: 0.999 },
    },
    note: (norms) =>
      "embeddings / embeddings_from_ids: what getEmbeddingFor returns, not normalised: with f16.gguf's pooling_type (3, " +
      "LAST) llama_get_embeddings_seq, with q8_0.gguf's (0, NONE) llama_get_embeddings_ith(ctx, -1); both are the last " +
      `token's hidden state after output_norm. Their L2 norms are ${norms} times those of the oracle's. ids: ` +
      '([bos] if add_bos) + model.tokenize(text) + ([eos] if add_eos), what llama_tokenize(add_special) gives (both ' +
      'files: no <|begin_of_text|>, <|end_of_text|> appended); embeddings come from those ids, embeddings_from_ids from ' +
      "expected.json's ids. cosine: of embeddings_from_ids with expected.json's pooled (oracle: float32 weights; " +
      "stored: files[f].pooled, the file's own dequantized weights); text_vs_oracle: of embeddings with pooled. " +
      "ids_agree: ids equal expected.json's; tokens_agree: model.tokenize(text) equals expected.json's ids less the " +
      'final <|end_of_text|>.',
  },
  // ModernBERT (architecture modern-bert: local windows, two RoPE bases, GeGLU) on a reduced real GPT-2 vocabulary
  // (pre-tokenizer modern-bert: GPT-2's) framed [CLS] ... [SEP]; f16.gguf pools by mean, q8_0.gguf by CLS, each compared
  // with that top-level vector of expected.json (`ref`) and with its files[f].pooled.
  {
    name: 'gguf-modernbert',
    contextSize: 512,
    pooled: true,
    bounds: {
      'f16.gguf': { oracle: 0.999, stored: 0.999, ref: 'mean' },
      'q8_0.gguf': { oracle: 0.998, stored: 0.999, ref: 'cls' },
      // granite-embedding-97m-multilingual-r2's SwiGLU (hidden_activation silu): the top-level vectors are GeGLU's
      'f16-silu.gguf': { oracle: -1, stored: 0.999, ref: 'cls' },
    },
    note: (norms) =>
      "embeddings / embeddings_from_ids: what getEmbeddingFor returns (llama_get_embeddings_seq of the GGUF's " +
      'pooling_type: f16.gguf 1, MEAN over all tokens; q8_0.gguf and f16-silu.gguf 2, CLS), not normalised. ids: [bos] + ' +
      'model.tokenize(text) + [eos] (add_bos_token / add_eos_token true; bos [CLS], eos [SEP]), what ' +
      'llama_tokenize(add_special) gives for this BPE vocabulary; embeddings come from those ids, embeddings_from_ids ' +
      "from expected.json's ids. cosine: of embeddings_from_ids with expected.json's mean (f16.gguf) or cls (q8_0.gguf) " +
      '(oracle: float32 weights; meaningless for f16-silu.gguf, whose hidden_activation silu makes it another model) ' +
      "and with files[f].pooled (stored: the file's own dequantized weights and activation); text_vs_oracle: of " +
      "embeddings with the same. ids_agree: ids equal expected.json's; tokens_agree: model.tokenize(text) equals them " +
      `less [CLS] and [SEP]. Their L2 norms are ${norms} times those of the oracle's.`,
  },
  // EmbeddingGemma (architecture gemma-embedding: bidirectional, sliding windows, mean pooling, then dense_2 / dense_3)
  // on a reduced real Gemma 3 SentencePiece vocabulary; compared, like gguf-qwen3, with expected.json's `pooled` (here
  // the mean through the dense layers). f16-nodense.gguf has no dense tensors: llama.cpp returns the mean, which is its
  // files[f].pooled (stored) but not the top-level pooled (oracle: no bound).
  {
    name: 'gguf-gemma',
    contextSize: 512,
    pooled: true,
    bounds: {
      'f16.gguf': { oracle: 0.999, stored: 0.999 },
      'q8_0.gguf': { oracle: 0.999, stored: 0.999 },
      'f16-nodense.gguf': { oracle: -1, stored: 0.999 },
    },
    note: (norms) =>
      "embeddings / embeddings_from_ids: what getEmbeddingFor returns (llama_get_embeddings_seq: the GGUF's " +
      'pooling_type 1, MEAN, over all tokens, then dense_2 and dense_3 where the file has them), not normalised. ids: ' +
      '[bos] + model.tokenize(text) + [eos] (tokenizer.ggml.add_bos_token / add_eos_token true), what ' +
      'llama_tokenize(add_special) gives for this SPM vocabulary; embeddings come from those ids, embeddings_from_ids ' +
      "from expected.json's ids. cosine: of embeddings_from_ids with expected.json's pooled (oracle: float32 weights, " +
      "after the dense layers; meaningless for f16-nodense.gguf) and files[f].pooled (stored: the file's own " +
      'dequantized weights; the mean for f16-nodense.gguf); text_vs_oracle: of embeddings with pooled. ids_agree: ids ' +
      "equal expected.json's; tokens_agree: model.tokenize(text) equals them less <bos> and <eos>. Their L2 norms are " +
      `${norms} times those of the oracle's.`,
  },
];
const ONLY = process.env.GGUF_FOLDERS ? new Set(process.env.GGUF_FOLDERS.split(',')) : null;

// llamacpp.json's note for the encoder folders (no note of their own: mean pooling, a WPM or a UGM vocabulary)
const meanNote = (ugm) => (norms) =>
  'embeddings / embeddings_from_ids: what getEmbeddingFor returns (llama_get_embeddings_seq of the ' +
  "GGUF's pooling_type, mean), not normalised: their L2 norms are " +
  `${norms} times ` +
  (ugm
    ? "those of the oracle's unnormalised means. ids: ([tokens.bos] if add_bos_token) + model.tokenize(text) + " +
      '([tokens.eos] if add_eos_token), what llama_tokenize(add_special) gives for a UGM vocabulary; embeddings ' +
      "come from those ids (getEmbeddingFor(ids): node-llama-cpp's own framing of a text for UGM leaves <s> out), " +
      "embeddings_from_ids from expected.json's ids. cosine (of embeddings_from_ids, but text_vs_oracle: of " +
      "embeddings; node_text_vs_oracle: of getEmbeddingFor(text), node-llama-cpp's framing without <s>, for the " +
      "record): with expected.json's mean (oracle: float32 weights; stored: files[f].mean, the file's own " +
      'dequantized weights) and with its CLS vector (vs_cls, far from 1: llama.cpp pooled by mean, not CLS).'
    : "those of the oracle's unnormalised means. ids: [tokens.bos] + model.tokenize(text) + [tokens.sep], what " +
      'llama_tokenize(add_special) gives for a WPM vocabulary; embeddings come from those ids, embeddings_from_ids ' +
      "from expected.json's ids. cosine (of embeddings_from_ids, but text_vs_oracle: of embeddings): with " +
      "expected.json's mean (oracle: float32 weights; stored: files[f].mean, the file's own dequantized weights) and " +
      'with its CLS vector (vs_cls, far from 1: llama.cpp pooled by mean, not CLS).');

const pkg = JSON.parse(fs.readFileSync(path.join(NLC, 'package.json'), 'utf8'));
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(path.join(NLC, 'dist', 'index.js')).href);

const cosine = (u, v) => {
  let uv = 0,
    uu = 0,
    vv = 0;
  for (let i = 0; i < u.length; i++) {
    uv += u[i] * v[i];
    uu += u[i] * u[i];
    vv += v[i] * v[i];
  }
  return uv / Math.sqrt(uu * vv);
};
const norm = (u) => Math.sqrt(u.reduce((s, x) => s + x * x, 0));
const r8 = (v) => Array.from(v, (x) => Number(x.toPrecision(8)));
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
let failed = false;

// One loop for every folder. Per file and text: ids (llama_tokenize(add_special)'s framing: [bos] +
// model.tokenize(text) + [sep] for a WPM vocabulary, ([bos] if add_bos_token) + model.tokenize(text) + ([eos] if
// add_eos_token) for the others), embeddings (getEmbeddingFor(text) for WPM, which node-llama-cpp frames the same way,
// getEmbeddingFor(those ids) for the others), embeddings_from_ids (getEmbeddingFor(expected.json's ids)) and the
// cosines with expected.json's oracle vectors: its mean (and cls: vs_cls) for the encoders; for a folder with
// `pooled` (the decoders) its pooled, and also the file's vocabulary fields and tokens_agree (model.tokenize(text)
// alone is expected.json's ids less the appended special token and a leading <bos>: the tokenizers agree whatever the
// framing). note(norms): the folder's llamacpp.json note, given the range of the L2 norm ratios (meanNote without).
for (const { name, bounds, contextSize = 128, pooled = false, note } of FOLDERS) {
  if (ONLY && !ONLY.has(name)) continue;
  const FOLDER = path.join(HERE, 'fixtures', name);
  const expected = JSON.parse(fs.readFileSync(path.join(FOLDER, 'expected.json'), 'utf8'));
  const { texts } = expected;
  const ref = pooled ? 'pooled' : 'mean'; // expected.json's oracle vectors
  const out = {
    llama_cpp: {
      node_llama_cpp: pkg.version,
      release: llama.llamaCppRelease,
      build_type: llama.buildType,
      gpu: llama.gpu,
    },
    note: '',
    files: {},
  };
  let ugm = false;
  const ratios = [];
  console.log(`${name}:`);
  for (const file of Object.keys(bounds)) {
    let model;
    try {
      model = await llama.loadModel({ modelPath: path.join(FOLDER, file) });
    } catch (err) {
      console.log(`${file}: llama.cpp refused the file: ${err.message}`);
      failed = true;
      continue;
    }
    const { bos, sep, eos, eot } = model.tokens;
    const addBos = model.tokens.shouldPrependBosToken;
    const addEos = model.tokens.shouldAppendEosToken;
    const wpm = model.vocabularyType === 'wpm';
    ugm = model.vocabularyType === 'ugm';
    const pooling = model.fileInfo.metadata?.[model.fileInfo.metadata?.general?.architecture]?.pooling_type ?? null;
    const ctx = await model.createEmbeddingContext({ contextSize });
    const rec = {
      ...(pooled
        ? { vocabulary: model.vocabularyType, bos, eos, eot, add_bos: addBos, add_eos: addEos, pooling_type: pooling }
        : {}),
      ids: [],
      embeddings: [],
      embeddings_from_ids: [],
      cosine: [],
    };
    console.log(
      `${file}: vocabulary ${model.vocabularyType}, bos ${bos}, sep ${sep}, eos ${eos}, eot ${eot}, add_bos ${addBos}, ` +
        `add_eos ${addEos}, pooling_type ${pooling}, embedding size ${model.embeddingVectorSize}`,
    );
    for (let i = 0; i < texts.length; i++) {
      const want = expected.ids[i];
      const pieces = Array.from(model.tokenize(texts[i]));
      const ids = wpm ? [bos, ...pieces, sep] : [...(addBos ? [bos] : []), ...pieces, ...(addEos ? [eos] : [])];
      const fromText = (await ctx.getEmbeddingFor(wpm ? texts[i] : ids)).vector;
      const fromIds = (await ctx.getEmbeddingFor(want)).vector;
      const idsAgree = same(ids, want);
      const c = { ids_agree: idsAgree };
      if (pooled) {
        const unframed = want.slice(addBos && want[0] === bos ? 1 : 0, -1);
        c.tokens_agree = want.at(-1) === expected.ids[0].at(-1) && same(pieces, unframed);
      }
      const top = bounds[file].ref ?? ref; // the oracle's vector this file's pooling gives
      c.oracle = cosine(fromIds, expected[top][i]);
      c.stored = cosine(fromIds, expected.files[file][ref][i]);
      if (!pooled) c.vs_cls = cosine(fromIds, expected.cls[i]);
      c.text_vs_oracle = cosine(fromText, expected[top][i]);
      // node-llama-cpp's own framing of a text for a UGM vocab (no <s>), for the record only
      if (ugm) c.node_text_vs_oracle = cosine((await ctx.getEmbeddingFor(texts[i])).vector, expected[ref][i]);
      ratios.push(norm(fromIds) / norm(expected.files[file][ref][i]));
      rec.ids.push(ids);
      rec.embeddings.push(r8(fromText));
      rec.embeddings_from_ids.push(r8(fromIds));
      rec.cosine.push(
        Object.fromEntries(Object.entries(c).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(7)) : v])),
      );
      const b = bounds[file];
      const bad = c.oracle < b.oracle || c.stored < b.stored || (idsAgree && c.text_vs_oracle < b.oracle);
      failed ||= bad;
      console.log(
        `  text ${i} (${want.length} ids): ids ${idsAgree ? 'agree' : 'DIFFER'}` +
          (pooled ? `, tokens ${c.tokens_agree ? 'agree' : 'DIFFER'}` : '') +
          `; cosine from HF ids vs oracle ${c.oracle.toFixed(6)}, vs stored-weights oracle ${c.stored.toFixed(6)}; ` +
          `from llama.cpp's ids vs oracle ${c.text_vs_oracle.toFixed(6)}${bad ? '  << under bound' : ''}` +
          (ugm ? `; node-llama-cpp's framing of the text vs oracle ${c.node_text_vs_oracle.toFixed(6)}` : ''),
      );
      if (!(pooled ? c.tokens_agree : idsAgree)) {
        const vocab = model.fileInfo.metadata?.tokenizer?.ggml?.tokens ?? [];
        const show = (x) => x.map((t) => JSON.stringify(vocab[t] ?? t)).join(' ');
        console.log(`    HF:        ${show(want)}`);
        console.log(`    llama.cpp: ${show(ids)}`);
      }
    }
    out.files[file] = rec;
    const min = (k) => Math.min(...rec.cosine.map((c) => c[k]));
    const count = (k) => `${rec.cosine.filter((c) => c[k]).length}/${texts.length}`;
    console.log(
      `  ${file}: min cosine from HF ids: vs oracle ${min('oracle').toFixed(6)}, vs stored ${min('stored').toFixed(6)}; ` +
        `ids agree on ${count('ids_agree')} texts${pooled ? `, tokens on ${count('tokens_agree')}` : ''}`,
    );
    await ctx.dispose();
    await model.dispose();
  }

  const norms = `${Math.min(...ratios).toFixed(4)}..${Math.max(...ratios).toFixed(4)}`;
  out.note = (note ?? meanNote(ugm))(norms);
  fs.writeFileSync(path.join(FOLDER, 'llamacpp.json'), `${JSON.stringify(out)}\n`);
  console.log(`${name}/llamacpp.json written; L2 norm of llama.cpp's embedding / oracle ${ref}'s: ${norms}`);
}
// Rerankers (fixtures/gguf-reranker/, make_gguf_reranker.py): llama.cpp's ranking context (rank pooling: the first
// token through cls, tanh and cls.output; node-llama-cpp returns the sigmoid of the logit) scores expected.json's
// pair ids; compared with the sigmoid of its logits (oracle: float32 weights; stored: files[f].logits).
// Bounds on |score - sigmoid(stored logit)|: llama.cpp's tanh GELU (f16), and its 8-bit activations (q8_0).
const RERANKERS = [
  { name: 'gguf-reranker', bounds: { 'f16.gguf': 0.002, 'q8_0.gguf': 0.03 } },
  // RoBERTa (a byte-level BPE, roberta-bpe: llama.cpp adds the separator between the pair's texts)
  { name: 'gguf-roberta-reranker', bounds: { 'f16.gguf': 0.002 } },
  // Qwen3-Reranker: rank pooling is softmax over cls.output's [yes, no] logits of the last token, which node-llama-cpp
  // returns as it is (for qwen3 it applies no sigmoid): softmax([yes, no])[yes] = sigmoid(yes - no)
  { name: 'gguf-qwen3-reranker', bounds: { 'f16.gguf': 0.002, 'q8_0.gguf': 0.03 } },
];
const sigmoid = (x) => 1 / (1 + Math.exp(-x));
for (const { name, bounds } of RERANKERS) {
  if (ONLY && !ONLY.has(name)) continue;
  const FOLDER = path.join(HERE, 'fixtures', name);
  const expected = JSON.parse(fs.readFileSync(path.join(FOLDER, 'expected.json'), 'utf8'));
  const out = {
    llama_cpp: { node_llama_cpp: pkg.version, release: llama.llamaCppRelease, build_type: llama.buildType, gpu: llama.gpu },
    note:
      "scores[f][i]: llama.cpp's rank pooling on file f (the first token through cls, tanh and cls.output), the " +
      "sigmoid of that logit, for expected.json's pairs[i] (node-llama-cpp's ranking context evaluating those ids). " +
      'scores_from_text[f]: LlamaRankingContext.rank(query, document), which frames [bos] query [eos] [sep] document ' +
      '[eos] from its own tokenization of each text, its leading space trimmed (XLM-R tokenizes a text with one), for ' +
      "the record. diff: the largest |scores - sigmoid(logit)| over the pairs against expected.json's logits (oracle) " +
      'and files[f].logits (stored).',
    scores: {},
    diff: {},
  };
  console.log(`${name}:`);
  for (const [file, bound] of Object.entries(bounds)) {
    const model = await llama.loadModel({ modelPath: path.join(FOLDER, file) });
    const ctx = await model.createRankingContext({ contextSize: 128 });
    // The pairs' ids as Hugging Face frames them, through the context's own evaluation (rank(query, document) would
    // tokenize each text with its leading space trimmed, which XLM-R's tokenizer does not do)
    const scores = [];
    for (const ids of expected.ids) scores.push(await ctx._evaluateRankingForInput(ids));
    const fromText = [];
    for (const q of expected.queries) for (const d of expected.documents) fromText.push(await ctx.rank(q, d));
    out.scores_from_text ??= {};
    out.scores_from_text[file] = fromText.map((x) => Number(x.toPrecision(8)));
    const worst = (logits) => Math.max(...scores.map((p, i) => Math.abs(p - sigmoid(logits[i]))));
    const diff = { oracle: worst(expected.logits), stored: worst(expected.files[file].logits) };
    out.scores[file] = scores.map((x) => Number(x.toPrecision(8)));
    out.diff[file] = diff;
    failed ||= diff.stored > bound;
    console.log(
      `  ${file}: scores ${scores.map((x) => x.toFixed(4)).join(' ')}; max |diff| vs oracle ${diff.oracle.toFixed(5)}, vs stored ${diff.stored.toFixed(5)}`,
    );
    await ctx.dispose();
    await model.dispose();
  }
  fs.writeFileSync(path.join(FOLDER, 'llamacpp.json'), `${JSON.stringify(out)}\n`);
}
await llama.dispose();
process.exit(failed ? 1 : 0);
