import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { readFloresDev, readStsDev, readXquad } from '../eval/dev-data.js';
import { cpuWorkerPool, type EmbedExits } from '../eval/embed-pool.js';
import { type EvalReport, evaluate } from '../eval/run.js';
import { BACKEND_CHOICES, type BackendChoice } from '../model/backend.js';
import { PromptProjection } from '../model/projection.js';
import { openModelFolder } from '../node/model-folder.js';
import { MANIFEST_FILE, parseManifest } from '../pack/manifest.js';
import { everyExit } from '../weights/config.js';
import { defaultWidths } from '../weights/static-config.js';
import { type CliIo, oneOf, parseFlags, positiveInt, UsageError } from './args.js';
import { CliBackends, probeModelKey } from './backends.js';
import { evalSearchCommand } from './eval-search.js';
import { modelFolder } from './hub-arg.js';

export const EVAL_USAGE = `Usage: m3web eval --model DIR [options]

Measures, for every (layers, dims) the model supports (the pack's exits x dims, or
every layer at full width for a Hugging Face folder):
  - FLORES-200 dev bitext retrieval accuracy, xx->eng and eng->xx, averaged over languages;
  - STS-B dev Spearman correlation per language;
  - where the data folder has xquad-dev/: question -> paragraph retrieval (R@1, MRR@10),
    monolingual and against English paragraphs, averaged over languages (the model's query
    and passage prefixes applied);
and the same for a character n-gram TF-IDF baseline. Prints a table. The score the planner
ranks cells by is the mean of bitext (both directions), STS and xquad MRR@10.

With --search instead: question -> paragraph retrieval on xquad-dev (data/xquad-dev), through
the search index, for the vector ranker, the lexical (BM25) ranker and hybrid fusions, at the
model's deepest exit and full width: R@1 and MRR@10 per language, monolingual and against
English paragraphs. --write then stores the best fusion as the pack's hybrid default.

Options:
  --model DIR     model pack or Hugging Face folder, or a hub id (as for embed)
  --revision R    hub branch, tag or commit (default main)
  --data DIR      dev data folder with flores-dev/, stsb-dev/ and optionally xquad-dev/
                  (default training/dev-data)
  --langs LIST    only these FLORES languages, comma-separated (default: all)
  --sts LIST      only these STS-B languages, e.g. en,de (default: all)
  --backend B     cpu, webgpu or auto (default cpu: exact f32 on any machine)
  --report FILE   also write the full report (per-language figures) as JSON
  --write         store the quality table (or with --search the fusion) in the pack's manifest.json
  --search        measure search (see above) instead of bitext and STS
  --chunk-tokens N  with --search: paragraphs cut into chunks of at most N tokens
                  (the chunkTokens index option; not with --write)
  --titles        with --search: paragraphs indexed with their article's title
                  (IndexDoc.title; not with --write)
  --lexicons DIR  with --search: the index translates query words with every lexicon
                  in DIR (public/lexicons; IndexOptions.lexicons; not with --write)
  --rerank MODEL  with --search: also the lexical and hybrid (k 60, equal weights)
                  rankings reranked by this cross-encoder (folder, pack or hub id)
                  over their best 20 paragraphs
  --batch N       texts per forward call (default 128)
  --threads N     CPU threads for --backend cpu (default: all cores)
  -h, --help      show this help
`;

const HINT = 'Run `m3web eval --help` for usage.\n';

export interface EvalArgs {
  model: string;
  revision: string | undefined;
  data: string;
  langs: string[] | undefined;
  sts: string[] | undefined;
  backend: BackendChoice;
  report: string | undefined;
  write: boolean;
  search: boolean;
  chunkTokens: number | undefined;
  titles: boolean;
  lexicons: string | undefined;
  rerank: string | undefined;
  batch: number;
  threads: number;
}

export function parseEvalArgs(args: string[]): EvalArgs | 'help' {
  const f = parseFlags(
    args,
    {
      model: 'string',
      revision: 'string',
      data: 'string',
      langs: 'string',
      sts: 'string',
      backend: 'string',
      report: 'string',
      write: 'boolean',
      search: 'boolean',
      'chunk-tokens': 'string',
      titles: 'boolean',
      lexicons: 'string',
      rerank: 'string',
      batch: 'string',
      threads: 'string',
    },
    HINT,
  );
  if (f.help) return 'help';
  const { str } = f;
  const model = str('model');
  if (!model) throw new UsageError('--model DIR is required', HINT);
  const chunkTokens = positiveInt('chunk-tokens', str('chunk-tokens'), HINT);
  if (chunkTokens !== undefined && !f.flag('search')) throw new UsageError('--chunk-tokens needs --search', HINT);
  // The fusion written is the default for every index, measured at the default chunking.
  if (chunkTokens !== undefined && f.flag('write')) throw new UsageError('--chunk-tokens and --write do not go together', HINT);
  if (f.flag('titles') && !f.flag('search')) throw new UsageError('--titles needs --search', HINT);
  if (f.flag('titles') && f.flag('write')) throw new UsageError('--titles and --write do not go together', HINT);
  if (str('rerank') !== undefined && !f.flag('search')) throw new UsageError('--rerank needs --search', HINT);
  if (str('lexicons') !== undefined && !f.flag('search')) throw new UsageError('--lexicons needs --search', HINT);
  if (str('lexicons') !== undefined && f.flag('write')) throw new UsageError('--lexicons and --write do not go together', HINT);
  return {
    model,
    revision: str('revision'),
    data: str('data') ?? 'training/dev-data',
    langs: list(str('langs')),
    sts: list(str('sts')),
    backend: oneOf<BackendChoice>('backend', str('backend'), BACKEND_CHOICES, 'cpu', HINT),
    report: str('report'),
    write: f.flag('write'),
    search: f.flag('search'),
    chunkTokens,
    titles: f.flag('titles'),
    lexicons: str('lexicons'),
    rerank: str('rerank'),
    batch: positiveInt('batch', str('batch'), HINT) ?? 128,
    threads: positiveInt('threads', str('threads'), HINT) ?? availableParallelism(),
  };
}

