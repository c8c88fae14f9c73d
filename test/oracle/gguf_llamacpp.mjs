// llama.cpp itself as the second oracle of fixtures/gguf-bert/, fixtures/gguf-xlmr/, fixtures/gguf-nomic/ and
// fixtures/gguf-jina/ (made by make_gguf.py; see README.md, "gguf-bert"), fixtures/gguf-qwen3/ (make_gguf_qwen3.py;
// README.md, "gguf-qwen3") and fixtures/gguf-gemma/ (make_gguf_gemma.py; README.md, "gguf-gemma").
//
// For each .gguf of those folders this loads the file in llama.cpp (CPU) through node-llama-cpp and records
//   ids:          llama.cpp's tokenization of each text, framed as llama_tokenize(add_special) frames it: for a WPM
//                 vocab (gguf-bert, gguf-nomic, gguf-jina) BOS = [CLS] first and SEP = [SEP] last; for a UGM vocab
//                 (gguf-xlmr) and a BPE vocab (gguf-qwen3) BOS first when tokenizer.ggml.add_bos_token says so and
//                 EOS last when add_eos_token says so (gguf-qwen3: f16.gguf appends <|endoftext|>, q8_0.gguf, which
//                 has no add_eos_token, appends nothing).
//                 node-llama-cpp's model.tokenize(text) runs llama_tokenize without specials, so they are added here,
//   embeddings:   the embedding of those ids, pooled as the GGUF's pooling_type says (mean; gguf-qwen3: last token):
//                 getEmbeddingFor(text) for WPM (node-llama-cpp's embedding context prepends tokens.bos and appends
//                 tokens.sep, the same ids); getEmbeddingFor(ids) for UGM, where node-llama-cpp would append </s> but
//                 never prepend <s>, and for BPE. A file without pooling_type (gguf-qwen3's q8_0.gguf) runs with
//                 pooling NONE: node-llama-cpp then returns llama_get_embeddings_ith(ctx, -1), the last token's
//                 hidden state after output_norm, which is last-token pooling (what `--pooling last` gives),
//   embeddings_from_ids: getEmbeddingFor(expected.json's ids), so the numbers can be compared with the PyTorch
//                 oracle even where the tokenizations differ,
// writes <folder>/llamacpp.json and prints, per file and text, the cosines with expected.json's oracle.
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
    last: true,
    bounds: {
      'f16.gguf': { oracle: 0.999, stored: 0.999 },
      'q8_0.gguf': { oracle: 0.998, stored: 0.999 },
    },
  },
  // EmbeddingGemma (architecture gemma-embedding: bidirectional, sliding windows, mean pooling, then dense_2 / dense_3)
  // on a reduced real Gemma 3 SentencePiece vocabulary; compared, like gguf-qwen3, with expected.json's `pooled` (here
  // the mean through the dense layers). f16-nodense.gguf has no dense tensors: llama.cpp returns the mean, which is its
  // files[f].pooled (stored) but not the top-level pooled (oracle: no bound).
  {
    name: 'gguf-gemma',
    contextSize: 512,
    last: true,
    bounds: {
      'f16.gguf': { oracle: 0.999, stored: 0.999 },
      'q8_0.gguf': { oracle: 0.999, stored: 0.999 },
      'f16-nodense.gguf': { oracle: -1, stored: 0.999 },
    },
    note:
      "embeddings / embeddings_from_ids: what getEmbeddingFor returns (llama_get_embeddings_seq: the GGUF's " +
      'pooling_type 1, MEAN, over all tokens, then dense_2 and dense_3 where the file has them), not normalised. ids: ' +
      '[bos] + model.tokenize(text) + [eos] (tokenizer.ggml.add_bos_token / add_eos_token true), what ' +
      'llama_tokenize(add_special) gives for this SPM vocabulary; embeddings come from those ids, embeddings_from_ids ' +
      "from expected.json's ids. cosine: of embeddings_from_ids with expected.json's pooled (oracle: float32 weights, " +
      "after the dense layers; meaningless for f16-nodense.gguf) and files[f].pooled (stored: the file's own " +
      'dequantized weights; the mean for f16-nodense.gguf); text_vs_oracle: of embeddings with pooled. ids_agree: ids ' +
      "equal expected.json's; tokens_agree: model.tokenize(text) equals them less <bos> and <eos>.",
  },
];
const ONLY = process.env.GGUF_FOLDERS ? new Set(process.env.GGUF_FOLDERS.split(',')) : null;

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

