import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { openHfCheckpoint } from '../node/hf-checkpoint.js';
import { readModelCard } from '../node/model-folder.js';
import { convertCheckpointTo } from '../pack/convert.js';
import type { PackManifest } from '../pack/manifest.js';
import type { PackSink } from '../pack/write.js';
import { hubIdText } from '../source/hub-id.js';
import { hubPackId } from '../source/hub-model.js';
import { declaredWidths } from '../source/trained-widths.js';
import { EXIT_NORMS, type ExitNorm, POOLINGS, type Pooling, peekHfConfig } from '../weights/config.js';
import { QUANTS, type Quant } from '../weights/weights.js';
import { type CliIo, intList, oneOf, parseFlags, positiveInt, UsageError } from './args.js';
import { cliHubId, hubCheckpoint } from './hub-arg.js';
import { writeFolder } from './out-folder.js';

export const CONVERT_USAGE = `Usage: m3web convert HF_DIR|MODEL.gguf|hf:org/name[:QUANT][@rev]|org/name --out PACK_DIR [options]

Converts a Hugging Face checkpoint of a supported architecture (BERT, XLM-R, DistilBERT,
MPNet, GTE, NomicBERT, JinaBERT v2, ModernBERT, Qwen3, Gemma 3, model2vec: config.json,
tokenizer.json (or BERT's vocab.txt, XLM-R's sentencepiece.bpe.model), model.safetensors or a sharded
model.safetensors.index.json, else pytorch_model.bin (or its index; read without running
the pickle), else a float ONNX export onnx/model.onnx as transformers.js repositories carry; and the
sentence-transformers modules: Pooling, Dense, Normalize, prompts), or a GGUF file of a
BERT, XLM-R, NomicBERT, JinaBERT v2, Qwen3-Embedding or EmbeddingGemma embedder
(llama.cpp's format; hf:org/name:Q8_0 picks a GGUF repository's file by its
quantization), from a folder or straight from a hub
(M3WEB_HUB_URL, default https://huggingface.co; HF_TOKEN for gated models),
into a model pack: manifest.json, tokenizer.json, embeddings.bin, one shard per layer and,
for Dense modules, head.bin.
A bare org/name is a hub id unless a folder of that name exists.

Options:
  --out DIR           where to write the pack (replaced if it exists)
  --quant Q           f32, f16, q8 or q4 for the layers and the vocabulary (default q8)
  --revision R        hub branch, tag or commit (default main, or @rev in the id)
  --name ID           model id (default: the folder name, or org--name for a hub id)
  --exits LIST        layer counts the model may stop at, e.g. 1-6 or 2,4,6 (default: all)
  --dims LIST         Matryoshka widths, e.g. 32,64,128,256 (default: the full width)
  --pooling P         mean, cls or last (default: 1_Pooling/config.json, else mean)
  --exit-norm N       ModernBERT, Qwen3, Gemma 3: none (early exits pool the raw
                      layer output, as Hugging Face hidden_states and
                      sentence-transformers' layer losses do) or final (final
                      norm at every exit); default none
  --max-tokens N      truncate texts to N tokens (default: the model's limit)
  --query-prefix S    text put before queries (e.g. "query: ")
  --passage-prefix S  text put before passages
  --license S         licence of the weights (SPDX id or text)
  --source S          where the weights come from
  -h, --help          show this help
`;

const HINT = 'Run `m3web convert --help` for usage.\n';

export interface ConvertArgs {
  input: string;
  out: string;
  quant: Quant;
  /** --name; default the folder name, or org--name for a hub id. */
  id: string | undefined;
  revision: string | undefined;
  exits: number[] | undefined;
  dims: number[] | undefined;
  pooling: Pooling | undefined;
  exitNorm: ExitNorm | undefined;
  maxTokens: number | undefined;
  prefixes: { query?: string; passage?: string } | undefined;
  license: string | undefined;
  source: string | undefined;
}

