/**
 * Adaptive depth against fixed depth on the dev sets: for each width, each fixed exit and each
 * tolerance of `layers: 'adaptive'`, the mean layers a text ran, the CPU time per text (one
 * thread, the f32 CpuEncoder) and the quality figures of `m3web eval` (FLORES dev bitext accuracy,
 * STS dev Spearman, xquad-dev R@1), scored by src/eval's evaluate. What the default tolerance
 * (src/model/adaptive.ts) is chosen from.
 *
 *   npx tsx bench/adaptive.ts --model public/models/m3-mini [--limit 50] [--langs deu_Latn,fra_Latn]
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type FloresDev, readFloresDev, readStsDev, readXquad, type StsDev, type XquadLang } from '../src/eval/dev-data.js';
import type { EmbedExits } from '../src/eval/embed-pool.js';
import { evaluate } from '../src/eval/run.js';
import { CpuEncoder } from '../src/model/cpu.js';
import { openModelFolder } from '../src/node/model-folder.js';
import type { QualityRow } from '../src/pack/manifest.js';

const USAGE = `usage: npx tsx bench/adaptive.ts --model DIR [options]

  --model DIR         model pack folder (its manifest lists the exits and widths)
  --data DIR          dev data with flores-dev/, stsb-dev/, xquad-dev/ (default training/dev-data)
  --limit N           the first N FLORES sentences and STS pairs per language, and the first N
                      xquad paragraphs with their questions (default: all)
  --langs LIST        FLORES languages, comma-separated (default: all)
  --sts LIST          STS-B languages (default: all)
  --tolerances LIST   adaptive tolerances (default 0.9,0.95,0.98,0.99,0.995)
  --dims LIST         widths (default 256,64)
  --batch N           texts per forward call (default 128)`;

interface Line {
  label: string;
  meanLayers: number;
  msPerText: number;
  row: QualityRow;
}

const list = (v: string | undefined) => v?.split(',').map((s) => s.trim()) ?? undefined;
const numbers = (v: string | undefined, fallback: number[]) => list(v)?.map(Number) ?? fallback;

function limitData(n: number, flores: FloresDev, sts: Map<string, StsDev>, xquad: Map<string, XquadLang> | undefined) {
  for (const [lang, texts] of flores) flores.set(lang, texts.slice(0, n));
  for (const [lang, d] of sts) sts.set(lang, { a: d.a.slice(0, n), b: d.b.slice(0, n), score: d.score.slice(0, n) });
  for (const [lang, d] of xquad ?? []) {
    xquad?.set(lang, { paragraphs: d.paragraphs.slice(0, n), questions: d.questions.filter((q) => q.paragraph < n) });
  }
}

async function main(): Promise<number> {
  const { values: a } = parseArgs({
    options: {
      model: { type: 'string' },
      data: { type: 'string', default: 'training/dev-data' },
      limit: { type: 'string' },
      langs: { type: 'string' },
      sts: { type: 'string' },
      tolerances: { type: 'string' },
      dims: { type: 'string' },
      batch: { type: 'string', default: '128' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (a.help || !a.model) {
    console.error(USAGE);
    return a.help ? 0 : 2;
  }
  const model = await openModelFolder(a.model);
  const { manifest, config } = model;
  if (!manifest) throw new Error(`${a.model} is not a pack: its manifest names the exits and widths`);
  const exits = [...manifest.exits].sort((x, y) => x - y);
  const tolerances = numbers(a.tolerances, [0.9, 0.95, 0.98, 0.99, 0.995]);
  const widths = numbers(a.dims, [256, 64]).filter((d) => manifest.dims.includes(d));
  const flores = await readFloresDev(join(a.data, 'flores-dev'), list(a.langs));
  const sts = await readStsDev(join(a.data, 'stsb-dev'), list(a.sts));
  const xquadDir = join(a.data, 'xquad-dev');
  const xquad = existsSync(xquadDir) ? await readXquad(xquadDir) : undefined;
  if (a.limit) limitData(Number(a.limit), flores, sts, xquad);

  const cpu = new CpuEncoder(model.weights);
  const { pooling } = manifest;
  /** evaluate over one "exit", timing the forward and counting the layers each text ran. */
  const measure = async (
    label: string,
    dims: number[],
    forward: (tokens: number[][]) => Promise<{ vectors: Float32Array[]; layers: number[] }>,
  ) => {
    let ms = 0;
    let texts = 0;
    let layers = 0;
    const embed: EmbedExits = async (tokens) => {
      const start = performance.now();
      const out = await forward(tokens);
      ms += performance.now() - start;
      texts += tokens.length;
      layers += out.layers.reduce((s, l) => s + l, 0);
      return [out.vectors];
    };
    const report = await evaluate({
      embed,
      tokenizer: model.tokenizer,
      maxTokens: config.maxTokens,
      exits: [exits.at(-1) as number],
      dims,
      flores,
      sts,
      ...(xquad ? { xquad } : {}),
      ...(manifest.prefixes ? { prefixes: manifest.prefixes } : {}),
      batch: Number(a.batch),
    });
    return report.table.rows.map((row): Line => ({ label, meanLayers: layers / texts, msPerText: ms / texts, row }));
  };

  const byDims = new Map<number, Line[]>(widths.map((d) => [d, []]));
  for (const exit of exits) {
    // One forward serves every width at a fixed depth.
    const lines = await measure(`fixed ${exit}`, widths, async (tokens) => ({
      vectors: (await cpu.pooledAtExits(tokens, [exit], pooling))[0] as Float32Array[],
      layers: tokens.map(() => exit),
    }));
    for (const line of lines) byDims.get(line.row.dims)?.push(line);
    console.error(`fixed ${exit}: done`);
  }
  for (const dims of widths) {
    for (const tolerance of tolerances) {
      const [line] = await measure(`adaptive ${tolerance}`, [dims], (tokens) =>
        cpu.embedAdaptive(tokens, { exits, tolerance, dims, pooling, normalize: false }),
      );
      if (line) byDims.get(dims)?.push(line);
      console.error(`adaptive ${tolerance} at ${dims} dims: done`);
    }
  }

  const m = (row: QualityRow, key: string) => row.metrics?.[key];
  const f = (v: number | undefined, digits = 3) => (v === undefined ? '—' : v.toFixed(digits));
  console.log(
    `FLORES dev: ${flores.size - 1} languages x ${flores.values().next().value?.length ?? 0} sentences; STS dev: ${[...sts.keys()].join(', ')}` +
      `${xquad ? `; xquad-dev: ${xquad.size} languages` : ''}${a.limit ? ` (--limit ${a.limit})` : ''}`,
  );
  for (const [dims, lines] of byDims) {
    console.log(`\n${dims} dims\n`);
    console.log('| run | mean layers | ms / text (CPU) | bitext acc | STS Spearman | xquad R@1 mono | xquad R@1 cross | score |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const { label, meanLayers, msPerText, row } of lines) {
      const xx = m(row, 'floresXxEng');
      const en = m(row, 'floresEngXx');
      const bitext = xx === undefined || en === undefined ? undefined : (xx + en) / 2;
      console.log(
        `| ${label} | ${meanLayers.toFixed(2)} | ${msPerText.toFixed(2)} | ${f(bitext)} | ${f(m(row, 'stsMean'))} | ${f(m(row, 'xquadMonoR1'))} | ${f(m(row, 'xquadCrossR1'))} | ${f(row.score)} |`,
      );
    }
  }
  cpu.dispose();
  return 0;
}

process.exitCode = await main();
