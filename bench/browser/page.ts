/**
 * What both benchmark pages share: the runtime starts loading as soon as the page's module runs,
 * so the first vector's performance.now() is the cold (or warm) start, measured from navigation.
 */
import { type EmbedFn, runCases } from '../measure.js';
import type { BenchPage, PageStart, Point } from './page-api.js';

export interface OpenedRuntime {
  embed: EmbedFn;
  /** m3web: the same encoder at a cheaper Matryoshka point. */
  at?: (point: Point) => EmbedFn;
  /** m3web: whether the weights came from its cache. */
  fromCache?: boolean;
}

async function adapter(): Promise<string> {
  if (!('gpu' in navigator)) return 'no navigator.gpu';
  const a = await navigator.gpu.requestAdapter();
  if (!a) return 'navigator.gpu gave no adapter';
  const { vendor, architecture, device, description } = a.info;
  return [vendor, architecture, device, description].filter(Boolean).join(' ') || 'an adapter with empty info';
}

/** Starts `open` with the page's query parameters and publishes `window.bench`. */
export function publishBench(open: (query: URLSearchParams) => Promise<OpenedRuntime>): void {
  const query = new URLSearchParams(location.search);
  const opened = open(query);
  const started = opened.then(async (rt): Promise<PageStart> => {
    const [vector] = await rt.embed([query.get('text') ?? '']);
    const firstVectorMs = performance.now();
    if (!vector) throw new Error('the runtime returned no vector');
    return { firstVectorMs, probe: Array.from(vector), ...(rt.fromCache === undefined ? {} : { fromCache: rt.fromCache }) };
  });
  // The driver reads the failure through `started`; this only keeps it off the console as unhandled.
  started.catch(() => {});
  const bench: BenchPage = {
    started,
    async runCases(plan, point) {
      const rt = await opened;
      if (!point) return runCases(rt.embed, plan);
      if (!rt.at) throw new Error('this runtime has no Matryoshka points');
      return runCases(rt.at(point), plan);
    },
    adapter,
  };
  window.bench = bench;
}
