/**
 * The page of `npm run bench -- auto --browser`: ?model=<pack URL>. Opens the model three times,
 * with device 'cpu' (which downloads the pack into IndexedDB), 'auto' (probing, on this fresh
 * profile) and 'webgpu', and publishes `window.autoBench` for bench/auto.ts to drive.
 */
import { createStore, values } from 'idb-keyval';
import { createEncoder, type Encoder } from '../../src/index.js';
import { type AutoChoice, choiceOf, type Device, type ShapeResult, timeShape, warmUp } from './auto-timing.js';

export interface AutoPageResult {
  openMs: Record<Device, number>;
  start: AutoChoice;
  end: AutoChoice;
  shapes: ShapeResult[];
  adapter: string;
  /** What the auto encoder's probe stored (src/budget/probe-cache.ts's database): the timings it decided by. */
  stored: unknown[];
}

export interface AutoBenchPage {
  run(shapes: { name: string; texts: string[]; runs: number }[]): Promise<AutoPageResult>;
}

declare global {
  interface Window {
    autoBench: AutoBenchPage;
  }
}

window.autoBench = {
  async run(shapes) {
    const model = new URL(new URLSearchParams(location.search).get('model') ?? '', location.href).href;
    const encoders = {} as Record<Device, Encoder>;
    const openMs = {} as Record<Device, number>;
    try {
      for (const device of ['cpu', 'auto', 'webgpu'] as const) {
        const start = performance.now();
        encoders[device] = await createEncoder({ model, device });
        openMs[device] = performance.now() - start;
      }
      const start = choiceOf((await encoders.auto.info()).backends);
      await warmUp(encoders);
      const results: ShapeResult[] = [];
      for (const s of shapes) results.push(await timeShape(encoders, s.name, s.texts, s.runs, (line) => console.log(line)));
      const a = (await encoders.webgpu.info()).adapter;
      return {
        openMs,
        start,
        end: choiceOf((await encoders.auto.info()).backends),
        shapes: results,
        adapter: a ? [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') : 'none',
        stored: await values(createStore('m3web-probe', 'probes')),
      };
    } finally {
      for (const e of Object.values(encoders)) await e.dispose();
    }
  },
};
