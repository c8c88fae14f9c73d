import { once } from 'node:events';
import { parseArgs } from 'node:util';

/** Bad command line or bad stdin: exit status 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string | null = null,
  ) {
    super(message);
  }
}

export interface CliIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

export function positiveInt(name: string, value: string | undefined, hint: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(value)}`, hint);
  }
  return Number(value);
}

/** "1,2,4" or "1-6" (or a mix: "1-3,6") as a sorted list of positive integers. */
export function intList(name: string, value: string | undefined, hint: string): number[] | undefined {
  if (value === undefined) return undefined;
  const out = new Set<number>();
  for (const part of value.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new UsageError(`--${name} must be a list like 1,2,4 or a range like 1-6, got ${JSON.stringify(value)}`, hint);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from < 1 || to < from || to - from > 100_000) throw new UsageError(`--${name}: bad range ${JSON.stringify(part)}`, hint);
    for (let v = from; v <= to; v++) out.add(v);
  }
  return [...out].sort((a, b) => a - b);
}

export function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
  fallback: T,
  hint: string,
): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) {
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`, hint);
  }
  return value as T;
}

export async function write(out: NodeJS.WritableStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

export interface ParsedFlags {
  help: boolean;
  positionals: string[];
  str(name: string): string | undefined;
  flag(name: string): boolean;
}

/**
 * Parses a command's arguments strictly against `flags` (name -> kind; -h/--help is added). An
 * unknown flag or a missing value is a UsageError carrying the command's `hint`.
 */
export function parseFlags(
  args: string[],
  flags: Record<string, 'string' | 'boolean'>,
  hint: string,
  allowPositionals = false,
): ParsedFlags {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, type] of Object.entries(flags)) options[name] = { type };
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args, strict: true, allowPositionals, options });
  } catch (err) {
    throw new UsageError((err as Error).message, hint);
  }
  const { values, positionals } = parsed;
  return {
    help: values.help === true,
    positionals,
    str: (name) => values[name] as string | undefined,
    flag: (name) => values[name] === true,
  };
}

/**
 * One line of a JSON-lines input: undefined for a blank line, else the parsed value. A byte-order
 * mark before line 1 is dropped; bad JSON is a UsageError naming `source` and the line.
 */
export function jsonLine(raw: string, lineNo: number, source: string, expected = ''): unknown {
  const line = lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw;
  if (line.trim() === '') return undefined;
  try {
    return JSON.parse(line);
  } catch {
    throw new UsageError(`${source} line ${lineNo} is not valid JSON${expected}`);
  }
}