const list = (v: string | undefined) =>
  v
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const pct = (x: number) => `${(100 * x).toFixed(1)}`.padStart(6);
const rho = (x: number) => x.toFixed(3).padStart(6);

export function formatTable(report: EvalReport): string {
  const { rows, baseline } = report.table;
  const xquad = rows.some((r) => r.metrics?.xquadMonoR1 !== undefined);
  const lines = [
    `layers  dims  xx->eng  eng->xx  STS-en  STS-mean${xquad ? '  xq-mono  xq-cross' : ''}  score`,
    `------  ----  -------  -------  ------  --------${xquad ? '  -------  --------' : ''}  -----`,
  ];
  const line = (l: string, d: string, m: Record<string, number>, score: number) =>
    `${l.padStart(6)}  ${d.padStart(4)}   ${pct(m.floresXxEng ?? 0)}   ${pct(m.floresEngXx ?? 0)}  ${rho(m.sts_en ?? 0)}    ${rho(m.stsMean ?? 0)}${xquad ? `   ${pct(m.xquadMonoR1 ?? 0)}    ${pct(m.xquadCrossR1 ?? 0)}` : ''}  ${score.toFixed(3)}`;
  for (const r of rows) lines.push(line(String(r.layers), String(r.dims), r.metrics ?? {}, r.score));
  if (baseline) lines.push(line('lexical', '-', baseline.metrics ?? {}, baseline.score));
  return `${lines.join('\n')}\n`;
}

export async function evalCommand(args: EvalArgs, io: CliIo): Promise<void> {
  const started = performance.now();
  const folder = await modelFolder(args.model, io, { revision: args.revision });
  if (args.search) {
    await evalSearchCommand(args, folder, io);
    io.stderr.write(`m3web: eval took ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    return;
  }
  const model = await openModelFolder(folder);
  const { config, manifest } = model;
  const exits = manifest?.exits ?? everyExit(config.numLayers);
  const dims = manifest?.dims ?? defaultWidths(config);
  const flores = await readFloresDev(join(args.data, 'flores-dev'), args.langs);
  const sts = await readStsDev(join(args.data, 'stsb-dev'), args.sts);
  const xquadDir = join(args.data, 'xquad-dev');
  const xquad = existsSync(xquadDir) ? await readXquad(xquadDir) : undefined;
  const prefixes = manifest?.prefixes ?? model.sentenceTransformers?.prefixes;
  const pooling = manifest?.pooling ?? 'mean';
  let embed: EmbedExits;
  let close: () => Promise<void>;
  if (args.backend === 'cpu') {
    const pool = await cpuWorkerPool(folder, exits, pooling, args.threads);
    embed = pool.embed;
    close = pool.close;
  } else {
    const deepest = Math.max(...exits);
    const backends = await CliBackends.open(model.weights, args.backend, probeModelKey(folder, manifest, 'f32'), deepest);
    io.stderr.write(`m3web: backend ${backends.summary()}\n`);
    // Calls run one after another however many are handed out.
    embed = (tokens, task) => backends.run(tokens, deepest, (backend) => backend.pooledAtExits(tokens, exits, pooling, task));
    close = async () => backends.dispose();
  }
  let report: EvalReport;
  try {
    let lastPct = -1;
    report = await evaluate({
      embed,
      tokenizer: model.tokenizer,
      maxTokens: config.maxTokens,
      exits,
      dims,
      flores,
      sts,
      ...(xquad ? { xquad } : {}),
      ...(prefixes ? { prefixes } : {}),
      ...(model.weights.projection ? { projection: new PromptProjection(model.weights.projection) } : {}),
      ...(config.lora ? { adapters: config.lora.byKind } : {}),
      batch: args.batch,
      onProgress(done, total) {
        const p = Math.floor((100 * done) / total);
        if (p >= lastPct + 10) {
          lastPct = p;
          io.stderr.write(`m3web: embedded ${done}/${total} texts\n`);
        }
      },
    });
  } finally {
    await close();
  }
  io.stdout.write(
    `FLORES dev: ${flores.size - 1} languages vs English; STS dev: ${[...sts.keys()].join(', ')}${xquad ? `; xquad-dev: ${[...xquad.keys()].join(', ')} (R@1)` : ''}\n`,
  );
  io.stdout.write(formatTable(report));
  if (args.report) await writeFile(args.report, `${JSON.stringify(report, null, 1)}\n`);
  if (args.write) {
    if (!manifest) throw new UsageError('--write needs a model pack (a folder with manifest.json)', HINT);
    const path = join(folder, MANIFEST_FILE);
    const raw = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    raw.quality = report.table;
    parseManifest(raw);
    await writeFile(`${path}.tmp`, `${JSON.stringify(raw, null, 1)}\n`);
    await rename(`${path}.tmp`, path);
    io.stderr.write(`m3web: wrote the quality table into ${path}\n`);
  }
  io.stderr.write(`m3web: eval took ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}
