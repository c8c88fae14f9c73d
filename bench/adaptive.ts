/**
 * Adaptive depth against fixed depth on the dev sets: for each width, each fixed exit and each
 * tolerance of `layers: 'adaptive'`, the mean layers a text ran, the CPU time per text (the
 * CpuEncoder as the runtime makes it) and the quality figures of `m3web eval` (FLORES dev bitext accuracy,
 * STS dev Spearman, xquad-dev R@1), scored by src/eval's evaluate. What the default tolerance
 * (src/model/adaptive.ts) is chosen from.
 *
 * Quality: every dev text runs once through the whole model with its pooled vector kept at every
 * exit (`pooledAtExits`); a tolerance's vectors are then the ones ExitJudge (the decision the CPU and
 * WebGPU backends run) picks from those, text by text. Each adaptive vector equals the fixed-depth
 * vector at its exit (test/unit/adaptive.test.ts), so this scores exactly what `embedAdaptive`
 * returns, for the cost of one forward instead of one per tolerance and width. Time: the real
 * forwards (`embed` at each fixed depth, `embedAdaptive` at each tolerance) over a sample of the same
 * texts spread over their lengths, which also checks that the real calls stop where the replay did.
 *
 *   npx tsx bench/adaptive.ts --model public/models/m3-mini [--limit 50] [--langs deu_Latn,fra_Latn] [--write]
 *   npx tsx bench/adaptive.ts --model public/models/m3-mini --gpu     # WebGPU: half the batch stopping at exit 2
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type FloresDev, readFloresDev, readStsDev, readXquad, type StsDev, type XquadLang } from '../src/eval/dev-data.js';
import type { EmbedExits } from '../src/eval/embed-pool.js';
import { evaluate } from '../src/eval/run.js';
import { DEFAULT_TOLERANCE, ExitJudge } from '../src/model/adaptive.js';
import { CpuEncoder } from '../src/model/cpu.js';
import type { AdaptiveOptions } from '../src/model/encoder.js';
import { PromptProjection } from '../src/model/projection.js';
import { openModelFolder } from '../src/node/model-folder.js';
import type { AdaptiveQualityRow, QualityRow } from '../src/pack/manifest.js';
import type { Pooling } from '../src/weights/config.js';
import type { PromptKind } from '../src/weights/weights.js';

const USAGE = `usage: npx tsx bench/adaptive.ts --model DIR [options]

  --model DIR         model pack folder (its manifest lists the exits and widths)
  --data DIR          dev data with flores-dev/, stsb-dev/, xquad-dev/ (default training/dev-data)
  --limit N           the first N FLORES sentences and STS pairs per language, and the first N
                      xquad paragraphs with their questions (default: all)
  --langs LIST        FLORES languages, comma-separated (default: all)
  --sts LIST          STS-B languages (default: all)
  --tolerances LIST   adaptive tolerances (default 0.9,0.95,0.97,0.98,0.99,0.995,0.998)
  --dims LIST         widths (default: every width of the manifest)
  --criteria LIST     exit rules to compare: prev (cosine to the previous exit, what ExitJudge
                      runs), prev2 (two consecutive exits agree), late (prev, never before the
                      third exit), full (prev on the full-width vector whatever the width); default prev
  --batch N           texts per forward call (default 128)
  --time-sample N     texts timed per run (a sample spread over the lengths; default 600, 0: no timing)
  --time-rounds N     timing rounds, interleaved, median taken (default 3)
  --time-dims LIST    widths whose adaptive runs are timed (default 256,64; fixed depths are timed once)
  --write             store the measured rows (criterion prev) as quality.adaptive in DIR/manifest.json;
                      only for a run over the whole dev data (the scale of the quality table)
  --gpu               instead: WebGPU time of a batch half of whose texts stop at exit 2 against the same
                      batch at full depth (Dawn through the webgpu package; VK_ICD_FILENAMES picks the driver)
  --gpu-batch N       texts in that batch (default 32)
  --gpu-runs N        timed calls per case, median taken (default 7)`;

const list = (v: string | undefined) => v?.split(',').map((s) => s.trim()) ?? undefined;
const numbers = (v: string | undefined, fallback: number[]) => list(v)?.map(Number) ?? fallback;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const key = (tokens: ArrayLike<number>) => Array.prototype.join.call(tokens, ',');

function limitData(n: number, flores: FloresDev, sts: Map<string, StsDev>, xquad: Map<string, XquadLang> | undefined) {
  for (const [lang, texts] of flores) flores.set(lang, texts.slice(0, n));
  for (const [lang, d] of sts) sts.set(lang, { a: d.a.slice(0, n), b: d.b.slice(0, n), score: d.score.slice(0, n) });
  for (const [lang, d] of xquad ?? []) {
    xquad?.set(lang, {
      paragraphs: d.paragraphs.slice(0, n),
      titles: d.titles.slice(0, n),
      questions: d.questions.filter((q) => q.paragraph < n),
    });
  }
}

/** An exit rule: given one text's pooled vectors at each exit (ascending), the index of the exit it leaves at. */
type Criterion = (
  perExit: readonly Float32Array[],
  exits: readonly number[],
  tolerance: number,
  dims: number,
  pooling: Pooling,
) => number;

