import type { Encoder, EncoderInfo } from '../index.js';
import { $ } from './dom.js';

const SAMPLE = 'The committee will publish its report on the new railway line next spring.';
const RUNS = 3;
const SVG = 'http://www.w3.org/2000/svg';
const SIZE = { w: 640, h: 300, left: 56, right: 130, top: 16, bottom: 44 };
const COLOURS = ['#9cc3f5', '#5a9be8', '#1967d2', '#0b3d91', '#051c45'];

/** Median wall-clock ms of one query embed at each exit (width does not change the work). */
async function measureExits(encoder: Encoder, exits: readonly number[]): Promise<Map<number, number>> {
  const times = new Map<number, number>();
  for (const layers of exits) {
    await encoder.embed([SAMPLE], { layers });
    const runs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      await encoder.embed([SAMPLE], { layers });
      runs.push(performance.now() - t);
    }
    runs.sort((a, b) => a - b);
    times.set(layers, runs[Math.floor(RUNS / 2)] as number);
  }
  return times;
}

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** 1, 2 or 5 times a power of ten, at least `raw`: axis ticks a reader can add up. */
function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw || 1));
  return ([1, 2, 5, 10].find((m) => m * p >= raw) ?? 10) * p;
}

/** Quality (y) against measured latency (x), one line per width, points labelled by depth. */
function chart(info: EncoderInfo, times: Map<number, number>): SVGSVGElement {
  const rows = info.model.quality?.rows ?? [];
  const baseline = info.model.quality?.baseline?.score;
  const xs = [...times.values()];
  const ys = [...rows.map((r) => r.score), ...(baseline === undefined ? [] : [baseline])];
  const xStep = niceStep(Math.max(...xs) / 4);
  const [x0, x1] = [0, Math.ceil((Math.max(...xs) * 1.05) / xStep) * xStep];
  const [y0, y1] = [Math.floor(Math.min(...ys) * 20) / 20, Math.ceil(Math.max(...ys) * 20) / 20];
  const px = (x: number) => SIZE.left + ((x - x0) / (x1 - x0 || 1)) * (SIZE.w - SIZE.left - SIZE.right);
  const py = (y: number) => SIZE.h - SIZE.bottom - ((y - y0) / (y1 - y0 || 1)) * (SIZE.h - SIZE.top - SIZE.bottom);
  const svg = el('svg', { viewBox: `0 0 ${SIZE.w} ${SIZE.h}`, role: 'img', class: 'tradeoff' });
  svg.append(el('title', {}, 'Quality against measured latency for each (layers, dims)'));
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4;
    svg.append(el('line', { x1: SIZE.left, x2: SIZE.w - SIZE.right, y1: py(y), y2: py(y), class: 'grid' }));
    svg.append(el('text', { x: SIZE.left - 6, y: py(y) + 4, 'text-anchor': 'end' }, (100 * y).toFixed(0)));
  }
  for (let x = x0; x <= x1 + xStep / 2; x += xStep) {
    svg.append(el('text', { x: px(x), y: SIZE.h - SIZE.bottom + 16, 'text-anchor': 'middle' }, String(Number(x.toPrecision(6)))));
  }
  svg.append(
    el(
      'text',
      { x: (SIZE.left + SIZE.w - SIZE.right) / 2, y: SIZE.h - 6, 'text-anchor': 'middle' },
      'ms per query, measured here',
    ),
  );
  svg.append(
    el('text', { x: 14, y: SIZE.h / 2, transform: `rotate(-90 14 ${SIZE.h / 2})`, 'text-anchor': 'middle' }, 'quality score'),
  );
  if (baseline !== undefined) {
    svg.append(el('line', { x1: SIZE.left, x2: SIZE.w - SIZE.right, y1: py(baseline), y2: py(baseline), class: 'baseline' }));
    svg.append(el('text', { x: SIZE.w - SIZE.right + 6, y: py(baseline) + 4 }, 'lexical baseline'));
  }
  info.model.dims.forEach((d, i) => {
    const colour = COLOURS[Math.min(i, COLOURS.length - 1)] as string;
    const points = rows
      .filter((r) => r.dims === d && times.has(r.layers))
      .sort((a, b) => a.layers - b.layers)
      .map((r) => ({ x: px(times.get(r.layers) as number), y: py(r.score), r }));
    if (points.length === 0) return;
    svg.append(el('polyline', { points: points.map((p) => `${p.x},${p.y}`).join(' '), stroke: colour, class: 'series' }));
    for (const p of points) {
      const dot = el('circle', { cx: p.x, cy: p.y, r: 4, fill: colour });
      dot.append(
        el(
          'title',
          {},
          `${p.r.layers} layers × ${d} dims: ${(100 * p.r.score).toFixed(1)}, ${times.get(p.r.layers)?.toFixed(1)} ms`,
        ),
      );
      svg.append(dot);
    }
    const last = points.at(-1) as (typeof points)[number];
    svg.append(el('text', { x: SIZE.w - SIZE.right + 6, y: last.y + 4, fill: colour }, `${d} dims`));
  });
  return svg;
}

/** Measures every exit on this device, then plots the model's quality table against it. */
export async function setupTradeoffPanel(encoder: Encoder, info: EncoderInfo): Promise<void> {
  const status = $('tradeoff-status');
  if (!info.model.quality?.rows.length) {
    status.textContent = 'This model has no quality table in its manifest (run `m3web eval --write`).';
    return;
  }
  status.textContent = 'Timing each depth on this device…';
  const times = await measureExits(encoder, info.model.exits);
  $('tradeoff-chart').replaceChildren(chart(info, times));
  const slowest = Math.max(...times.values());
  const fastest = Math.min(...times.values());
  status.textContent =
    `Median of ${RUNS} runs of one ${SAMPLE.split(' ').length}-word query per depth on ${info.backend === 'webgpu' ? 'WebGPU' : 'the CPU'}: ` +
    `${fastest.toFixed(1)} ms at ${Math.min(...info.model.exits)} layer(s) to ${slowest.toFixed(1)} ms at ${Math.max(...info.model.exits)}. ` +
    `Quality: ${info.model.quality?.dataset ?? 'the manifest table'}.`;
}
