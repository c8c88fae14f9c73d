import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { openHfCheckpoint } from '../node/hf-checkpoint.js';
import { convertCheckpoint } from '../pack/convert.js';
import { parseHubId } from '../source/hub.js';
import { hubPackId } from '../source/hub-model.js';
import type { Pooling } from '../weights/config.js';
import { EXIT_NORMS, type ExitNorm } from '../weights/config.js';
import { QUANTS, type Quant } from '../weights/weights.js';
import { type CliIo, intList, oneOf, parseFlags, positiveInt, UsageError } from './args.js';
import { hubCheckpoint } from './hub-arg.js';

export const CONVERT_USAGE = `Usage: m3web convert HF_DIR|hf:org/name[@rev] --out PACK_DIR [options]

Converts a Hugging Face BERT / XLM-R / ModernBERT checkpoint (config.json, tokenizer.json,
model.safetensors or a sharded model.safetensors.index.json), from a folder or straight
from a hub (M3WEB_HUB_URL, default https://huggingface.co; HF_TOKEN for gated models),
into a model pack: manifest.json, tokenizer.json, embeddings.bin and one shard per layer.

Options:
  --out DIR           where to write the pack (replaced if it exists)
  --quant Q           f32, f16, q8 or q4 for the layers and the vocabulary (default q8)
  --name ID           model id (default: the folder name)
  --exits LIST        layer counts the model may stop at, e.g. 1-6 or 2,4,6 (default: all)
  --dims LIST         Matryoshka widths, e.g. 32,64,128,256 (default: the full width)
  --pooling P         mean or cls (default: 1_Pooling/config.json, else mean)
  --exit-norm N       ModernBERT: none (early exits pool the raw layer output, as
                      Hugging Face hidden_states and sentence-transformers'
                      layer losses do) or final (final norm at every exit);
                      default none
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
  id: string;
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
    id: str('name') ?? defaultId(input),
    exits: intList('exits', str('exits'), HINT),
    dims: intList('dims', str('dims'), HINT),
    pooling: str('pooling') === undefined ? undefined : oneOf<Pooling>('pooling', str('pooling'), ['mean', 'cls'], 'mean', HINT),
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

/** The pack id a source gets unless --name says otherwise: the folder's name, or org--name for a hub id. */
function defaultId(input: string): string {
  const hub = parseHubId(input);
  return hub ? hubPackId(hub) : (resolve(input).split(/[\\/]/).pop() as string);
}

export async function convertCommand(args: ConvertArgs, io: CliIo): Promise<void> {
  const started = performance.now();
  const hub = parseHubId(args.input);
  const ckpt = hub ? await hubCheckpoint(hub, io) : await openHfCheckpoint(args.input);
  let pack: Awaited<ReturnType<typeof convertCheckpoint>>;
  try {
    pack = await convertCheckpoint(ckpt, {
      id: args.id,
      quant: args.quant,
      ...(args.exits ? { exits: args.exits } : {}),
      ...(args.dims ? { dims: args.dims } : {}),
      ...(args.pooling ? { pooling: args.pooling } : {}),
      ...(args.exitNorm ? { exitNorm: args.exitNorm } : {}),
      ...(args.maxTokens ? { maxTokens: args.maxTokens } : {}),
      ...(args.prefixes ? { prefixes: args.prefixes } : {}),
      ...(args.license ? { license: args.license } : {}),
      ...(args.source || hub ? { source: args.source ?? args.input } : {}),
    });
  } finally {
    await ckpt.close();
  }
  // Written beside the target and renamed into place: an interrupted convert never leaves a
  // folder that looks like a pack but misses shards.
  const out = resolve(args.out);
  const tmp = join(dirname(out), `.${out.split(/[\\/]/).pop()}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  let bytes = 0;
  for (const [name, data] of pack.files) {
    await writeFile(join(tmp, name), data);
    bytes += data.length;
  }
  await rm(out, { recursive: true, force: true });
  await rename(tmp, out);
  const { manifest } = pack;
  io.stderr.write(
    `m3web: wrote ${manifest.id} (${manifest.quantization.linear}, ${manifest.shards.length} shards, ${(bytes / 1e6).toFixed(2)} MB) ` +
      `to ${args.out} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
}
