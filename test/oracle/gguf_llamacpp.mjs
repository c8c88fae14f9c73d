// llama.cpp itself as the second oracle of fixtures/gguf-bert/, fixtures/gguf-xlmr/, fixtures/gguf-nomic/ and
// fixtures/gguf-jina/ (made by make_gguf.py; see README.md, "gguf-bert").
//
// For each .gguf of those folders this loads the file in llama.cpp (CPU) through node-llama-cpp and records
//   ids:          llama.cpp's tokenization of each text, framed as llama_tokenize(add_special) frames it: for a WPM
//                 vocab (gguf-bert, gguf-nomic, gguf-jina) BOS = [CLS] first and SEP = [SEP] last; for a UGM vocab
//                 (gguf-xlmr) BOS = <s> first when tokenizer.ggml.add_bos_token says so and EOS = </s> last when
//                 add_eos_token says so.
//                 node-llama-cpp's model.tokenize(text) runs llama_tokenize without specials, so they are added here,
//   embeddings:   the embedding of those ids, pooled as the GGUF's pooling_type says (mean): getEmbeddingFor(text) for
//                 WPM (node-llama-cpp's embedding context prepends tokens.bos and appends tokens.sep, the same ids);
//                 getEmbeddingFor(ids) for UGM, where node-llama-cpp would append </s> but never prepend <s>,
//   embeddings_from_ids: getEmbeddingFor(expected.json's ids), so the numbers can be compared with the PyTorch
//                 oracle even where the tokenizations differ,
// writes <folder>/llamacpp.json and prints, per file and text, the cosines with expected.json's oracle.
//
// node-llama-cpp is NOT a dependency of m3web. Install it outside the repository:
//     npm install --prefix /tmp/nlc node-llama-cpp@3.22.1
// (it brings prebuilt CPU llama.cpp binaries), then
//     cd test/oracle && /usr/bin/python3 make_gguf.py && node gguf_llamacpp.mjs [path/to/node_modules/node-llama-cpp]
// The package path may also be given as NODE_LLAMA_CPP=...; default /tmp/nlc/node_modules/node-llama-cpp.
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
];

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

for (const { name, bounds, contextSize = 128 } of FOLDERS) {
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
