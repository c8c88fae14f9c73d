/** Result rows of the runtime comparison (Node and browser alike) and their markdown table. */
import { cosine } from '../test/support/random.js';
import type { Stats, ThroughputStats } from './measure.js';

export type Runtime = 'm3web' | 'transformers.js';
export type Dtype = 'f32' | 'q8' | 'q4';

export interface RowResult {
  runtime: Runtime;
  device: string;
  dtype: Dtype;
  /** 'full' or, for m3web, the cheaper Matryoshka point, e.g. '3 layers × 64 dims'. */
  point: string;
  /** Start to first embedding: Node, from loading the runtime's modules; browser, from navigation. */
  coldStartMs?: number;
  /** Browser only: the same after a reload, with the model in the runtime's cache. */
  warmStartMs?: number;
  latency16?: Stats;
  latency128?: Stats;
  throughput?: ThroughputStats;
  /** Peak resident memory of the process(es) that ran it. */
  peakMemory?: Record<string, number>;
  /** Embedding of the 128-token text (full point only): cross-runtime agreement. */
  probe?: number[];
  error?: string;
}

const ms = (v: number | undefined) => (v === undefined ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const stat = (s: Stats | undefined) => (s ? `${ms(s.p50)} / ${ms(s.p95)}` : '—');

const label = (r: RowResult) => `${r.runtime} ${r.device} ${r.dtype}${r.point === 'full' ? '' : `, ${r.point}`}`;

/** Cosine of each row's probe vector against the transformers.js row of the same dtype (else f32). */
export function agreement(rows: RowResult[]): Map<RowResult, number> {
  const out = new Map<RowResult, number>();
  for (const r of rows) {
    if (!r.probe || r.runtime !== 'm3web') continue;
    const peers = rows.filter((p) => p.runtime === 'transformers.js' && p.probe && p.probe.length === r.probe?.length);
    const peer = peers.find((p) => p.dtype === r.dtype) ?? peers.find((p) => p.dtype === 'f32');
    if (peer?.probe) out.set(r, cosine(r.probe, peer.probe));
  }
  return out;
}

/** Ratio m3web / transformers.js for the figures the targets name, against same-device rows. */
export function ratios(rows: RowResult[]): string[] {
  const lines: string[] = [];
  const tjs = (device: string, dtype: string) =>
    rows.find((r) => r.runtime === 'transformers.js' && r.device === device && r.dtype === dtype && !r.error);
  for (const r of rows.filter((x) => x.runtime === 'm3web' && x.point === 'full' && !x.error)) {
    const peerDevice = r.device.startsWith('cpu') ? (tjs('wasm', r.dtype) ? 'wasm' : 'cpu') : r.device;
    const p = tjs(peerDevice, r.dtype);
    if (!p) continue;
    const parts: string[] = [];
    if (r.throughput && p.throughput)
      parts.push(`throughput ${(r.throughput.tokensPerSec / p.throughput.tokensPerSec).toFixed(2)}x`);
    if (r.latency16 && p.latency16) parts.push(`16-token latency ${(r.latency16.p50 / p.latency16.p50).toFixed(2)}x`);
    if (r.latency128 && p.latency128) parts.push(`128-token latency ${(r.latency128.p50 / p.latency128.p50).toFixed(2)}x`);
    if (r.warmStartMs && p.warmStartMs) parts.push(`warm start ${(r.warmStartMs / p.warmStartMs).toFixed(2)}x`);
    else if (r.coldStartMs && p.coldStartMs) parts.push(`start ${(r.coldStartMs / p.coldStartMs).toFixed(2)}x`);
    lines.push(`- ${label(r)} vs transformers.js ${peerDevice} ${r.dtype}: ${parts.join(', ')}`);
  }
  return lines;
}

export function markdownTable(rows: RowResult[], browser: boolean): string {
  const agree = agreement(rows);
  const memKeys = [...new Set(rows.flatMap((r) => Object.keys(r.peakMemory ?? {})))];
  const head = [
    'runtime',
    browser ? 'cold start ms (empty / warm cache)' : 'load → first vector ms',
    '1×16 ms p50 / p95',
    '1×128 ms p50 / p95',
    'tokens/s (batch)',
    ...memKeys.map((k) => `peak ${k} MiB`),
    'cos vs transformers.js',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    if (r.error) {
      lines.push(`| ${label(r)} | failed: ${r.error.replace(/\|/g, '/').slice(0, 160)} |${' |'.repeat(head.length - 2)}`);
      continue;
    }
    const start = browser ? `${ms(r.coldStartMs)} / ${ms(r.warmStartMs)}` : ms(r.coldStartMs);
    const tput = r.throughput
      ? `${r.throughput.tokensPerSec.toFixed(1)} (${r.throughput.texts}×${r.throughput.tokens / r.throughput.texts})`
      : '—';
    const cos = agree.get(r);
    lines.push(
      `| ${[
        label(r),
        start,
        stat(r.latency16),
        stat(r.latency128),
        tput,
        ...memKeys.map((k) => (r.peakMemory?.[k] === undefined ? '—' : String(Math.round(r.peakMemory[k] as number)))),
        cos === undefined ? '—' : cos.toFixed(5),
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}
