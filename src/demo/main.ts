import { createEncoder } from '../client.js';
import { setupComparePanel } from './compare-panel.js';
import { loadPanel } from './load-panel.js';

/** The bundled model pack, served from public/models/. */
const MODEL_URL = `${import.meta.env.BASE_URL}models/m3-mini`;

const $ = (id: string) => document.getElementById(id) as HTMLElement;

function fillSelect(select: HTMLSelectElement, values: number[], chosen: number): void {
  select.replaceChildren(...values.map((v) => new Option(String(v), String(v), v === chosen, v === chosen)));
}

async function start(): Promise<void> {
  const started = performance.now();
  let encoder: Awaited<ReturnType<typeof createEncoder>>;
  try {
    encoder = await createEncoder({ model: MODEL_URL, onProgress: loadPanel.progress });
  } catch (err) {
    loadPanel.failed(err);
    return;
  }
  const info = await encoder.info();
  loadPanel.ready(info, (performance.now() - started) / 1000);
  const layers = $('layers') as HTMLSelectElement;
  const dims = $('dims') as HTMLSelectElement;
  fillSelect(layers, info.model.exits, Math.max(...info.model.exits));
  fillSelect(dims, info.model.dims, Math.max(...info.model.dims));
  const shape = () => ({ layers: Number(layers.value), dims: Number(dims.value) });
  const note = () => {
    const { layers: l, dims: d } = shape();
    const row = info.model.quality?.rows.find((r) => r.layers === l && r.dims === d);
    $('shape-note').textContent = row
      ? `Measured quality at this shape: ${(100 * (row.metrics?.floresXxEng ?? 0)).toFixed(1)}% FLORES bitext accuracy, ${(row.metrics?.sts_en ?? 0).toFixed(2)} English STS Spearman.`
      : '';
  };
  layers.addEventListener('change', note);
  dims.addEventListener('change', note);
  note();
  setupComparePanel(encoder, shape);
}

void start();
