/** What every bench subcommand shares: argument parsing, the host line, and result files. */
import { spawn } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';

type Values<K extends string> = Partial<Record<K, string>> & { quick?: boolean };

/**
 * Parses `--quick`, `--help` and the string options `names`. Returns the values, or the exit code
 * when there is nothing to run (usage printed: 0 for --help, 2 for a bad argument).
 */
export function parseBenchArgs<K extends string>(args: string[], names: readonly K[], usage: string): Values<K> | number {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    quick: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const name of names) options[name] = { type: 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args, options, strict: true, allowPositionals: false }));
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : err}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    console.log(usage);
    return 0;
  }
  return values as Values<K>;
}

/** "CPU model × cores, platform-arch": which machine a result file comes from. */
export function hostName(): string {
  const cpu = cpus();
  return `${cpu[0]?.model.trim() ?? 'unknown CPU'} × ${cpu.length}, ${process.platform}-${process.arch}`;
}

/** The 1-minute load average: results taken on a busy machine say so. */
export const loadNow = (digits = 3) => Number((loadavg()[0] ?? 0).toPrecision(digits));

/** Writes pretty JSON beside `path` and renames it into place, so a killed run leaves the old file. */
export function writeJsonFile(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

/** `--batch` and `--runs` of the runtime comparisons, or the exit code after a bad value (usage printed). */
export function batchAndRuns(
  opts: { batch?: string; runs?: string; quick?: boolean },
  defaultBatch: number,
  usage: string,
): { batch: number; runs: number } | number {
  const batch = Number(opts.batch ?? (opts.quick ? 2 : defaultBatch));
  const runs = Number(opts.runs ?? (opts.quick ? 2 : 5));
  if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(runs) || runs < 1) {
    console.error(`--batch and --runs take positive integers\n\n${usage}`);
    return 2;
  }
  return { batch, runs };
}

/** The line a runner process prints its result on: `RESULT {json}`. */
export const RESULT_MARK = 'RESULT ';

/**
 * Runs `script` (a .ts module beside the caller, with tsx's loader flags) with `spec` as its JSON
 * argument in a process of its own, and resolves with the JSON of its `RESULT` line; or, when it
 * prints none (a crash, or no result within `timeoutMs`), with `failed(why)`, the reason carrying
 * the last lines of its stderr.
 */
export function runInProcess<T>(script: string, spec: unknown, timeoutMs: number, failed: (why: string) => T): Promise<T> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [...process.execArgv, script, JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARK));
      if (line) return done(JSON.parse(line.slice(RESULT_MARK.length)) as T);
      const why = signal === 'SIGKILL' ? `no result within ${timeoutMs / 60_000} min` : `exit ${code}`;
      const detail = err
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('Warning:'))
        .slice(-3)
        .join(' ');
      done(failed(`${why}: ${detail}`));
    });
  });
}