function unit(v: Float32Array, dims: number): Float32Array {
  const out = v.slice(0, dims);
  let ss = 0;
  for (let i = 0; i < dims; i++) ss += (out[i] as number) ** 2;
  const inv = 1 / Math.max(Math.sqrt(ss), 1e-12);
  for (let i = 0; i < dims; i++) out[i] = (out[i] as number) * inv;
  return out;
}
const dot = (a: Float32Array, b: Float32Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
};
/** The consecutive-exit cosines of one text at `dims`: [e] = cos(exit e-1, exit e), [0] = NaN. */
const steps = (perExit: readonly Float32Array[], dims: number) => {
  const u = perExit.map((v) => unit(v, dims));
  return u.map((v, e) => (e === 0 ? Number.NaN : dot(u[e - 1] as Float32Array, v)));
};

const CRITERIA: Record<string, Criterion> = {
  /** ExitJudge itself: the rule `embedAdaptive` runs on both backends. */
  prev: (perExit, exits, tolerance, dims, pooling) => {
    const judge = new ExitJudge(1, { exits, tolerance, dims, pooling, normalize: true });
    for (const [e, v] of perExit.entries()) if (judge.offer(0, exits[e] as number, v)) return e;
    throw new Error('ExitJudge let the text run past the last exit');
  },
  /** Two consecutive agreements (the earliest exit becomes the third). */
  prev2: (perExit, _exits, tolerance, dims) => {
    const c = steps(perExit, dims);
    for (let e = 2; e < perExit.length - 1; e++) if ((c[e] as number) >= tolerance && (c[e - 1] as number) >= tolerance) return e;
    return perExit.length - 1;
  },
  /** Cosine to the previous exit, but never before the third exit. */
  late: (perExit, _exits, tolerance, dims) => {
    const c = steps(perExit, dims);
    for (let e = 2; e < perExit.length - 1; e++) if ((c[e] as number) >= tolerance) return e;
    return perExit.length - 1;
  },
  /** The cosine to the previous exit at the full width, whatever the call's width. */
  full: (perExit, _exits, tolerance) => {
    const H = (perExit[0] as Float32Array).length;
    const c = steps(perExit, H);
    for (let e = 1; e < perExit.length - 1; e++) if ((c[e] as number) >= tolerance) return e;
    return perExit.length - 1;
  },
};

