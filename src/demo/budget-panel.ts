import type { Budget, Encoder, Plan } from '../index.js';
import { $, layersText } from './dom.js';

/** The workload the budget is stated for: one search query of about 32 tokens. */
const WORKLOAD: Budget = { typicalTokens: 32, batch: 1 };

/** Slider stops: round numbers on a roughly logarithmic scale, from a phone to a desktop GPU. */
const LATENCY_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000];
const MEMORY_MIB = [8, 16, 32, 64, 128, 256, 512, 1024];

function stops(input: HTMLInputElement, values: readonly number[], initial: number): () => number {
  input.min = '0';
  input.max = String(values.length - 1);
  input.step = '1';
  input.value = String(values.indexOf(initial));
  return () => values[Number(input.value)] as number;
}

function describe(plan: Plan): string {
  const q = plan.predicted.quality;
  return (
    `${layersText(plan.layers)} × ${plan.dims} dims: predicted ${plan.predicted.latencyMs.toFixed(1)} ms per query, ` +
    `${plan.predicted.memoryMB.toFixed(0)} MiB` +
    (q === null ? '' : `, quality score ${(100 * q).toFixed(1)}`) +
    (plan.fits ? '.' : ' (nothing fits this budget; this is the cheapest shape).')
  );
}

/**
 * Latency and memory sliders; every move asks the planner (device probe + the model's quality
 * table) for the best (layers, dims) that fits, and hands it to `apply`. Resolves once the first
 * plan is shown.
 */
export async function setupBudgetPanel(encoder: Encoder, apply: (plan: Plan) => void): Promise<void> {
  const latency = $('budget-latency') as HTMLInputElement;
  const memory = $('budget-memory') as HTMLInputElement;
  const latencyMs = stops(latency, LATENCY_MS, 100);
  const memoryMiB = stops(memory, MEMORY_MIB, 256);
  let latest = 0;
  const refresh = async (): Promise<void> => {
    const call = ++latest;
    const maxLatencyMs = latencyMs();
    const maxMemoryMB = memoryMiB();
    $('budget-latency-value').textContent = `${maxLatencyMs} ms`;
    $('budget-memory-value').textContent = `${maxMemoryMB} MiB`;
    try {
      const plan = await encoder.plan({ ...WORKLOAD, maxLatencyMs, maxMemoryMB });
      // Slider events outrun the planner; only the newest answer may change the page.
      if (call !== latest) return;
      $('budget-plan').textContent = describe(plan);
      $('budget-reason').textContent = plan.reason;
      apply(plan);
    } catch (err) {
      $('budget-plan').textContent = `The planner failed: ${(err as Error).message}`;
    }
  };
  const onInput = () => void refresh();
  latency.addEventListener('input', onInput);
  memory.addEventListener('input', onInput);
  latency.disabled = false;
  memory.disabled = false;
  await refresh();
}
