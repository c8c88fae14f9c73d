/**
 * bench/results/latest.json holds the latest Node and browser comparisons side by side (each run
 * replaces its own part); bench/results/latest.md is the same as markdown tables. A model may keep
 * its Node runs in a file of its own (`file`, e.g. node-mpnet-latest.json / .md).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonFile } from './common.js';
import { agreement, markdownTable, type RowResult, ratios } from './results-table.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'results');
const jsonPath = (file: string) => join(DIR, `${file}.json`);

/** 'node', 'browser', or 'node <model>' for a Node run on another model than the default. */
type Kind = string;
interface Comparison {
  meta: Record<string, string | number>;
  table: string;
  ratios: string[];
  rows: (Omit<RowResult, 'probe'> & { cosineVsTransformersJs?: number })[];
}

function section(kind: Kind, c: Comparison): string {
  const meta = Object.entries(c.meta)
    .map(([k, v]) => `- ${k}: ${v}`)
    .join('\n');
  const title = kind === 'browser' ? 'Browser (headless Chromium)' : `Node (Dawn)${kind === 'node' ? '' : `, ${kind.slice(5)}`}`;
  return `## ${title}\n\n${meta}\n\n${c.table}\n\nRatios (m3web / transformers.js; throughput above 1 and latency below 1 favour m3web):\n${c.ratios.join('\n')}\n`;
}

/** Stores this run's part and returns its markdown table. `dryRun` (a smoke check, or a run of some runtimes only) writes nothing. */
export async function writeComparison(
  kind: Kind,
  meta: Comparison['meta'],
  rows: RowResult[],
  dryRun: boolean,
  file = 'latest',
): Promise<string> {
  const agree = agreement(rows);
  const table = markdownTable(rows, kind === 'browser');
  if (dryRun) return table;
  const all: Record<Kind, Comparison> = existsSync(jsonPath(file)) ? JSON.parse(readFileSync(jsonPath(file), 'utf8')) : {};
  all[kind] = {
    meta,
    table,
    ratios: ratios(rows),
    rows: rows.map(({ probe: _probe, ...r }) => {
      const cos = agree.get(r);
      return cos === undefined ? r : { ...r, cosineVsTransformersJs: cos };
    }),
  };
  writeJsonFile(jsonPath(file), all);
  renderMarkdown(file);
  return table;
}

/** latest.md (or `file`.md) from every part stored in latest.json (`file`.json). */
export function renderMarkdown(file = 'latest'): void {
  const all: Record<Kind, Comparison> = JSON.parse(readFileSync(jsonPath(file), 'utf8'));
  const order = (k: string) => (k === 'node' ? 0 : k === 'browser' ? 1 : 2);
  const parts = Object.keys(all)
    .sort((a, b) => order(a) - order(b) || a.localeCompare(b))
    .map((k) => section(k, all[k] as Comparison));
  writeFileSync(join(DIR, `${file}.md`), `# m3web vs transformers.js (npm run bench -- node / browser)\n\n${parts.join('\n')}`);
}