interface Line {
  label: string;
  criterion?: string;
  tolerance?: number;
  meanLayers: number;
  msPerText?: number;
  row: QualityRow;
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
      criteria: { type: 'string', default: 'prev' },
      batch: { type: 'string', default: '128' },
      'time-sample': { type: 'string', default: '600' },
      'time-rounds': { type: 'string', default: '3' },
      'time-dims': { type: 'string', default: '256,64' },
      write: { type: 'boolean', default: false },
      gpu: { type: 'boolean', default: false },
      'gpu-batch': { type: 'string', default: '32' },
      'gpu-runs': { type: 'string', default: '7' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (a.help || !a.model) {
    console.error(USAGE);
    return a.help ? 0 : 2;
  }
  const criteria = list(a.criteria) ?? ['prev'];
  const unknown = criteria.filter((c) => !(c in CRITERIA));
  if (unknown.length) {
    console.error(`unknown --criteria ${unknown.join(', ')}\n${USAGE}`);
    return 2;
  }
  const partial = Boolean(a.limit || a.langs || a.sts);
  if (a.write && partial) {
    console.error('--write needs the whole dev data (no --limit, --langs or --sts): the rows share the quality table’s scale');
    return 2;
  }
  const model = await openModelFolder(a.model);
  const { manifest, config } = model;
  if (!manifest) throw new Error(`${a.model} is not a pack: its manifest names the exits and widths`);
  const exits = [...manifest.exits].sort((x, y) => x - y);
  const deepest = exits.at(-1) as number;
  const tolerances = numbers(a.tolerances, [0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998]);
  const widths = numbers(
    a.dims,
    [...manifest.dims].sort((x, y) => y - x),
  ).filter((d) => manifest.dims.includes(d));
  const { pooling } = manifest;
  const batch = Number(a.batch);
  const flores = await readFloresDev(join(a.data, 'flores-dev'), list(a.langs));
  const sts = await readStsDev(join(a.data, 'stsb-dev'), list(a.sts));
  const xquadDir = join(a.data, 'xquad-dev');
  const xquad = existsSync(xquadDir) ? await readXquad(xquadDir) : undefined;
  if (a.limit) limitData(Number(a.limit), flores, sts, xquad);
  if (a.gpu) return gpuRatio(model.weights, exits, pooling, flores, model.tokenizer, config.maxTokens, a);
  const cpu = new CpuEncoder(model.weights);

  const started = performance.now();
  // One forward over every dev text, keeping each text's pooled vector at every exit.
  const atExits = new Map<string, Float32Array[]>();
  let forwardMs = 0;
  const evalInput = {
    tokenizer: model.tokenizer,
    maxTokens: config.maxTokens,
    flores,
    sts,
    ...(xquad ? { xquad } : {}),
    ...(manifest.prefixes ? { prefixes: manifest.prefixes } : {}),
    batch,
  };
  // Virtual exits: evaluate scores one "exit" per run (a fixed depth or one adaptive setting),
  // so every run at one width is scored in one call.
  type Run = {
    label: string;
    criterion?: string;
    tolerance?: number;
    pick: (perExit: readonly Float32Array[], width: number) => number;
  };
  const runs: Run[] = [
    ...exits.map((e) => ({ label: `fixed ${e}`, pick: () => exits.indexOf(e) })),
    ...criteria.flatMap((c) =>
      tolerances.map((t) => ({
        label: `${c === 'prev' ? 'adaptive' : `adaptive/${c}`} ${t}`,
        criterion: c,
        tolerance: t,
        pick: (v: readonly Float32Array[], width: number) => (CRITERIA[c] as Criterion)(v, exits, t, width, pooling),
      })),
    ),
  ];
  // Prompted xquad texts leave through their exit's projection, as embed({ kind }) returns them; the
  // runtime then judges the exit on full-width vectors (the projection runs after the read-back).
  const projection = model.weights.projection ? new PromptProjection(model.weights.projection) : null;
  const promptedKind = new Map<string, PromptKind>();
  const prompt = (kind: PromptKind, text: string) =>
    promptedKind.set(key(model.tokenizer.encode((manifest.prefixes?.[kind] ?? '') + text, config.maxTokens).ids), kind);
  for (const d of xquad?.values() ?? []) {
    for (const q of d.questions) prompt('query', q.text);
    for (const p of d.paragraphs) prompt('passage', p);
  }
  const byDims = new Map<number, Line[]>();
  for (const dims of widths) {
    const layerSums = runs.map(() => 0);
    let texts = 0;
    const embed: EmbedExits = async (tokens) => {
      const have = tokens.map((t) => atExits.get(key(t)));
      const missing = tokens.filter((_, i) => have[i] === undefined);
      if (missing.length) {
        // The CPU forward runs synchronously inside the call: timed before the await, since
        // evaluate hands out every batch at once and the continuations run after all of them.
        const start = performance.now();
        const call = cpu.pooledAtExits(missing, exits, pooling);
        forwardMs += performance.now() - start;
        const pooled = await call;
        missing.forEach((t, i) => {
          atExits.set(
            key(t),
            pooled.map((perText) => perText[i] as Float32Array),
          );
        });
      }
      texts += tokens.length;
      const out = runs.map(() => new Array<Float32Array>(tokens.length));
      tokens.forEach((t, i) => {
        const perExit = atExits.get(key(t)) as Float32Array[];
        const projected = projection?.appliesTo(promptedKind.get(key(t))) ? projection : null;
        runs.forEach((run, r) => {
          const e = run.pick(perExit, projected ? config.hiddenSize : dims);
          layerSums[r] = (layerSums[r] as number) + (exits[e] as number);
          const v = perExit[e] as Float32Array;
          (out[r] as Float32Array[])[i] = projected ? projected.project(v, exits[e] as number) : v;
        });
      });
      return out;
    };
    const report = await evaluate({ ...evalInput, embed, exits: runs.map((_, i) => i + 1), dims: [dims] });
    byDims.set(
      dims,
      runs.map((run, r) => ({
        label: run.label,
        ...(run.criterion ? { criterion: run.criterion, tolerance: run.tolerance as number } : {}),
        meanLayers: (layerSums[r] as number) / texts,
        row: { ...(report.table.rows[r] as QualityRow), layers: run.label.startsWith('fixed') ? (exits[r] as number) : deepest },
      })),
    );
    console.error(`${dims} dims scored (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
  const evalTexts = atExits.size;

  // Time: real forwards over a sample spread over the texts' lengths, the runs interleaved.
  const sampleSize = Math.min(Number(a['time-sample']), evalTexts);
  const notes: string[] = [];
  if (sampleSize > 0) {
    const all = [...atExits.keys()].map((k) => k.split(',').map(Number)).sort((x, y) => x.length - y.length);
    const sample = Array.from(
      { length: sampleSize },
      (_, i) => all[Math.floor(((i + 0.5) * all.length) / sampleSize)] as number[],
    );
    const sampleTokens = sample.reduce((s, t) => s + t.length, 0);
    const calls = (run: (tokens: number[][]) => Promise<unknown>) => async () => {
      const start = performance.now();
      for (let i = 0; i < sample.length; i += batch) await run(sample.slice(i, i + batch));
      return performance.now() - start;
    };
    type Timed = { line: Line; time: () => Promise<number> };
    const timed: Timed[] = [];
    const fixedLines = new Map<number, Line[]>();
    for (const lines of byDims.values())
      for (const line of lines) {
        if (!line.label.startsWith('fixed')) continue;
        const e = line.row.layers;
        fixedLines.set(e, [...(fixedLines.get(e) ?? []), line]);
      }
    // A fixed depth costs the same at every width: time it once.
    for (const [e, lines] of fixedLines) {
      const line = lines[0] as Line;
      timed.push({ line, time: calls((t) => cpu.embed(t, { layers: e, dims: config.hiddenSize, pooling, normalize: true })) });
    }
    const mismatches: string[] = [];
    const timeDims = numbers(a['time-dims'], []);
    for (const [dims, lines] of byDims)
      for (const line of lines) {
        if (line.criterion !== 'prev' || !timeDims.includes(dims)) continue;
        const o: AdaptiveOptions = { exits, tolerance: line.tolerance as number, dims, pooling, normalize: true };
        const replay = sample.map(
          (t) => exits[CRITERIA.prev?.(atExits.get(key(t)) as Float32Array[], exits, o.tolerance, dims, pooling) as number],
        );
        timed.push({
          line,
          time: async () => {
            let wrong = 0;
            const ms = await calls(async (t) => {
              const got = await cpu.embedAdaptive(t, o);
              const from = sample.indexOf(t[0] as number[]);
              got.layers.forEach((l, i) => {
                if (l !== replay[from + i]) wrong++;
              });
            })();
            if (wrong && !mismatches.some((m) => m.startsWith(`${dims} dims, tolerance ${o.tolerance}:`)))
              mismatches.push(
                `${dims} dims, tolerance ${o.tolerance}: ${wrong} of ${sample.length} texts stopped elsewhere than replayed`,
              );
            return ms;
          },
        });
      }
    const rounds = Math.max(1, Number(a['time-rounds']));
    const ms = timed.map(() => [] as number[]);
    await timed[0]?.time(); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (const [i, t] of timed.entries()) (ms[i] as number[]).push(await t.time());
      console.error(`timing round ${r + 1}/${rounds} done (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
    timed.forEach((t, i) => {
      const perText = median(ms[i] as number[]) / sample.length;
      if (t.line.label.startsWith('fixed')) for (const l of fixedLines.get(t.line.row.layers) ?? []) l.msPerText = perText;
      else t.line.msPerText = perText;
    });
    notes.push(
      `CPU time: the CpuEncoder as the runtime makes it, batches of ${batch}, over ${sample.length} of the ${evalTexts} texts (every ${(evalTexts / sample.length).toFixed(0)}th by length, ${(sampleTokens / sample.length).toFixed(1)} tokens on average), median of ${rounds} interleaved rounds`,
    );
    notes.push(
      mismatches.length
        ? `real embedAdaptive against the replay: ${mismatches.join('; ')}`
        : 'real embedAdaptive stopped every sampled text where the replay did',
    );
  }

  const m = (row: QualityRow, key: string) => row.metrics?.[key];
  const f = (v: number | undefined, digits = 3) => (v === undefined ? '—' : v.toFixed(digits));
  const english = flores.values().next().value?.length ?? 0;
  console.log(
    `FLORES dev: ${flores.size - 1} languages x ${english} sentences; STS dev: ${[...sts.keys()].join(', ')}` +
      `${xquad ? `; xquad-dev: ${xquad.size} languages x ${xquad.values().next().value?.paragraphs.length} paragraphs` : ''}` +
      `${partial ? ` (${[a.limit && `--limit ${a.limit}`, a.langs && `--langs ${a.langs}`, a.sts && `--sts ${a.sts}`].filter(Boolean).join(' ')})` : ''}; ${evalTexts} distinct texts`,
  );
  console.log(
    `one forward to every exit over all of them: ${(forwardMs / 1000).toFixed(0)} s (${(forwardMs / evalTexts).toFixed(2)} ms / text)`,
  );
  for (const n of notes) console.log(n);
  const table = manifest.quality?.rows;
  for (const [dims, lines] of byDims) {
    console.log(`\n${dims} dims\n`);
    console.log(
      '| run | mean layers | ms / text (CPU) | bitext acc | STS Spearman | xquad R@1 mono | xquad R@1 cross | score | Δ score vs fixed ' +
        `${deepest} |`,
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    const full = lines.find((l) => l.label === `fixed ${deepest}`)?.row.score ?? Number.NaN;
    for (const { label, meanLayers, msPerText, row } of lines) {
      const xx = m(row, 'floresXxEng');
      const en = m(row, 'floresEngXx');
      const bitext = xx === undefined || en === undefined ? undefined : (xx + en) / 2;
      console.log(
        `| ${label} | ${meanLayers.toFixed(2)} | ${f(msPerText, 2)} | ${f(bitext)} | ${f(m(row, 'stsMean'))} | ${f(m(row, 'xquadMonoR1'))} | ${f(m(row, 'xquadCrossR1'))} | ${f(row.score, 4)} | ${((row.score - full) * 100).toFixed(2)} |`,
      );
    }
    if (table && !partial) {
      const drift = lines
        .filter((l) => l.label.startsWith('fixed'))
        .map((l) =>
          Math.abs(l.row.score - (table.find((r) => r.layers === l.row.layers && r.dims === dims)?.score ?? Number.NaN)),
        );
      console.log(`\nfixed rows against the manifest's quality table: largest |Δ score| ${Math.max(...drift).toExponential(1)}`);
    }
  }

  if (a.write) {
    const rows: AdaptiveQualityRow[] = [];
    for (const [dims, lines] of byDims)
      for (const l of lines)
        if (l.criterion === 'prev')
          rows.push({ dims, tolerance: l.tolerance as number, meanLayers: round(l.meanLayers, 4), score: l.row.score });
    rows.sort((x, y) => x.dims - y.dims || x.tolerance - y.tolerance);
    const path = join(a.model, 'manifest.json');
    const raw = JSON.parse(readFileSync(path, 'utf8')) as { quality?: Record<string, unknown> };
    if (!raw.quality) throw new Error(`${path} has no quality table to add adaptive rows to`);
    raw.quality.adaptive = rows;
    writeFileSync(path, `${JSON.stringify(raw, null, 1)}\n`);
    console.error(`wrote ${rows.length} quality.adaptive rows into ${path} (default tolerance now ${DEFAULT_TOLERANCE})`);
  }
  cpu.dispose();
  return 0;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/**
 * WebGPU: one batch of `--gpu-batch` FLORES English sentences of 24-40 tokens (one bucket, padded
 * to its longest text) in which every other text leaves at exit 2 and the rest run to the last,
 * timed against `embed` of the same batch at full depth. On m3-mini no tolerance splits real texts
 * that way (a text's cosine to the previous exit rises with depth and differs little between
 * texts), so the exits are imposed: while timing, ExitJudge.offer (the decision both backends call)
 * runs at tolerance -1 for even texts (they leave at the first exit they may) and 2 for odd ones
 * (they never settle). Also timed: `embedAdaptive` at tolerance 1 (every text to the last exit: the
 * same submissions and readbacks, no row dropped), at the default tolerance (real decisions), and
 * `embed` at 2 layers.
 */
async function gpuRatio(
  weights: ConstructorParameters<typeof CpuEncoder>[0],
  exits: number[],
  pooling: Pooling,
  flores: FloresDev,
  tokenizer: { encode(text: string, max: number): { ids: number[] } },
  maxTokens: number,
  a: Record<string, string | boolean | undefined>,
): Promise<number> {
  const { ensureAdapter, icdName } = await import('./adapter.js');
  const child = await ensureAdapter(undefined);
  if (child !== null) return child;
  const { createGpuContext } = await import('../src/gpu/device.js');
  const { GpuEncoder } = await import('../src/model/gpu.js');
  const n = Number(a['gpu-batch']);
  const runs = Number(a['gpu-runs']);
  const deepest = exits.at(-1) as number;
  const second = exits[1] as number;
  const dims = weights.config.hiddenSize;
  const english = (flores.get('eng_Latn') ?? []).map((t) => tokenizer.encode(t, maxTokens).ids);
  const batchTokens = english.filter((ids) => ids.length >= 24 && ids.length <= 40).slice(0, n);
  if (batchTokens.length < n) throw new Error(`only ${batchTokens.length} English FLORES sentences of 24-40 tokens`);

  let imposed = false;
  const offer = ExitJudge.prototype.offer;
  ExitJudge.prototype.offer = function (this: ExitJudge, text: number, exit: number, pooled: Float32Array) {
    if (!imposed) return offer.call(this, text, exit, pooled);
    const self = this as unknown as { o: AdaptiveOptions };
    const o = self.o;
    self.o = { ...o, tolerance: text % 2 === 0 ? -1 : 2 };
    try {
      return offer.call(this, text, exit, pooled);
    } finally {
      self.o = o;
    }
  };
  const ctx = await createGpuContext();
  const gpu = await GpuEncoder.create(ctx, weights);
  const opts = (tolerance: number): AdaptiveOptions => ({ exits, tolerance, dims, pooling, normalize: true });
  const halfAtTwo = async () => {
    imposed = true;
    try {
      return await gpu.embedAdaptive(batchTokens, opts(1));
    } finally {
      imposed = false;
    }
  };
  const check = await halfAtTwo();
  const atTwo = check.layers.filter((l) => l === second).length;
  const atLast = check.layers.filter((l) => l === deepest).length;
  const natural = await gpu.embedAdaptive(batchTokens, opts(DEFAULT_TOLERANCE));
  const naturalMean = natural.layers.reduce((s, l) => s + l, 0) / natural.layers.length;
  const cases: [string, () => Promise<unknown>][] = [
    [`embed, ${deepest} layers (full depth)`, () => gpu.embed(batchTokens, { layers: deepest, dims, pooling, normalize: true })],
    [`embedAdaptive, half leave at exit ${second}, half run to ${deepest}`, halfAtTwo],
    [`embedAdaptive, tolerance 1 (every text to ${deepest})`, () => gpu.embedAdaptive(batchTokens, opts(1))],
    [
      `embedAdaptive, tolerance ${DEFAULT_TOLERANCE} (default; ${naturalMean.toFixed(2)} layers on average)`,
      () => gpu.embedAdaptive(batchTokens, opts(DEFAULT_TOLERANCE)),
    ],
    [`embed, ${second} layers`, () => gpu.embed(batchTokens, { layers: second, dims, pooling, normalize: true })],
  ];
  const times = cases.map(() => [] as number[]);
  for (const [, run] of cases) for (let w = 0; w < 2; w++) await run(); // warm-up (pipelines, buffers)
  for (let r = 0; r < runs; r++)
    for (const [i, [, run]] of cases.entries()) {
      const start = performance.now();
      await run();
      (times[i] as number[]).push(performance.now() - start);
    }
  const med = times.map(median);
  const lengths = batchTokens.map((t) => t.length);
  console.log(
    `WebGPU, ${icdName()}, adapter ${ctx.adapter.description || ctx.adapter.architecture || '?'}: ${batchTokens.length} English FLORES ` +
      `sentences of ${Math.min(...lengths)}-${Math.max(...lengths)} tokens (one bucket), ${dims} dims; in the imposed case ${atTwo} leave at exit ` +
      `${second} and ${atLast} run to ${deepest}; median of ${runs} calls after 2 warm-ups each, cases interleaved\n`,
  );
  console.log('| call | wall ms (median) | min–max | vs full depth |');
  console.log('|---|---|---|---|');
  cases.forEach(([label], i) => {
    const t = times[i] as number[];
    const ratio = (med[i] as number) / (med[0] as number);
    console.log(
      `| ${label} | ${(med[i] as number).toFixed(1)} | ${Math.min(...t).toFixed(0)}–${Math.max(...t).toFixed(0)} | ${ratio.toFixed(3)} |`,
    );
  });
  const layerShare = (atTwo * second + atLast * deepest) / (batchTokens.length * deepest);
  console.log(`\nlayers the half-at-exit-${second} batch runs: ${(layerShare * 100).toFixed(1)}% of the full batch's`);
  ExitJudge.prototype.offer = offer;
  gpu.dispose();
  ctx.device.destroy();
  return 0;
}

process.exitCode = await main();