for (const { name, bounds, contextSize = 128, last = false, note } of FOLDERS) {
  if (ONLY && !ONLY.has(name)) continue;
  if (last) {
    failed = (await runLast(name, bounds, contextSize, note)) || failed;
    continue;
  }
  const FOLDER = path.join(HERE, 'fixtures', name);
  const expected = JSON.parse(fs.readFileSync(path.join(FOLDER, 'expected.json'), 'utf8'));
  const { texts } = expected;
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
    const modelPath = path.join(FOLDER, file);
    let model;
    try {
      model = await llama.loadModel({ modelPath });
    } catch (err) {
      console.log(`${file}: llama.cpp refused the file: ${err.message}`);
      failed = true;
      continue;
    }
    const { bos, sep, eos } = model.tokens;
    ugm = model.vocabularyType === 'ugm';
    const ctx = await model.createEmbeddingContext({ contextSize });
    const rec = { ids: [], embeddings: [], embeddings_from_ids: [], cosine: [] };
    console.log(
      `${file}: vocabulary ${model.vocabularyType}, bos ${bos}, sep ${sep}, eos ${eos}, ` +
        `embedding size ${model.embeddingVectorSize}`,
    );
    // llama_tokenize(add_special) for a UGM vocab: BOS if add_bos_token, the pieces, EOS if add_eos_token.
    const frame = (text) =>
      ugm
        ? [
            ...(model.tokens.shouldPrependBosToken ? [bos] : []),
            ...model.tokenize(text),
            ...(model.tokens.shouldAppendEosToken ? [eos] : []),
          ]
        : [bos, ...model.tokenize(text), sep];
    for (let i = 0; i < texts.length; i++) {
      const ids = frame(texts[i]);
      const fromText = (await ctx.getEmbeddingFor(ugm ? ids : texts[i])).vector;
      const fromIds = (await ctx.getEmbeddingFor(expected.ids[i])).vector;
      const idsAgree = same(ids, expected.ids[i]);
      const c = {
        ids_agree: idsAgree,
        oracle: cosine(fromIds, expected.mean[i]),
        stored: cosine(fromIds, expected.files[file].mean[i]),
        vs_cls: cosine(fromIds, expected.cls[i]),
        text_vs_oracle: cosine(fromText, expected.mean[i]),
      };
      // node-llama-cpp's own framing of a text for a UGM vocab (no <s>), for the record only
      if (ugm) c.node_text_vs_oracle = cosine((await ctx.getEmbeddingFor(texts[i])).vector, expected.mean[i]);
      ratios.push(norm(fromIds) / norm(expected.files[file].mean[i]));
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
        `  text ${i} (${expected.ids[i].length} ids): ids ${idsAgree ? 'agree' : 'DIFFER'}; cosine from ` +
          `HF ids vs oracle ${c.oracle.toFixed(6)}, vs stored-weights oracle ${c.stored.toFixed(6)}; ` +
          `from text vs oracle ${c.text_vs_oracle.toFixed(6)}${bad ? '  << under bound' : ''}` +
          (ugm ? `; node-llama-cpp's framing of the text vs oracle ${c.node_text_vs_oracle.toFixed(6)}` : ''),
      );
      if (!idsAgree) {
        const vocab = model.fileInfo.metadata?.tokenizer?.ggml?.tokens ?? [];
        const show = (x) => x.map((t) => JSON.stringify(vocab[t] ?? t)).join(' ');
        console.log(`    HF:        ${show(expected.ids[i])}`);
        console.log(`    llama.cpp: ${show(ids)}`);
      }
    }
    out.files[file] = rec;
    const min = (k) => Math.min(...rec.cosine.map((c) => c[k]));
    console.log(
      `  ${file}: min cosine from HF ids: vs oracle ${min('oracle').toFixed(6)}, vs stored ${min('stored').toFixed(
        6,
      )}; ids agree on ${rec.cosine.filter((c) => c.ids_agree).length}/${texts.length} texts`,
    );
    await ctx.dispose();
    await model.dispose();
  }

  const lo = Math.min(...ratios),
    hi = Math.max(...ratios);
  out.note =
    'embeddings / embeddings_from_ids: what getEmbeddingFor returns (llama_get_embeddings_seq of the ' +
    "GGUF's pooling_type, mean), not normalised: their L2 norms are " +
    `${lo.toFixed(4)}..${hi.toFixed(4)} times ` +
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
  fs.writeFileSync(path.join(FOLDER, 'llamacpp.json'), `${JSON.stringify(out)}\n`);
  console.log(
    `${name}/llamacpp.json written; L2 norm of llama.cpp's embedding / oracle mean's: ${lo.toFixed(4)}..${hi.toFixed(4)}`,
  );
}
await llama.dispose();
process.exit(failed ? 1 : 0);

