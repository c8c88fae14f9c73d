import { parentPort, workerData } from 'node:worker_threads';
import { CpuEncoder } from '../model/cpu.js';
import { openModelFolder } from '../node/model-folder.js';
import type { Pooling } from '../weights/config.js';

/**
 * One CPU forward per thread: `m3web eval` splits the dev texts over as many of these as there
 * are cores, so each runs its kernels on its own thread unless asked (test/stress/kernel-threads.ts
 * asks, to check the kernel threads against one thread).
 */
const { model, exits, pooling, kernelThreads } = workerData as {
  model: string;
  exits: number[];
  pooling: Pooling;
  kernelThreads: number;
};
const { weights } = await openModelFolder(model);
const encoder = new CpuEncoder(weights, { threads: kernelThreads });

parentPort?.on('message', async ({ id, tokens, task }: { id: number; tokens: number[][]; task?: number }) => {
  const pooled = await encoder.pooledAtExits(tokens, exits, pooling, task);
  parentPort?.postMessage(
    { id, pooled },
    pooled.flat().map((v) => v.buffer as ArrayBuffer),
  );
});
parentPort?.postMessage({ ready: true });
