import { createInterface } from 'node:readline';
import { UnsupportedError } from '../errors.js';
import { BACKEND_CHOICES, type BackendChoice } from '../model/backend.js';
import { PromptProjection } from '../model/projection.js';
import { lexicalWeights } from '../model/sparse.js';
import { weighQuery } from '../model/static-query.js';
import { openModelFolder, readModelConfig } from '../node/model-folder.js';
import { checkText } from '../tokenizer/check-text.js';
import type { SparseVector } from '../types.js';
import { POOLINGS, type Pooling, peekHfConfig, type SparseSpec } from '../weights/config.js';
import { taskAdapter } from '../weights/task-adapter.js';
import { PROMPT_KINDS, type PromptKind, QUANTS, type Quant } from '../weights/weights.js';
import { type CliIo, jsonLine, oneOf, parseFlags, positiveInt, UsageError, write } from './args.js';
import { CliBackends, probeModelKey } from './backends.js';
import { modelFolder } from './hub-arg.js';

export const EMBED_USAGE = `Usage: m3web embed --model DIR [options] < texts.jsonl > vectors.jsonl

Reads one JSON string per line on stdin (blank lines are skipped) and writes one
JSON array of numbers per line on stdout, in input order. A text that is empty or
only whitespace ("" or "  ") is an input error (exit 2), as in the API.

Options:
  --model M         a model pack folder (manifest.json, from \`m3web convert\`), a
                    Hugging Face folder (config.json, tokenizer.json,
                    model.safetensors, pytorch_model.bin or onnx/model.onnx), a
                    GGUF file (llama.cpp's
                    BERT / XLM-R / NomicBERT / JinaBERT / Qwen3-Embedding /
                    EmbeddingGemma embedders), or a hub id
                    hf:org/name[:QUANT][@rev] (or a bare org/name that is no
                    folder here), converted once into
                    M3WEB_CACHE_DIR (hub: M3WEB_HUB_URL, HF_TOKEN)
  --revision R      hub branch, tag or commit (default main, or @rev in the id)
  --layers L        run the first L transformer layers (default: all)
  --dims D          keep the first D dimensions (default: hidden size)
  --backend B       webgpu, cpu or auto (default auto: the faster of the two here
                    for each call's size, timed once per adapter and model and
                    kept in M3WEB_CACHE_DIR; --verbose says why)
  --quant Q         weight storage for a Hugging Face folder or hub id: f32, f16,
                    q8 or q4 (default f32 for a folder, q8 for a hub id; a pack
                    keeps its own)
  --pooling P       mean, cls or last (default: the pack's or 1_Pooling's, else mean)
  --kind K          query or passage: the model's prefix for that kind goes before
                    each text and its projection of prompted text, if it has one,
                    applies (as embed(texts, { kind }) in the API); on a model with
                    task adapters (jina-embeddings-v3) also that kind's adapter;
                    on an inference-free SPLADE model, --kind query weighs each
                    text by the model's query table (no forward)
  --task NAME       on a model with task adapters, the adapter to run and its
                    instruction, e.g. text-matching (not with --kind)
  --no-normalize    do not L2-normalise the vectors
  --sparse          on a model with a lexical-weights head (BGE-M3's
                    sparse_linear.pt) or a SPLADE model (which needs it), write
                    each text's lexical weights instead:
                    {"indices": [token ids, ascending], "values": [weights]} (as
                    embedSparse in the API; not with --dims, --pooling, --task or
                    --no-normalize)
  --batch N         texts per forward call (default 64)
  --verbose         also report the model, options and timing on stderr
  -h, --help        show this help

stderr gets one line naming the backend that ran (and why the CPU, when
WebGPU was not used; with auto, where short texts and batches run). Texts
longer than the model's limit are truncated (a count goes to stderr).
Exit status: 0 success, 1 model or runtime error, 2 usage or input error.
Set M3WEB_DEBUG=1 for stack traces.
`;

const EMBED_HINT = 'Run `m3web embed --help` for usage.\n';

interface EmbedArgs {
  model: string;
  revision: string | undefined;
  layers: number | undefined;
  dims: number | undefined;
  backend: BackendChoice;
  quant: Quant | undefined;
  pooling: Pooling | undefined;
  kind: PromptKind | undefined;
  task: string | undefined;
  normalize: boolean;
  sparse: boolean;
  batch: number;
  verbose: boolean;
}

