/**
 * `npm run bench -- profile`: GPU time per kernel for one forward (timestamp queries), to see
 * which kernel family a speed-up has to come from.
 */

import { createGpuContext } from '../src/gpu/device.js';
import type { KernelTime } from '../src/gpu/profiler.js';
import { GpuEncoder } from '../src/model/gpu.js';
import type { Quant } from '../src/weights/weights.js';
import { bertConfig, randomBert, randomTokens } from '../test/support/random.js';
import { icdName } from './adapter.js';
import { parseBenchArgs } from './common.js';

const USAGE = `usage: npm run bench -- profile [--shape BxS] [--quant f32|f16|q8|q4] [--layers N] [--hidden H]

  --shape   batch x tokens per text (default 8x128)
  --quant   layer weight format (default q8)
  --layers  depth of the random BERT (default 12)
  --hidden  its width (default 384; heads of 32 dims, FFN 4x)`;

const family = (kernel: string) => kernel.split('-')[0] as string;

function table(times: KernelTime[], wallMs: number): string {
  const total = times.reduce((s, t) => s + t.ms, 0);
  const fams = new Map<string, number>();
  for (const t of times) fams.set(family(t.kernel), (fams.get(family(t.kernel)) ?? 0) + t.ms);
  const pct = (ms: number) => `${((100 * ms) / total).toFixed(1)}%`;
  const lines = ['| kernel | dispatches | GPU ms | share |', '|---|---:|---:|---:|'];
  for (const t of times) lines.push(`| ${t.kernel} | ${t.dispatches} | ${t.ms.toFixed(2)} | ${pct(t.ms)} |`);
  lines.push('', '| family | GPU ms | share |', '|---|---:|---:|');
  for (const [f, ms] of [...fams].sort((a, b) => b[1] - a[1])) lines.push(`| ${f} | ${ms.toFixed(2)} | ${pct(ms)} |`);
  lines.push('', `GPU total ${total.toFixed(1)} ms; the same forward unprofiled takes ${wallMs.toFixed(1)} ms wall time`);
  return lines.join('\n');
}

export async function main(args: string[]): Promise<number> {
  const opts = parseBenchArgs(args, ['shape', 'quant', 'layers', 'hidden'] as const, USAGE);
  if (typeof opts === 'number') return opts;
  const [batch, seq] = (opts.shape ?? '8x128').split('x').map(Number) as [number, number];
  const quant = (opts.quant ?? 'q8') as Quant;
  const layers = Number(opts.layers ?? 12);
  const hidden = Number(opts.hidden ?? 384);
  if (![batch, seq, layers, hidden].every((n) => Number.isInteger(n) && n > 0) || !['f32', 'f16', 'q8', 'q4'].includes(quant)) {
    console.error(USAGE);
    return 2;
  }
  const config = bertConfig({
    vocabSize: 32000,
    hiddenSize: hidden,
    numLayers: layers,
    numHeads: hidden / 32,
    intermediateSize: 4 * hidden,
  });
  const ctx = await createGpuContext();
  if (!ctx.features.timestampQuery) {
    console.error(`the adapter (${ctx.adapter.description}) has no timestamp-query feature: nothing to profile with`);
    return 1;
  }
  const encoder = await GpuEncoder.create(ctx, randomBert(config, quant));
  const tokens = randomTokens(new Array(batch).fill(seq), config.vocabSize);
  const options = { layers, dims: hidden, pooling: 'mean', normalize: true } as const;
  await encoder.embed(tokens, options);
  const t0 = performance.now();
  await encoder.embed(tokens, options);
  const wallMs = performance.now() - t0;
  const times = await encoder.profile(tokens, options);
  console.log(
    `adapter: ${icdName()}, ${ctx.adapter.description}; ${batch}x${seq} tokens, ${layers} layers x ${hidden} wide, ${quant}\n`,
  );
  console.log(table(times, wallMs));
  encoder.dispose();
  return 0;
}
