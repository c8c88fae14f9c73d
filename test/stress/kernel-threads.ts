/**
 * Checks the CPU kernel threads at the scale of `m3web eval` (docs/ARCHITECTURE.md, "CPU kernel
 * threads"): embeds dev texts on worker threads whose encoders have kernel threads, and compares
 * each vector bit for bit with the same texts on one kernel thread. Not part of `npm test`: a run
 * takes ~40 s on 2 cores; before the stale-ticket fix about one run in five differed there.
 *
 *   npx tsx test/stress/kernel-threads.ts [--workers 2] [--kernel-threads 2] [--runs 10]
 *
 * Exits 1 when any run differed.
 */
import { parseArgs } from 'node:util';
import { readFloresDev, readXquad } from '../../src/eval/dev-data.js';
import { cpuWorkerPool } from '../../src/eval/embed-pool.js';
import { openModelFolder } from '../../src/node/model-folder.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'public/models/m3-mini' },
    workers: { type: 'string', default: '2' },
    'kernel-threads': { type: 'string', default: '2' },
    runs: { type: 'string', default: '10' },
  },
});
const model = values.model;
const workers = Number(values.workers);
const kernelThreads = Number(values['kernel-threads']);
const runs = Number(values.runs);
const EXIT = 6;
const BATCH = 32;

const { tokenizer, config } = await openModelFolder(model);
const texts: string[] = [];
for (const list of (await readFloresDev('training/dev-data/flores-dev', ['deu_Latn', 'fra_Latn'])).values()) texts.push(...list);
for (const lang of (await readXquad('training/dev-data/xquad-dev', ['de', 'zh', 'ar'])).values())
  texts.push(...lang.paragraphs, ...lang.questions.map((q) => q.text));
const tokens = texts.map((t) => tokenizer.encode(t, config.maxTokens).ids);
// Length-sorted batches, as `m3web eval` sends them: the long ones come last and grow the memory.
const order = texts.map((_, i) => i).sort((a, b) => (tokens[a] as number[]).length - (tokens[b] as number[]).length);
const batches: number[][] = [];
for (let i = 0; i < order.length; i += BATCH) batches.push(order.slice(i, i + BATCH));

async function embedAll(threads: number): Promise<Float32Array[]> {
  const pool = await cpuWorkerPool(model, [EXIT], 'mean', workers, threads);
  const out: Float32Array[] = new Array(texts.length);
  try {
    await Promise.all(
      batches.map(async (ids) => {
        const [pooled] = await pool.embed(ids.map((i) => tokens[i] as number[]));
        ids.forEach((id, j) => {
          out[id] = (pooled as Float32Array[])[j] as Float32Array;
        });
      }),
    );
  } finally {
    await pool.close();
  }
  return out;
}

const same = (a: Float32Array, b: Float32Array) => a.every((v, i) => Object.is(v, b[i]));

console.log(`${texts.length} texts in ${batches.length} batches; reference on one kernel thread`);
const reference = await embedAll(1);
let failed = 0;
for (let run = 0; run < runs; run++) {
  const started = performance.now();
  const got = await embedAll(kernelThreads);
  const wrong = batches
    .map((ids, b) => ({ b, n: ids.filter((i) => !same(got[i] as Float32Array, reference[i] as Float32Array)).length }))
    .filter(({ n }) => n > 0);
  if (wrong.length > 0) failed++;
  const where = wrong.map(({ b, n }) => `${b}:${n}`).join(' ');
  console.log(
    `run ${run}: ${((performance.now() - started) / 1000).toFixed(1)} s, ${wrong.length ? `wrong vectors in batches (index:count) ${where}` : 'all identical'}`,
  );
}
console.log(`${failed} of ${runs} runs with ${workers} workers x ${kernelThreads} kernel threads differed`);
process.exitCode = failed > 0 ? 1 : 0;