export function parseEmbedArgs(args: string[]): EmbedArgs | 'help' {
  const f = parseFlags(
    args,
    {
      model: 'string',
      revision: 'string',
      layers: 'string',
      dims: 'string',
      backend: 'string',
      quant: 'string',
      pooling: 'string',
      kind: 'string',
      task: 'string',
      'no-normalize': 'boolean',
      sparse: 'boolean',
      batch: 'string',
      verbose: 'boolean',
    },
    EMBED_HINT,
  );
  if (f.help) return 'help';
  const { str } = f;
  const model = str('model');
  if (!model) throw new UsageError('--model DIR is required', EMBED_HINT);
  const sparse = f.flag('sparse');
  const clash = ['dims', 'pooling', 'task'].find((k) => str(k) !== undefined) ?? (f.flag('no-normalize') ? 'no-normalize' : null);
  if (sparse && clash)
    throw new UsageError(`--sparse writes lexical weights, not vectors: --${clash} does not apply`, EMBED_HINT);
  return {
    model,
    revision: str('revision'),
    layers: positiveInt('layers', str('layers'), EMBED_HINT),
    dims: positiveInt('dims', str('dims'), EMBED_HINT),
    backend: oneOf('backend', str('backend'), BACKEND_CHOICES, 'auto', EMBED_HINT),
    quant: str('quant') === undefined ? undefined : oneOf('quant', str('quant'), QUANTS, 'f32', EMBED_HINT),
    pooling: str('pooling') === undefined ? undefined : oneOf('pooling', str('pooling'), POOLINGS, 'mean', EMBED_HINT),
    kind: str('kind') === undefined ? undefined : oneOf('kind', str('kind'), PROMPT_KINDS, 'query', EMBED_HINT),
    task: str('task'),
    normalize: !f.flag('no-normalize'),
    sparse,
    batch: positiveInt('batch', str('batch'), EMBED_HINT) ?? 64,
    verbose: f.flag('verbose'),
  };
}

/** Shortest decimal that reads back as the same float32 (9 significant digits always suffice). */
const numbers = (v: Float32Array) => Array.from(v, (x) => Number(x.toPrecision(9)));
const vectorLine = (v: Float32Array) => `${JSON.stringify(numbers(v))}\n`;
const sparseLine = (v: SparseVector) => `${JSON.stringify({ indices: Array.from(v.indices), values: numbers(v.values) })}\n`;

