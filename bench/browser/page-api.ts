/** The `window.bench` contract between the benchmark pages and the Playwright driver. */
import type { CasePlan, CaseResults } from '../measure.js';

export interface Point {
  layers: number;
  dims: number;
}

export interface PageStart {
  /** performance.now() when the first vector arrived: ms since navigation start. */
  firstVectorMs: number;
  /** That vector (of the `text` query parameter): cross-runtime agreement. */
  probe: number[];
  /** m3web only: whether the weights came from its IndexedDB store. */
  fromCache?: boolean;
}

export interface BenchPage {
  /** Settles once the runtime has loaded and embedded the `text` query parameter. */
  started: Promise<PageStart>;
  /** bench/measure.ts's cases at full size, or (m3web) at `point`. */
  runCases(plan: CasePlan, point?: Point): Promise<CaseResults>;
  /** The WebGPU adapter as navigator.gpu reports it, or why there is none. */
  adapter(): Promise<string>;
}

declare global {
  interface Window {
    bench: BenchPage;
  }
}