export function parseConvertArgs(args: string[]): ConvertArgs | 'help' {
  const f = parseFlags(
    args,
    {
      out: 'string',
      revision: 'string',
      quant: 'string',
      name: 'string',
      exits: 'string',
      dims: 'string',
      pooling: 'string',
      'exit-norm': 'string',
      'max-tokens': 'string',
      'query-prefix': 'string',
      'passage-prefix': 'string',
      license: 'string',
      source: 'string',
    },
    HINT,
    true,
  );
  if (f.help) return 'help';
  const { str, positionals } = f;
  if (positionals.length !== 1) throw new UsageError('give exactly one Hugging Face folder or hub id to convert', HINT);
  const input = positionals[0] as string;
  const out = str('out');
  if (!out) throw new UsageError('--out PACK_DIR is required', HINT);
  const query = str('query-prefix');
  const passage = str('passage-prefix');
  return {
    input,
    out,
    quant: oneOf('quant', str('quant'), QUANTS, 'q8', HINT),
    id: str('name'),
    revision: str('revision'),
    exits: intList('exits', str('exits'), HINT),
    dims: intList('dims', str('dims'), HINT),
    pooling: str('pooling') === undefined ? undefined : oneOf<Pooling>('pooling', str('pooling'), POOLINGS, 'mean', HINT),
    exitNorm: str('exit-norm') === undefined ? undefined : oneOf('exit-norm', str('exit-norm'), EXIT_NORMS, 'none', HINT),
    maxTokens: positiveInt('max-tokens', str('max-tokens'), HINT),
    prefixes:
      query === undefined && passage === undefined
        ? undefined
        : { ...(query === undefined ? {} : { query }), ...(passage === undefined ? {} : { passage }) },
    license: str('license'),
    source: str('source'),
  };
}

export async function convertCommand(args: ConvertArgs, io: CliIo): Promise<void> {
  const started = performance.now();
  const hub = await cliHubId(args.input, args.revision);
  const fromHub = hub && (await hubCheckpoint(hub, io));
  const ckpt = fromHub || (await openHfCheckpoint(args.input));
  // Without --dims, the widths the model declares (a Hub model: or a known repository's).
  const dims = args.dims ?? (fromHub ? fromHub.widths : await folderWidths(args.input, ckpt.config));
  const source = args.source ?? (hub && (hub.revision === 'main' ? hubIdText(hub).replace(/@main$/, '') : hubIdText(hub)));
  const id = args.id ?? (hub ? hubPackId(hub) : (resolve(args.input).split(/[\\/]/).pop() as string).replace(/\.gguf$/i, ''));
  let bytes = 0;
  let manifest: PackManifest;
  try {
    manifest = await writeFolder(args.out, (dir) => {
      // Each shard goes to disk as soon as it is made: the pack is never held whole in memory.
      const sink: PackSink = {
        put: async (name, data) => {
          await writeFile(join(dir, name), data);
          bytes += data.length;
        },
      };
      return convertCheckpointTo(
        ckpt,
        {
          id,
          quant: args.quant,
          ...(args.exits ? { exits: args.exits } : {}),
          ...(dims ? { dims } : {}),
          ...(args.pooling ? { pooling: args.pooling } : {}),
          ...(args.exitNorm ? { exitNorm: args.exitNorm } : {}),
          ...(args.maxTokens ? { maxTokens: args.maxTokens } : {}),
          ...(args.prefixes ? { prefixes: args.prefixes } : {}),
          ...(args.license ? { license: args.license } : {}),
          ...(source ? { source } : {}),
        },
        sink,
      );
    });
  } finally {
    await ckpt.close();
  }
  io.stderr.write(
    `m3web: wrote ${manifest.id} (${manifest.quantization.linear}, ${manifest.shards.length} shards, ${(bytes / 1e6).toFixed(2)} MB) ` +
      `to ${args.out} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

/** The widths a folder's config or model card (README.md) declares. */
async function folderWidths(dir: string, config: unknown): Promise<number[] | undefined> {
  const hidden = peekHfConfig(config, dir).hiddenSize;
  return hidden === null ? undefined : declaredWidths(hidden, config, await readModelCard(dir));
}
