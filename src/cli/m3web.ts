import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { InputError } from '../errors.js';
import { type BackendChoice, createBackend, type ManagedBackend } from '../model/backend.js';
import { parseHfConfig } from '../model/config.js';
import type { Pooling } from '../model/encoder.js';
import { loadHfModel } from '../model/load.js';
import { QUANTS, type Quant } from '../model/weights.js';
import { readHfFolder } from '../node/hf-folder.js';

export interface CliIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

const USAGE = `Usage: m3web <command> [options]

Commands:
  embed    embed texts read as JSON lines on stdin

Run \`m3web embed --help\` for the options.
`;

const EMBED_USAGE = `Usage: m3web embed --model DIR [options] < texts.jsonl > vectors.jsonl

Reads one JSON string per line on stdin (blank lines are skipped) and writes one
JSON array of numbers per line on stdout, in input order.

Options:
  --model DIR       Hugging Face model folder: config.json, tokenizer.json,
                    model.safetensors, optional tokenizer_config.json
  --layers L        run the first L transformer layers (default: all)
  --dims D          keep the first D dimensions (default: hidden size)
  --backend B       webgpu, cpu or auto (default auto: WebGPU if available, else CPU)
  --quant Q         weight storage: f32, f16, q8 or q4 (default f32)
  --pooling P       mean or cls (default mean)
  --no-normalize    do not L2-normalise the vectors
  --batch N         texts per forward call (default 64)
  --verbose         report the backend and progress on stderr
  -h, --help        show this help

Texts longer than the model's limit are truncated (a count goes to stderr).
Exit status: 0 success, 1 model or runtime error, 2 usage or input error.
Set M3WEB_DEBUG=1 for stack traces.
`;

const EMBED_HINT = 'Run `m3web embed --help` for usage.\n';

/** Bad command line or bad stdin: exit status 2. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string | null = null,
  ) {
    super(message);
  }
}

const BACKENDS: readonly BackendChoice[] = ['webgpu', 'cpu', 'auto'];
const POOLINGS: readonly Pooling[] = ['mean', 'cls'];

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(value)}`, EMBED_HINT);
  }
  return Number(value);
}

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) {
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`, EMBED_HINT);
  }
  return value as T;
}

interface EmbedArgs {
  model: string;
  layers: number | undefined;
  dims: number | undefined;
  backend: BackendChoice;
  quant: Quant;
  pooling: Pooling;
  normalize: boolean;
  batch: number;
  verbose: boolean;
}

function parseEmbedArgs(args: string[]): EmbedArgs | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: 'string' },
        layers: { type: 'string' },
        dims: { type: 'string' },
        backend: { type: 'string' },
        quant: { type: 'string' },
        pooling: { type: 'string' },
        'no-normalize': { type: 'boolean' },
        batch: { type: 'string' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message, EMBED_HINT);
  }
  if (values.help) return 'help';
  const str = (k: string) => values[k] as string | undefined;
  const model = str('model');
  if (!model) throw new UsageError('--model DIR is required', EMBED_HINT);
  return {
    model,
    layers: positiveInt('layers', str('layers')),
    dims: positiveInt('dims', str('dims')),
    backend: oneOf('backend', str('backend'), BACKENDS, 'auto'),
    quant: oneOf('quant', str('quant'), QUANTS, 'f32'),
    pooling: oneOf('pooling', str('pooling'), POOLINGS, 'mean'),
    normalize: values['no-normalize'] !== true,
    batch: positiveInt('batch', str('batch')) ?? 64,
    verbose: values.verbose === true,
  };
}

async function write(out: NodeJS.WritableStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

/** Shortest decimal that reads back as the same float32 (9 significant digits always suffice). */
const vectorLine = (v: Float32Array) => `${JSON.stringify(Array.from(v, (x) => Number(x.toPrecision(9))))}\n`;

