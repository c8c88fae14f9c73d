/**
 * `npm run bench -- decoders`: tokens/s of the decoder-style embedders at their real shapes,
 * Qwen3-Embedding-0.6B (28 x 1024, GQA 16/8 heads of 128, SwiGLU, causal) and EmbeddingGemma-300m
 * (24 x 768, 3/1 heads of 256, sliding windows, gelu-tanh gated, Dense 768 -> 3072 -> 768), with
 * random weights (vocabulary shrunk: the table stays on the CPU and only a batch's rows are
 * gathered), q8 and q4, 1x16 and 8x128 tokens, on WebGPU (GpuEncoder.embed: one submission and one
 * readback per call) and the CPU path (1x16).
 */
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { weightsFromTensors } from '../src/checkpoint/weights.js';
import { createGpuContext } from '../src/gpu/device.js';
import { CpuEncoder } from '../src/model/cpu.js';
import type { EncoderBackend } from '../src/model/encoder.js';
import { GpuEncoder } from '../src/model/gpu.js';
import { type EncoderConfig, parseHfConfig } from '../src/weights/config.js';
import { quantizeLinear } from '../src/weights/quantize.js';
import type { EncoderWeights, Quant } from '../src/weights/weights.js';
import { EMBEDDING_GEMMA_300M, QWEN3_EMBEDDING_06B } from '../test/support/decoder-configs.js';
import { randomArray, randomDecoderTensors, randomTokens, rng } from '../test/support/random.js';
import { icdName } from './adapter.js';
import { hostName, loadNow, parseBenchArgs, writeJsonFile } from './common.js';
import { type Stats, timeCalls } from './measure.js';

const VOCAB = 32_000;
const MODELS = {
  'qwen3-embedding-0.6b': { config: QWEN3_EMBEDDING_06B, pooling: 'last' as const, dense: [] as number[] },
  'embeddinggemma-300m': { config: EMBEDDING_GEMMA_300M, pooling: 'mean' as const, dense: [3072] },
};
type ModelName = keyof typeof MODELS;
const QUANTS: readonly Quant[] = ['q8', 'q4'];
const SHAPES = [
  { batch: 1, seq: 16 },
  { batch: 8, seq: 128 },
];
const DEFAULT_OUT = resolve(dirname(fileURLToPath(import.meta.url)), 'results', 'decoders-latest.json');
const USAGE = `usage: npm run bench -- decoders [--models LIST] [--quants q8,q4] [--runs N] [--out FILE] [--quick]

  --models  ${Object.keys(MODELS).join(',')} (default: both)
  --runs    timed calls per case after two warm-up calls (default 3; a slow case runs fewer, at least 1)
  --quick   1x16 only, one run, no JSON`;

interface Row {
  model: ModelName;
  backend: 'webgpu' | 'cpu';
  quant: Quant;
  shape: string;
  medianMs: number;
  p95Ms: number;
  runs: number;
  tokensPerSec: number;
  gflopPerSec: number;
}

const log = (msg: string) => process.stderr.write(`${msg}\n`);

/** 2 x multiply-adds of the layers (projections, gated MLP, attention over all keys) and the Dense head. */
function flops(c: EncoderConfig, dense: number[], batch: number, seq: number): number {
  const H = c.hiddenSize;
  const kv = c.decoder?.numKvHeads ?? c.numHeads;
  const qWidth = c.numHeads * c.headDim;
  const perToken = H * (2 * qWidth + 2 * kv * c.headDim) + 3 * H * c.intermediateSize;
  const attention = 2 * seq * qWidth;
  const head = dense.reduce((s, w) => s + 2 * H * w, 0);
  return 2 * (c.numLayers * batch * seq * (perToken + attention) + batch * head);
}

async function weightsFor(name: ModelName, quant: Quant): Promise<{ config: EncoderConfig; weights: EncoderWeights }> {
  const spec = MODELS[name];
  const config = parseHfConfig({ ...spec.config, vocab_size: VOCAB });
  const weights = await weightsFromTensors(config, randomDecoderTensors(config), { quant });
  const next = rng(11);
  const H = config.hiddenSize;
  weights.head = spec.dense.flatMap((wide) => [
    {
      linear: quantizeLinear(randomArray(wide * H, 1 / Math.sqrt(H), next), wide, H, new Float32Array(wide), quant),
      activation: 'identity' as const,
    },
    {
      linear: quantizeLinear(randomArray(H * wide, 1 / Math.sqrt(wide), next), H, wide, new Float32Array(H), quant),
      activation: 'identity' as const,
    },
  ]);
  return { config, weights };
}

