import { pathToFileURL } from 'node:url';
import { InputError } from '../errors.js';
import { type CliIo, UsageError } from './args.js';
import { CONVERT_USAGE, convertCommand, parseConvertArgs } from './convert.js';
import { DISTILL_USAGE, distillCommand, parseDistillArgs } from './distill.js';
import { EMBED_USAGE, embedCommand, parseEmbedArgs } from './embed.js';
import { EVAL_USAGE, evalCommand, parseEvalArgs } from './eval.js';
import { INDEX_USAGE, indexCommand, parseIndexArgs } from './index-docs.js';
import { parseRerankArgs, RERANK_USAGE, rerankCommand } from './rerank.js';

export type { CliIo } from './args.js';

const USAGE = `Usage: m3web <command> [options]

Commands:
  embed     embed texts read as JSON lines on stdin
  rerank    score documents read as JSON lines against a query (a cross-encoder)
  convert   convert a Hugging Face checkpoint into a quantized model pack
  eval      measure a model's retrieval and STS quality at every (layers, dims)
  index     embed documents into a search index export for index.import()
  distill   distil a static embedder (model2vec's recipe) from a model

Run \`m3web <command> --help\` for the options.
`;

interface Command<A> {
  usage: string;
  parse(args: string[]): A | 'help';
  run(args: A, io: CliIo): Promise<void>;
}

const command = <A>(c: Command<A>) => c as Command<unknown>;

const COMMANDS: Record<string, Command<unknown>> = {
  embed: command({ usage: EMBED_USAGE, parse: parseEmbedArgs, run: embedCommand }),
  rerank: command({ usage: RERANK_USAGE, parse: parseRerankArgs, run: rerankCommand }),
  convert: command({ usage: CONVERT_USAGE, parse: parseConvertArgs, run: convertCommand }),
  eval: command({ usage: EVAL_USAGE, parse: parseEvalArgs, run: evalCommand }),
  index: command({ usage: INDEX_USAGE, parse: parseIndexArgs, run: indexCommand }),
  distill: command({ usage: DISTILL_USAGE, parse: parseDistillArgs, run: distillCommand }),
};

/** Runs the CLI with `argv` (arguments after the program name); resolves to the exit status. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  try {
    const [name, ...rest] = argv;
    if (name === '-h' || name === '--help') {
      io.stdout.write(USAGE);
      return 0;
    }
    if (name === undefined) throw new UsageError('no command given', USAGE);
    const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!cmd) throw new UsageError(`unknown command ${JSON.stringify(name)}`, USAGE);
    const args = cmd.parse(rest);
    if (args === 'help') {
      io.stdout.write(cmd.usage);
      return 0;
    }
    await cmd.run(args, io);
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
