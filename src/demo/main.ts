import type { DeviceChoice, ModelFolder, Plan } from '../index.js';
import { createEncoder, type Encoder, InputError } from '../index.js';
import { setupBudgetPanel } from './budget-panel.js';
import { setupComparePanel } from './compare-panel.js';
import { $, fillSelect, layersText } from './dom.js';
import { FOLDER_MODEL, keptFolder, setupFolderBox } from './folder-box.js';
import { loadPanel } from './load-panel.js';
import { setupOffline } from './offline.js';
import { setupRerankBox } from './rerank-box.js';
import { setupSearchPanel } from './search-panel.js';
import { setupTradeoffPanel } from './tradeoff-panel.js';

/** The bundled model pack, served from public/models/; absolute, since the Worker resolves it. */
const MODEL_URL = new URL('models/m3-mini', document.baseURI).href;
const BUNDLED = 'm3-mini';

/**
 * `?model=hf:org/name` opens a Hub model instead of the bundled one (`?hub=URL` for a mirror),
 * `?model=folder` the folder dropped last; the model box sets it.
 */
async function modelChoice(): Promise<{ model: string | ModelFolder; shown: string; hub?: { url: string } }> {
  const asked = new URLSearchParams(location.search).get('model');
  const hub = hubChoice();
  if (!asked || asked === BUNDLED) return { model: MODEL_URL, shown: BUNDLED };
  if (asked === FOLDER_MODEL) {
    const folder = await keptFolder();
    if (!folder) throw new InputError('no dropped folder is kept on this device any more: drop the model folder again');
    return { model: folder, shown: `folder: ${folder.name}` };
  }
  return { model: asked, shown: asked, ...(hub ? { hub } : {}) };
}

/** `?hub=URL`: a Hub mirror for the model box's and the rerank box's Hub ids. */
function hubChoice(): { url: string } | undefined {
  const url = new URLSearchParams(location.search).get('hub');
  return url ? { url } : undefined;
}

function setupModelForm(shown: string): void {
  const input = $('model-input') as HTMLInputElement;
  input.value = shown;
  $('model-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const params = new URLSearchParams(location.search);
    const value = input.value.trim();
    if (!value || value === BUNDLED) params.delete('model');
    else params.set('model', value);
    location.search = params.toString();
  });
}

/** `?device=cpu` runs the CPU forward even where WebGPU exists, to compare the two. */
function deviceChoice(): DeviceChoice {
  const asked = new URLSearchParams(location.search).get('device');
  return asked === 'cpu' || asked === 'webgpu' ? asked : 'auto';
}

async function start(): Promise<void> {
  setupOffline();
  setupFolderBox();
  const started = performance.now();
  /** The deepest exit of the model once known, the deepest loaded, and what to redo when a deeper one arrives. */
  let total = 0;
  let deepest = 0;
  const upgraded: (() => void)[] = [];
  let encoder: Encoder;
  try {
    const { shown, ...source } = await modelChoice();
    setupModelForm(shown);
    // A folder is on this device: its weights are read and converted, not downloaded.
    const reading = typeof source.model === 'string' ? 'downloading' : 'converting';
    // Progressive: the panels start once the first exit is here; deeper exits arrive while they work.
    encoder = await createEncoder({
      ...source,
      device: deviceChoice(),
      progressive: true,
      onProgress: (p) => loadPanel.progress(p, reading),
      onUpgrade: (layers) => {
        const seconds = (performance.now() - started) / 1000;
        deepest = Math.max(deepest, layers);
        if (total) loadPanel.depth(layers, total, seconds, false);
        for (const listener of upgraded) listener();
      },
    });
  } catch (err) {
    loadPanel.failed(err);
    return;
  }
  const info = await encoder.info();
  total = Math.max(...info.model.exits);
  deepest = Math.max(deepest, info.loadedLayers);
  // The trade-off panel times every depth, so it must not be answered from a shallower exit.
  const fullDepth = new Promise<void>((resolve) => {
    const check = () => {
      if (deepest >= total) resolve();
    };
    upgraded.push(check);
    check();
  });
  loadPanel.ready(info, (performance.now() - started) / 1000, deviceChoice());
  loadPanel.depth(info.loadedLayers, total, 0, true);

  const layers = $('layers') as HTMLSelectElement;
  const dims = $('dims') as HTMLSelectElement;
  fillSelect(layers, info.model.exits, Math.max(...info.model.exits));
  fillSelect(dims, info.model.dims, Math.max(...info.model.dims));
  const shape = () => ({ layers: Number(layers.value), dims: Number(dims.value) });
  const note = (chosenBy: string) => {
    const { layers: l, dims: d } = shape();
    const row = info.model.quality?.rows.find((r) => r.layers === l && r.dims === d);
    const measured = row
      ? ` Measured: ${(100 * (row.metrics?.floresXxEng ?? 0)).toFixed(1)}% FLORES bitext accuracy (xx→English), ` +
        `${(row.metrics?.sts_en ?? 0).toFixed(2)} English STS Spearman.`
      : '';
    $('shape-note').textContent = `${layersText(l)} × ${d} dims, ${chosenBy}.${measured}`;
  };
  const manual = () => note('chosen by hand');
  layers.addEventListener('change', manual);
  dims.addEventListener('change', manual);
  note('the full model');
  layers.disabled = false;
  dims.disabled = false;

  const applyPlan = (plan: Plan) => {
    layers.value = String(plan.layers);
    dims.value = String(plan.dims);
    note(plan.fits ? 'chosen by the planner for your budget' : 'the cheapest shape (nothing fits the budget)');
  };
  const compareAgain = await setupComparePanel(encoder, shape);
  upgraded.push(compareAgain);
  // An exit that arrived during the panel's first run is caught up on now.
  compareAgain();
  const hub = hubChoice();
  await setupSearchPanel(encoder, shape, setupRerankBox({ ...(hub ? { hub } : {}), device: deviceChoice() }));
  await setupBudgetPanel(encoder, applyPlan);
  $('tradeoff-status').textContent = 'Waiting for the deeper layers to download…';
  await fullDepth;
  await setupTradeoffPanel(encoder, info);
  document.body.dataset.ready = 'true';
}

void start();