function table(rows: Row[]): string {
  const lines = [
    '| model | backend | weights | tokens | median ms | tokens/s | GFLOP/s |',
    '|---|---|---|---|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.backend} | ${r.quant} | ${r.shape} | ${r.medianMs.toFixed(r.medianMs < 100 ? 1 : 0)} | ${r.tokensPerSec.toFixed(r.tokensPerSec < 100 ? 1 : 0)} | ${r.gflopPerSec.toFixed(2)} |`,
    ),
  ];
  return lines.join('\n');
}

export async function main(args: string[]): Promise<number> {
  const values = parseBenchArgs(args, ['models', 'quants', 'runs', 'out'], USAGE);
  if (typeof values === 'number') return values;
  const quick = values.quick === true;
  const models = (values.models?.split(',') ?? Object.keys(MODELS)) as ModelName[];
  const quants = (values.quants?.split(',') ?? QUANTS) as Quant[];
  const runs = Number(values.runs ?? (quick ? 1 : 3));
  if (models.some((m) => !(m in MODELS)) || quants.some((q) => !QUANTS.includes(q)) || !(Number.isInteger(runs) && runs > 0)) {
    console.error(USAGE);
    return 2;
  }
  const shapes = quick ? SHAPES.slice(0, 1) : SHAPES;
  const ctx = await createGpuContext();
  const adapter = `${ctx.adapter.description} (${icdName()})`;
  const loadStart = loadNow();
  log(`adapter: ${adapter}; node ${process.version}; load ${loadStart}`);
  const rows: Row[] = [];
  const measure = async (
    backend: EncoderBackend,
    row: Omit<Row, 'medianMs' | 'p95Ms' | 'runs' | 'tokensPerSec' | 'gflopPerSec'>,
    c: EncoderConfig,
    batch: number,
    seq: number,
  ) => {
    const ids = randomTokens(new Array(batch).fill(seq), VOCAB);
    const dense = MODELS[row.model].dense;
    const s: Stats = await timeCalls(
      () => backend.embed(ids, { layers: c.numLayers, dims: c.hiddenSize, pooling: MODELS[row.model].pooling, normalize: true }),
      { minRuns: 1, maxRuns: runs, budgetMs: 60_000 },
    );
    const r: Row = {
      ...row,
      medianMs: s.p50,
      p95Ms: s.p95,
      runs: s.runs,
      tokensPerSec: (batch * seq * 1000) / s.p50,
      gflopPerSec: flops(c, dense, batch, seq) / s.p50 / 1e6,
    };
    rows.push(r);
    log(`${r.model} ${r.backend} ${r.quant} ${r.shape}: ${r.medianMs.toFixed(0)} ms, ${r.tokensPerSec.toFixed(1)} tokens/s`);
  };
  try {
    for (const model of models) {
      for (const quant of quants) {
        const t0 = performance.now();
        const { config, weights } = await weightsFor(model, quant);
        log(`${model} ${quant}: weights made in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        const gpu = await GpuEncoder.create(ctx, weights);
        try {
          for (const { batch, seq } of shapes)
            await measure(gpu, { model, backend: 'webgpu', quant, shape: `${batch}x${seq}` }, config, batch, seq);
        } finally {
          gpu.dispose();
        }
        await measure(new CpuEncoder(weights), { model, backend: 'cpu', quant, shape: '1x16' }, config, 1, 16);
      }
    }
  } finally {
    ctx.device.destroy();
  }
  const md = table(rows);
  console.log(`${md}\n\nadapter ${adapter}; load average ${loadStart} -> ${loadNow()}; ${hostName()}`);
  const out = values.out ? resolve(values.out) : quick || values.models || values.quants ? null : DEFAULT_OUT;
  if (out) {
    writeJsonFile(out, {
      date: new Date().toISOString(),
      adapter,
      host: hostName(),
      load: [loadStart, loadNow()],
      vocab: VOCAB,
      rows,
    });
    log(`wrote ${relative(process.cwd(), out)}`);
  }
  return 0;
}
