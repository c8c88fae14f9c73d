import { parentPort, workerData } from 'node:worker_threads';
import { CpuEncoder } from '../model/cpu.js';
import { openModelFolder } from '../node/model-folder.js';
import type { Pooling } from '../weights/config.js';

/**
 * One CPU forward per thread: `m3web eval` splits the dev texts over several of these, each
 * running its kernels on its own thread (CpuEncoder's default; kernel threads inside them gave
 * wrong vectors now and then: docs/ARCHITECTURE.md, "CPU kernel threads").
 */
const { model, exits, pooling } = workerData as { model: string; exits: number[]; pooling: Pooling };
const { weights } = await openModelFolder(model);
const encoder = new CpuEncoder(weights);

parentPort?.on('message', async ({ id, tokens }: { id: number; tokens: number[][] }) => {
  const pooled = await encoder.pooledAtExits(tokens, exits, pooling);
  parentPort?.postMessage(
    { id, pooled },
    pooled.flat().map((v) => v.buffer as ArrayBuffer),
  );
});
parentPort?.postMessage({ ready: true });