export async function embedCommand(args: EmbedArgs, io: CliIo): Promise<void> {
  const log = (msg: string) => io.stderr.write(`m3web: ${msg}\n`);
  const started = performance.now();
  const folder = await modelFolder(args.model, io, { dtype: args.quant ?? 'q8', revision: args.revision });
  const peek = await readModelConfig(folder);
  const peeked = peekHfConfig(peek.config, folder);
  const { numLayers } = peeked;
  const layers = args.layers ?? numLayers;
  // Checked before the weights load: a typo should not cost a multi-gigabyte read.
  if (layers > numLayers) throw new UsageError(`--layers must be in 1..${numLayers} for this model, got ${layers}`, EMBED_HINT);
  const widest = (hidden: number) => {
    if (args.dims !== undefined && args.dims > hidden)
      throw new UsageError(`--dims must be in 1..${hidden} for this model, got ${args.dims}`, EMBED_HINT);
  };
  // An older model2vec config leaves its width to the table: then checked once it is read.
  if (peeked.hiddenSize !== null) widest(peeked.hiddenSize);
  const quant = args.quant ?? 'f32';
  const { config, weights, tokenizer, manifest, sentenceTransformers } = await openModelFolder(folder, { quant, layers });
  widest(config.hiddenSize);
  const { sparse, splade } = config;
  if (args.sparse && !sparse && !splade)
    throw new UnsupportedError(`${args.model} has no lexical-weights head (sparse_linear.pt): --sparse needs one`);
  if (splade && !args.sparse)
    throw new UnsupportedError(`${args.model} is a SPLADE sparse encoder: it makes no dense vector; pass --sparse`);

  const dims = args.dims ?? config.hiddenSize;
  const pooling = args.pooling ?? manifest?.pooling ?? sentenceTransformers?.pooling ?? 'mean';
  const { adapter, instruction } = taskAdapter(args, config.lora);
  const prefix = instruction ?? (args.kind && (manifest?.prefixes ?? sentenceTransformers?.prefixes)?.[args.kind]) ?? '';
  const projection = weights.projection ? new PromptProjection(weights.projection) : null;
  const projected = projection?.appliesTo(args.kind) ? projection : null;
  const task = adapter === null ? {} : { task: adapter };
  const queryTable = splade?.staticQuery && args.kind === 'query' ? weights.mlmHead?.queryWeights : undefined;
  // A projected text leaves the model full-width and unnormalised, and is finished after the projection.
  const options = projected
    ? { layers, dims: config.hiddenSize, pooling, normalize: false, ...task }
    : { layers, dims, pooling, normalize: args.normalize, ...task };

  const backends = await CliBackends.open(weights, args.backend, probeModelKey(folder, manifest, quant), layers);
  try {
    // Always one line: which backend ran, and why the CPU when WebGPU was not used.
    log(`backend ${backends.summary()}`);
    const chosen = backends.reasons();
    if (args.verbose) {
      for (const line of chosen) log(`auto: ${line}`);
      log(
        `model ${config.modelType}: ${config.numLayers} layers, hidden ${config.hiddenSize}, up to ${config.maxTokens} tokens; ` +
          `using ${layers} layers, ${dims} dims, ${manifest ? manifest.quantization.linear : quant}, ${pooling} pooling${args.normalize ? ', normalised' : ''}` +
          (args.kind ? `; ${args.kind}: prefix ${JSON.stringify(prefix)}, ${projected ? 'projected' : 'no projection'}` : '') +
          (adapter === null ? '' : `; task adapter ${config.lora?.tasks[adapter]}`),
      );
    }

    let texts = 0;
    let truncated = 0;
    let pending: number[][] = [];
    const flush = async () => {
      if (pending.length === 0) return;
      const batch = pending;
      if (splade) {
        pending = [];
        for (const v of await backends.run(batch, layers, (backend) => backend.spladeVectors(batch, layers)))
          await write(io.stdout, sparseLine(v));
        return;
      }
      if (args.sparse) {
        pending = [];
        const { scores } = await backends.run(batch, layers, (backend) => backend.embedWithScores(batch, options));
        for (const [j, s] of scores.entries())
          await write(io.stdout, sparseLine(lexicalWeights(s, batch[j] as number[], sparse as SparseSpec)));
        return;
      }
      const pooled = await backends.run(batch, layers, (backend) => backend.embed(batch, options));
      const vectors = projected
        ? projected.finish(
            pooled,
            pooled.map(() => layers),
            dims,
            args.normalize,
          )
        : pooled;
      pending = [];
      for (const v of vectors) await write(io.stdout, vectorLine(v));
    };

    const lines = createInterface({ input: io.stdin, crlfDelay: Number.POSITIVE_INFINITY });
    let lineNo = 0;
    for await (const raw of lines) {
      lineNo++;
      const text = jsonLine(raw, lineNo, 'stdin', ' (expected one JSON string per line)');
      if (text === undefined) continue;
      if (typeof text !== 'string') {
        throw new UsageError(
          `stdin line ${lineNo} is a JSON ${text === null ? 'null' : Array.isArray(text) ? 'array' : typeof text}, expected a string`,
        );
      }
      checkText(text, `stdin line ${lineNo}`);
      if (queryTable) {
        // Inference-free SPLADE weighs a query by its table, with no forward and no special tokens.
        const w = weighQuery(tokenizer, prefix + text, config.maxTokens, queryTable);
        if (w.truncated) truncated++;
        await write(io.stdout, sparseLine(w.vector));
        texts++;
        continue;
      }
      const encoded = tokenizer.encode(prefix + text, config.maxTokens);
      if (encoded.truncated) truncated++;
      pending.push(encoded.ids);
      texts++;
      if (pending.length >= args.batch) await flush();
    }
    await flush();
    if (truncated > 0) log(`${truncated} of ${texts} texts were longer than ${config.maxTokens} tokens and were truncated`);
    if (args.verbose) {
      // A class that moved to the other backend after its calls disagreed with the probe.
      const now = backends.reasons();
      for (const [i, line] of now.entries()) if (line !== chosen[i]) log(`auto: ${line}`);
      log(`embedded ${texts} texts in ${((performance.now() - started) / 1000).toFixed(2)} s`);
    }
  } finally {
    backends.dispose();
  }
}
