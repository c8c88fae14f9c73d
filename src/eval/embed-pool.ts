import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Pooling } from '../weights/config.js';

/** Pooled vectors at every exit, [exit][text]; `task`: the task adapter to run (ForwardOptions.task). */
export type EmbedExits = (tokens: number[][], task?: number) => Promise<Float32Array[][]>;

/**
 * CPU forwards on `threads` worker threads, each with its own copy of the model: the JS forward
 * is single-threaded, and evaluating ~50k dev texts at every exit is hours on one core.
 * `kernelThreads`: each encoder's kernel threads (CpuEncoder's `threads`; test/stress uses it).
 * The worker file has this module's extension: .ts when run through tsx, .js from dist/.
 */
export async function cpuWorkerPool(
  model: string,
  exits: number[],
  pooling: Pooling,
  threads: number,
  kernelThreads = 1,
): Promise<{ embed: EmbedExits; close(): Promise<void> }> {
  const ext = extname(fileURLToPath(import.meta.url));
  const url = new URL(`./embed-worker${ext}`, import.meta.url);
  // Run from source (tests, tsx), the worker must register tsx itself before importing the
  // .ts entry; from dist/ it is plain JavaScript.
  const entry: string | URL =
    ext === '.ts'
      ? `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); });`
      : url;
  const workers = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<Worker>((resolve, reject) => {
          const w = new Worker(entry, { workerData: { model, exits, pooling, kernelThreads }, eval: ext === '.ts' });
          w.once('message', () => resolve(w));
          w.once('error', reject);
        }),
    ),
  );
  const idle = [...workers];
  const waiting: ((w: Worker) => void)[] = [];
  let nextId = 0;
  const acquire = () => new Promise<Worker>((resolve) => (idle.length ? resolve(idle.pop() as Worker) : waiting.push(resolve)));
  const release = (w: Worker) => {
    const next = waiting.shift();
    if (next) next(w);
    else idle.push(w);
  };
  const embed: EmbedExits = async (tokens, task) => {
    const worker = await acquire();
    const id = nextId++;
    try {
      return await new Promise<Float32Array[][]>((resolve, reject) => {
        const onMessage = (msg: { id: number; pooled: Float32Array[][] }) => {
          if (msg.id !== id) return;
          worker.off('message', onMessage);
          worker.off('error', reject);
          resolve(msg.pooled);
        };
        worker.on('message', onMessage);
        worker.once('error', reject);
        worker.postMessage({ id, tokens, task });
      });
    } finally {
      release(worker);
    }
  };
  return { embed, close: async () => void (await Promise.all(workers.map((w) => w.terminate()))) };
}
