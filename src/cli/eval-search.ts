import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createEncoder } from '../client/client.js';
import { readXquad } from '../eval/dev-data.js';
import { readLexicons } from '../eval/lexicon-files.js';
import { evaluateSearch, meanScores, type SearchScore } from '../eval/search-eval.js';
import type { BackendChoice } from '../model/backend.js';
import { type Fusion, MANIFEST_FILE, parseManifest } from '../pack/manifest.js';
import { STANDARD_FUSION } from '../search/fuse.js';
import type { SearchOptions } from '../search/types.js';
import type { CliIo } from './args.js';
import { modelFolder } from './hub-arg.js';

export const SEARCH_DATASET = 'xquad-dev question -> paragraph retrieval, mean MRR@10 (monolingual and against English)';

/**
 * The fusions tried, by rank (Cormack et al.'s k) and by score, the vector ranker weighted from
 * equal down to a tie-breaker. A model whose vectors rank paragraphs well keeps equal weights;
 * one whose vectors are weak on this task (a small model trained on translations) gets a small
 * weight, so hybrid search never ranks worse than the words alone.
 */
const VECTOR_WEIGHTS = [1, 0.5, 0.25, 0.1, 0.05, 0.02, 0.015, 0.01, 0.005, 0];
/** By score a cosine's spread, not its rank, sets how far it moves a document: weights stay larger. */
const SCORE_VECTOR_WEIGHTS = [2, 1, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05];

const fusionName = (f: Fusion) =>
  f.method === 'scores' ? `hybrid scores v${f.weights.vector}` : `hybrid k${f.k} v${f.weights.vector}`;

function configs(): { options: Record<string, SearchOptions>; fusions: Map<string, Fusion> } {
  const options: Record<string, SearchOptions> = { vector: { mode: 'vector' }, lexical: { mode: 'lexical' } };
  const fusions = new Map<string, Fusion>();
  const tried: Fusion[] = [
    ...VECTOR_WEIGHTS.map((vector) => ({ k: STANDARD_FUSION.k, weights: { vector, lexical: 1 } })),
    ...SCORE_VECTOR_WEIGHTS.map((vector) => ({ method: 'scores' as const, weights: { vector, lexical: 1 } })),
  ];
  for (const fusion of tried) {
    fusions.set(fusionName(fusion), fusion);
    options[fusionName(fusion)] = { mode: 'hybrid', fusion };
  }
  return { options, fusions };
}

const pct = (x: number) => (100 * x).toFixed(1).padStart(5);

/** Per-language R@1 / MRR@10 for vector, lexical and the chosen hybrid, then every configuration's means. */
export function formatSearchTable(scores: readonly SearchScore[], chosen: string): string {
  const shown = ['vector', 'lexical', chosen];
  const langs = [...new Set(scores.map((s) => s.lang))];
  const cell = (lang: string, setting: string, config: string) => {
    const s = scores.find((x) => x.lang === lang && x.setting === setting && x.config === config);
    return s ? `${pct(s.r1)} ${pct(s.mrr10)}` : '    -     -';
  };
  const lines = [`R@1 and MRR@10 (%); hybrid = ${chosen}`, `lang   setting  ${shown.map((c) => c.padEnd(11)).join('  ')}`];
  for (const lang of langs) {
    for (const setting of ['mono', 'cross']) {
      if (lang === 'en' && setting === 'cross') continue;
      lines.push(`${lang.padEnd(5)}  ${setting.padEnd(7)}  ${shown.map((c) => cell(lang, setting, c)).join('  ')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The hybrid configuration with the best mean MRR@10 over both settings (the first on ties: the heavier vector weight). */
function bestFusion(means: readonly SearchScore[], fusions: ReadonlyMap<string, Fusion>): string {
  let best = '';
  let bestScore = -1;
  for (const name of fusions.keys()) {
    const rows = means.filter((m) => m.config === name);
    const score = rows.reduce((n, r) => n + r.mrr10, 0) / rows.length;
    if (score > bestScore) {
      best = name;
      bestScore = score;
    }
  }
  return best;
}

/**
 * `m3web eval --search`: question -> paragraph retrieval on xquad-dev through the product's
 * own index, for the vector and lexical rankers alone and hybrid at each fusion tried; with
 * --write the best fusion becomes the pack's default for hybrid search.
 */
export interface EvalSearchArgs {
  data: string;
  langs: string[] | undefined;
  backend: BackendChoice;
  report: string | undefined;
  write: boolean;
  chunkTokens: number | undefined;
  /** Index each paragraph with its article's title (--titles). */
  titles: boolean;
  /** A folder of lexicons the index translates query words with (--lexicons). */
  lexicons: string | undefined;
  /** A cross-encoder to rerank the lexical and standard hybrid rankings with (--rerank). */
  rerank: string | undefined;
}

/** Paragraphs the reranked configurations hand the cross-encoder: SearchOptions.rerank's default for k 10. */
const RERANK_TOP = 20;

export async function evalSearchCommand(args: EvalSearchArgs, folder: string, io: CliIo): Promise<void> {
  const data = await readXquad(join(args.data, 'xquad-dev'), args.langs);
  const reranker = args.rerank
    ? await createEncoder({ model: await modelFolder(args.rerank, io), device: args.backend, cache: false })
    : null;
  const encoder = await createEncoder({ model: folder, device: args.backend, cache: false });
  const { options, fusions } = configs();
  if (reranker) {
    const rerank = { reranker, top: RERANK_TOP };
    options['lexical+rerank'] = { mode: 'lexical', rerank };
    options['hybrid+rerank'] = { mode: 'hybrid', fusion: STANDARD_FUSION, rerank };
  }
  let scores: SearchScore[];
  try {
    scores = await evaluateSearch({
      encoder,
      data,
      configs: options,
      ...(args.chunkTokens === undefined ? {} : { chunkTokens: args.chunkTokens }),
      titles: args.titles,
      ...(args.lexicons === undefined ? {} : { lexicons: await readLexicons(args.lexicons) }),
      onProgress: (m) => io.stderr.write(`m3web: ${m}\n`),
    });
  } finally {
    await encoder.dispose();
    await reranker?.dispose();
  }
  const means = meanScores(scores);
  const chosen = bestFusion(means, fusions);
  io.stdout.write(formatSearchTable([...scores, ...means], chosen));
  io.stdout.write('\nmean over languages (R@1 / MRR@10, %):\nconfiguration          mono          cross\n');
  for (const config of Object.keys(options)) {
    const m = (setting: string) => means.find((x) => x.config === config && x.setting === setting) as SearchScore;
    io.stdout.write(
      `${config.padEnd(20)}  ${pct(m('mono').r1)} ${pct(m('mono').mrr10)}  ${pct(m('cross').r1)} ${pct(m('cross').mrr10)}\n`,
    );
  }
  if (args.report) await writeFile(args.report, `${JSON.stringify({ scores, means, chosen }, null, 1)}\n`);
  if (args.write) {
    const path = join(folder, MANIFEST_FILE);
    const raw = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    raw.search = { dataset: SEARCH_DATASET, fusion: fusions.get(chosen) };
    parseManifest(raw);
    await writeFile(`${path}.tmp`, `${JSON.stringify(raw, null, 1)}\n`);
    await rename(`${path}.tmp`, path);
    io.stderr.write(`m3web: wrote the hybrid search default (${chosen}) into ${path}\n`);
  }
}
