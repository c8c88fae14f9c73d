/**
 * `npm run bench -- experts`: what a mixture-of-experts layer costs against a dense one of the same
 * width, at nomic-embed-text-v2-moe's shape (768 wide, 12 heads, 8 experts of 3072, top 2; random
 * weights, q8): a two-layer model whose layer 1 has the experts, against the same model with a
 * dense layer 1 (v2-moe's other layers). Each case times the forward to depth 1 and to depth 2; the
 * difference is layer 1. The ideal for top 2 of 8 is the attention plus twice the dense
 * feed-forward's arithmetic (about 1.7x a dense layer at this width); every expert over every
 * token would be the attention plus 8 times it (about 5.7x). transformers.js cannot run the model
 * (its ONNX export has no experts), so the peer here is m3web's own dense layer.
 */
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGpuContext } from '../src/gpu/device.js';
import { CpuEncoder } from '../src/model/cpu.js';
import type { EncoderBackend } from '../src/model/encoder.js';
import { GpuEncoder } from '../src/model/gpu.js';
import { parseHfConfig } from '../src/weights/config.js';
import { quantizeLinear } from '../src/weights/quantize.js';
import type { BertWeights } from '../src/weights/weights.js';
import { NOMIC_EMBED_TEXT_V2_MOE } from '../test/support/gated-bert-configs.js';
import { randomArray, randomBert, randomTokens, rng } from '../test/support/random.js';
import { icdName } from './adapter.js';
import { hostName, loadNow, parseBenchArgs, writeJsonFile } from './common.js';
import { timeCalls } from './measure.js';

const VOCAB = 32_000;
const CONFIG = parseHfConfig({ ...NOMIC_EMBED_TEXT_V2_MOE, n_layer: 2, vocab_size: VOCAB });
const SHAPES = [
  { batch: 1, seq: 16 },
  { batch: 8, seq: 128 },
];
const DEFAULT_OUT = resolve(dirname(fileURLToPath(import.meta.url)), 'results', 'experts-latest.json');
const USAGE = `usage: npm run bench -- experts [--runs N] [--out FILE] [--quick]

  --runs    timed calls per depth after two warm-up calls (default 5)
  --quick   1x16 only, one run, no JSON`;

interface Row {
  backend: 'webgpu' | 'cpu';
  shape: string;
  denseLayerMs: number;
  expertLayerMs: number;
  ratio: number;
}

const log = (msg: string) => process.stderr.write(`${msg}\n`);

/** Two v2-moe-shaped layers, random q8 weights; layer 1 with experts or, for the reference, dense. */
function model(experts: boolean): BertWeights {
  const { hiddenSize: H, intermediateSize: I, moe: spec } = CONFIG;
  if (!spec) throw new Error('the v2-moe config has no experts');
  const weights = randomBert(experts ? CONFIG : { ...CONFIG, moe: undefined }, 'q8');
  weights.position = null;
  weights.tokenType = null;
  if (experts) {
    const next = rng(5);
    const E = spec.experts;
    const layer = weights.layers[1] as BertWeights['layers'][number];
    const q8 = (rows: number, cols: number, bias: Float32Array) =>
      quantizeLinear(randomArray(rows * cols, 1 / Math.sqrt(cols), next), rows, cols, bias, 'q8');
    layer.ffnIn = q8(E * I, H, new Float32Array(E * I));
    layer.ffnOut = q8(E * H, I, new Float32Array(E * H));
    layer.experts = {
      router: quantizeLinear(randomArray(E * H, 0.3, next), E, H, new Float32Array(E), 'f32'),
      bias: randomArray(H, 0.1, next),
    };
  }
  return weights;
}

export async function main(args: string[]): Promise<number> {
  const values = parseBenchArgs(args, ['runs', 'out'], USAGE);
  if (typeof values === 'number') return values;
  const quick = values.quick === true;
  const runs = Number(values.runs ?? (quick ? 1 : 5));
  if (!(Number.isInteger(runs) && runs > 0)) {
    console.error(USAGE);
    return 2;
  }
  const shapes = quick ? SHAPES.slice(0, 1) : SHAPES;
  const ctx = await createGpuContext();
  const adapter = `${ctx.adapter.description} (${icdName()})`;
  const loadStart = loadNow();
  log(`adapter: ${adapter}; node ${process.version}; load ${loadStart}`);
  const H = CONFIG.hiddenSize;
  /** Median ms of layer 1: the forward to depth 2 less the forward to depth 1. */
  const layerMs = async (backend: EncoderBackend, ids: number[][]) => {
    const depth = async (layers: number) =>
      (
        await timeCalls(() => backend.embed(ids, { layers, dims: H, pooling: 'mean', normalize: true }), {
          minRuns: runs,
          maxRuns: runs,
          budgetMs: 0,
        })
      ).p50;
    return (await depth(2)) - (await depth(1));
  };
  const rows: Row[] = [];
  try {
    const [dense, experts] = [model(false), model(true)];
    for (const backend of ['webgpu', 'cpu'] as const) {
      const make = async (w: BertWeights): Promise<EncoderBackend> =>
        backend === 'webgpu' ? GpuEncoder.create(ctx, w) : new CpuEncoder(w);
      const [d, e] = [await make(dense), await make(experts)];
      try {
        for (const { batch, seq } of backend === 'cpu' ? shapes.slice(0, 1) : shapes) {
          const ids = randomTokens(new Array(batch).fill(seq), VOCAB);
          const row: Row = {
            backend,
            shape: `${batch}x${seq}`,
            denseLayerMs: await layerMs(d, ids),
            expertLayerMs: await layerMs(e, ids),
            ratio: 0,
          };
          row.ratio = row.expertLayerMs / row.denseLayerMs;
          rows.push(row);
          log(
            `${backend} ${row.shape}: dense layer ${row.denseLayerMs.toFixed(1)} ms, expert layer ${row.expertLayerMs.toFixed(1)} ms (${row.ratio.toFixed(2)}x)`,
          );
        }
      } finally {
        await d.dispose();
        await e.dispose();
      }
    }
  } finally {
    ctx.device.destroy();
  }
  const md = [
    '| backend | tokens | dense layer ms | expert layer ms | expert / dense |',
    '|---|---|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.backend} | ${r.shape} | ${r.denseLayerMs.toFixed(1)} | ${r.expertLayerMs.toFixed(1)} | ${r.ratio.toFixed(2)}x |`,
    ),
  ].join('\n');
  console.log(`${md}\n\nadapter ${adapter}; load average ${loadStart} -> ${loadNow()}; ${hostName()}`);
  const out = values.out ? resolve(values.out) : quick ? null : DEFAULT_OUT;
  if (out) {
    writeJsonFile(out, { date: new Date().toISOString(), adapter, host: hostName(), load: [loadStart, loadNow()], runs, rows });
    log(`wrote ${relative(process.cwd(), out)}`);
  }
  return 0;
}