async function embedCommand(args: EmbedArgs, io: CliIo): Promise<void> {
  const log = (msg: string) => io.stderr.write(`m3web: ${msg}\n`);
  const started = performance.now();
  const files = await readHfFolder(args.model);
  const { numLayers, hiddenSize } = parseHfConfig(files.config);
  const layers = args.layers ?? numLayers;
  const dims = args.dims ?? hiddenSize;
  // Checked before the weights load: a typo should not cost a multi-gigabyte read.
  if (layers > numLayers) throw new UsageError(`--layers must be in 1..${numLayers} for this model, got ${layers}`, EMBED_HINT);
  if (dims > hiddenSize) throw new UsageError(`--dims must be in 1..${hiddenSize} for this model, got ${dims}`, EMBED_HINT);
  const { config, weights, tokenizer } = loadHfModel(files, { quant: args.quant, layers });
  const options = { layers, dims, pooling: args.pooling, normalize: args.normalize };

  const backend: ManagedBackend = await createBackend(weights, args.backend);
  try {
    if (args.verbose) {
      const { info } = backend;
      const a = info.adapter;
      const where = a
        ? `webgpu on ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || 'unknown adapter'}${a.isFallback ? ' (software)' : ''}`
        : `cpu${info.fallbackReason ? ` (WebGPU not used: ${info.fallbackReason})` : ''}`;
      log(`backend ${where}`);
      log(
        `model ${config.modelType}: ${config.numLayers} layers, hidden ${config.hiddenSize}, up to ${config.maxTokens} tokens; ` +
          `using ${layers} layers, ${dims} dims, ${args.quant}, ${args.pooling} pooling${args.normalize ? ', normalised' : ''}`,
      );
    }

    let texts = 0;
    let truncated = 0;
    let pending: number[][] = [];
    const flush = async () => {
      if (pending.length === 0) return;
      const vectors = await backend.embed(pending, options);
      pending = [];
      for (const v of vectors) await write(io.stdout, vectorLine(v));
    };

    const lines = createInterface({ input: io.stdin, crlfDelay: Number.POSITIVE_INFINITY });
    let lineNo = 0;
    for await (const raw of lines) {
      lineNo++;
      const line = lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (line.trim() === '') continue;
      let text: unknown;
      try {
        text = JSON.parse(line);
      } catch {
        throw new UsageError(`stdin line ${lineNo} is not valid JSON (expected one JSON string per line)`);
      }
      if (typeof text !== 'string') {
        throw new UsageError(
          `stdin line ${lineNo} is a JSON ${text === null ? 'null' : Array.isArray(text) ? 'array' : typeof text}, expected a string`,
        );
      }
      const encoded = tokenizer.encode(text, config.maxTokens);
      if (encoded.truncated) truncated++;
      pending.push(encoded.ids);
      texts++;
      if (pending.length >= args.batch) await flush();
    }
    await flush();
    if (truncated > 0) log(`${truncated} of ${texts} texts were longer than ${config.maxTokens} tokens and were truncated`);
    if (args.verbose) log(`embedded ${texts} texts in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  } finally {
    backend.dispose();
  }
}

/** Runs the CLI with `argv` (arguments after the program name); resolves to the exit status. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  try {
    const [command, ...rest] = argv;
    if (command === '-h' || command === '--help') {
      io.stdout.write(USAGE);
      return 0;
    }
    if (command === undefined) throw new UsageError('no command given', USAGE);
    if (command !== 'embed') throw new UsageError(`unknown command ${JSON.stringify(command)}`, USAGE);
    const args = parseEmbedArgs(rest);
    if (args === 'help') {
      io.stdout.write(EMBED_USAGE);
      return 0;
    }
    await embedCommand(args, io);
    return 0;
  } catch (err) {
    const usage = err instanceof UsageError;
    io.stderr.write(`m3web: ${err instanceof Error ? err.message : String(err)}\n`);
    if (usage && err.usage) io.stderr.write(err.usage === USAGE ? `\n${USAGE}` : err.usage);
    if (io.env.M3WEB_DEBUG === '1' && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
    return usage || err instanceof InputError ? 2 : 1;
  }
}

function processIo(): CliIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** Entry point of bin/m3web.js: runs main() on process.argv and sets the exit status. */
export async function run(): Promise<void> {
  // A closed pipe (`m3web embed ... | head -1`) is a normal way to stop reading.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  process.exitCode = await main(process.argv.slice(2));
}

// `node --import tsx src/cli/m3web.ts ...` (the tests) runs the CLI straight from source.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void run();