// A decoder embedder with last-token pooling on a BPE vocabulary (gguf-qwen3). Per text: ids (llama_tokenize(
// add_special): [bos if add_bos_token] + model.tokenize(text) + [eos if add_eos_token]), ids_agree (those ids are
// expected.json's), tokens_agree (model.tokenize(text) alone is expected.json's ids less the appended
// <|endoftext|>: the tokenizers agree whatever the framing), embeddings (getEmbeddingFor(those ids)),
// embeddings_from_ids (getEmbeddingFor(expected.json's ids)). Returns whether a bound failed. Also used for gguf-gemma
// (mean pooling and dense layers inside llama.cpp: getEmbeddingFor gives the final vector; compared with `pooled` too;
// tokens_agree then also leaves out the leading <bos>); note: llamacpp.json's note where the folder gives one.
async function runLast(name, bounds, contextSize, note) {
  const FOLDER = path.join(HERE, 'fixtures', name);
  const expected = JSON.parse(fs.readFileSync(path.join(FOLDER, 'expected.json'), 'utf8'));
  const { texts } = expected;
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
  let bad = false;
  const ratios = [];
  console.log(`${name}:`);
  for (const file of Object.keys(bounds)) {
    let model;
    try {
      model = await llama.loadModel({ modelPath: path.join(FOLDER, file) });
    } catch (err) {
      console.log(`${file}: llama.cpp refused the file: ${err.message}`);
      bad = true;
      continue;
    }
    const { bos, eos, eot } = model.tokens;
    const addBos = model.tokens.shouldPrependBosToken;
    const addEos = model.tokens.shouldAppendEosToken;
    const pooling = model.fileInfo.metadata?.[model.fileInfo.metadata?.general?.architecture]?.pooling_type ?? null;
    const ctx = await model.createEmbeddingContext({ contextSize });
    const rec = {
      vocabulary: model.vocabularyType,
      bos,
      eos,
      eot,
      add_bos: addBos,
      add_eos: addEos,
      pooling_type: pooling,
      ids: [],
      embeddings: [],
      embeddings_from_ids: [],
      cosine: [],
    };
    console.log(
      `${file}: vocabulary ${model.vocabularyType}, bos ${bos}, eos ${eos}, eot ${eot}, add_bos ${addBos}, ` +
        `add_eos ${addEos}, pooling_type ${pooling}, embedding size ${model.embeddingVectorSize}`,
    );
    const eotId = expected.ids[0].at(-1);
    for (let i = 0; i < texts.length; i++) {
      const pieces = Array.from(model.tokenize(texts[i]));
      const ids = [...(addBos ? [bos] : []), ...pieces, ...(addEos ? [eos] : [])];
      const fromText = (await ctx.getEmbeddingFor(ids)).vector;
      const fromIds = (await ctx.getEmbeddingFor(expected.ids[i])).vector;
      const want = expected.ids[i];
      const idsAgree = same(ids, want);
      const tokensAgree = want.at(-1) === eotId && same(pieces, want.slice(addBos && want[0] === bos ? 1 : 0, -1));
      const c = {
        ids_agree: idsAgree,
        tokens_agree: tokensAgree,
        oracle: cosine(fromIds, expected.pooled[i]),
        stored: cosine(fromIds, expected.files[file].pooled[i]),
        text_vs_oracle: cosine(fromText, expected.pooled[i]),
      };
      ratios.push(norm(fromIds) / norm(expected.files[file].pooled[i]));
      rec.ids.push(ids);
      rec.embeddings.push(r8(fromText));
      rec.embeddings_from_ids.push(r8(fromIds));
      rec.cosine.push(
        Object.fromEntries(Object.entries(c).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(7)) : v])),
      );
      const b = bounds[file];
      const under = c.oracle < b.oracle || c.stored < b.stored || (idsAgree && c.text_vs_oracle < b.oracle);
      bad ||= under;
      console.log(
        `  text ${i} (${want.length} ids): ids ${idsAgree ? 'agree' : 'DIFFER'}, tokens ` +
          `${tokensAgree ? 'agree' : 'DIFFER'}; cosine from HF ids vs oracle ${c.oracle.toFixed(6)}, vs stored-weights ` +
          `oracle ${c.stored.toFixed(6)}; from llama.cpp's ids vs oracle ${c.text_vs_oracle.toFixed(6)}` +
          (under ? '  << under bound' : ''),
      );
      if (!tokensAgree) {
        const vocab = model.fileInfo.metadata?.tokenizer?.ggml?.tokens ?? [];
        const show = (x) => x.map((t) => JSON.stringify(vocab[t] ?? t)).join(' ');
        console.log(`    HF:        ${show(want)}`);
        console.log(`    llama.cpp: ${show(ids)}`);
      }
    }
    out.files[file] = rec;
    const min = (k) => Math.min(...rec.cosine.map((c) => c[k]));
    const count = (k) => rec.cosine.filter((c) => c[k]).length;
    console.log(
      `  ${file}: min cosine from HF ids: vs oracle ${min('oracle').toFixed(6)}, vs stored ${min('stored').toFixed(6)}; ` +
        `ids agree on ${count('ids_agree')}/${texts.length} texts, tokens on ${count('tokens_agree')}/${texts.length}`,
    );
    await ctx.dispose();
    await model.dispose();
  }
  const lo = Math.min(...ratios),
    hi = Math.max(...ratios);
  out.note = note
    ? `${note} Their L2 norms are ${lo.toFixed(4)}..${hi.toFixed(4)} times those of the oracle's.`
    : "embeddings / embeddings_from_ids: what getEmbeddingFor returns, not normalised: with the GGUF's pooling_type (3, " +
      'LAST) llama_get_embeddings_seq, without one (pooling NONE) llama_get_embeddings_ith(ctx, -1); both are the ' +
      "last token's hidden state after output_norm. Their L2 norms are " +
      `${lo.toFixed(4)}..${hi.toFixed(4)} times those of the oracle's. ids: ([bos] if add_bos) + model.tokenize(text) + ` +
      '([eos] if add_eos), what llama_tokenize(add_special) gives for this BPE vocabulary (q8_0.gguf has no ' +
      'add_eos_token: no <|endoftext|>, so its embeddings are those of the last text token, not the oracle); ' +
      "embeddings come from those ids, embeddings_from_ids from expected.json's ids. cosine: of embeddings_from_ids " +
      "with expected.json's pooled (oracle: float32 weights; stored: files[f].pooled, the file's own dequantized " +
      "weights); text_vs_oracle: of embeddings with pooled. ids_agree: ids equal expected.json's; tokens_agree: " +
      "model.tokenize(text) equals expected.json's ids less the final <|endoftext|> (llama.cpp's BPE has no NFC " +
      'normalizer: a decomposed accent stays two characters).';
  fs.writeFileSync(path.join(FOLDER, 'llamacpp.json'), `${JSON.stringify(out)}\n`);
  console.log(`${name}/llamacpp.json written; L2 norm of llama.cpp's embedding / oracle's: ${lo.toFixed(4)}..${hi.toFixed(4)}`);
  return bad;
}
