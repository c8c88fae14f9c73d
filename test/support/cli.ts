import { spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI from source (tsx), so the test never sees a stale dist/. */
export function m3web(args: string[], stdin: string, env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/m3web.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, M3WEB_DEBUG: '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** Texts as the CLI reads them from stdin: one JSON string per line. */
export const jsonLines = (texts: string[]) => texts.map((t) => `${JSON.stringify(t)}\n`).join('');

/** The vectors `m3web embed` wrote, one JSON array per line. */
export const vectors = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as number[]);
