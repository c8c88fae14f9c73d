import type { BackendKind } from '../model/encoder.js';
import {
  type BackendChoices,
  type BackendProbes,
  chooseBackends,
  classShapes,
  costModels,
  type SizeClass,
  sizeClassOf,
} from './backend-choice.js';
import type { CostModel } from './cost.js';

/** Calls of a class whose times are weighed before a switch: enough that one slow call does not decide. */
export const SWITCH_WINDOW = 3;
/** How many times the other backend's predicted time the chosen one must take to be dropped. */
export const SWITCH_MARGIN = 1.5;

interface ClassState {
  choices: BackendChoices[SizeClass];
  /** Measured ms over the other backend's predicted ms, for the last SWITCH_WINDOW calls. */
  ratios: number[];
  /** Measured ms over the yardstick (the CPU's predicted ms) of the last SWITCH_WINDOW calls on the class's backend. */
  scores: number[];
  /**
   * 'probed': on the probe's choice; 'trial': switched, its first calls being timed against the
   * backend it left (`left`); 'settled': nothing changes any more.
   */
  phase: 'probed' | 'trial' | 'settled';
  left?: { backend: BackendKind; score: number; reason: string };
}

/**
 * Device 'auto' at run time: the backend per size class chosen from the probes, corrected by what
 * calls actually take. After each call on a class's backend, the ratio of its measured time to the
 * other backend's predicted time for the same call is kept; when the median of the last
 * SWITCH_WINDOW ratios exceeds SWITCH_MARGIN, the class moves to the other backend on trial. A
 * prediction can be far off (a probe that saw one or two layers of a software adapter, extrapolated
 * to all of them; a busy machine slowing every call since), so the trial's first SWITCH_WINDOW calls
 * decide: faster than the calls that caused the switch (both measured against the same yardstick,
 * the CPU's cost model, so that calls of other sizes compare), and the class stays; else it goes
 * back. Either way it never changes again: at most two moves, decided by calls on both backends
 * under the same conditions. A class whose other backend was not timed at its shape (WebGPU stopped
 * by the probe's time budget) does not switch: there is no prediction to disagree with. The same
 * calls and times always give the same choices.
 */
export class BackendSwitch {
  private readonly shapes: ReturnType<typeof classShapes>;
  private readonly costs: Record<BackendKind, CostModel | null>;
  private readonly state: Record<SizeClass, ClassState>;

  constructor(probes: BackendProbes, layers: number, noGpuReason: string) {
    this.shapes = classShapes(probes.cpu);
    this.costs = costModels(probes);
    const choices = chooseBackends(probes, layers, noGpuReason);
    const init = (c: SizeClass): ClassState => ({ choices: choices[c], ratios: [], scores: [], phase: 'probed' });
    this.state = { short: init('short'), batch: init('batch') };
  }

  classOf(batch: number, seqLen: number): SizeClass {
    return sizeClassOf(this.shapes, batch, seqLen);
  }

  /** The backend for a call of `batch` texts padded to `seqLen` tokens. */
  backendFor(batch: number, seqLen: number): BackendKind {
    return this.state[this.classOf(batch, seqLen)].choices.backend;
  }

  /** The cost model of the backend a plan for this workload would run on. */
  costFor(batch: number, seqLen: number): { backend: BackendKind; cost: CostModel } {
    const backend = this.backendFor(batch, seqLen);
    // A class is only ever given a backend whose probe timed its shape, so its model exists.
    return { backend, cost: this.costs[backend] as CostModel };
  }

  /** Records one call's wall-clock ms on `backend`; may move its class to the other backend, or back. */
  record(backend: BackendKind, layers: number, batch: number, seqLen: number, ms: number): void {
    const s = this.state[this.classOf(batch, seqLen)];
    if (s.phase === 'settled' || backend !== s.choices.backend) return;
    const yardstick = (this.costs.cpu as CostModel).latencyMs(layers, batch, seqLen);
    push(s.scores, ms / Math.max(yardstick, 1e-3));
    if (s.phase === 'trial') {
      this.endTrial(s);
      return;
    }
    const other: BackendKind = backend === 'cpu' ? 'webgpu' : 'cpu';
    const model = this.costs[other];
    if (!model || s.choices.predictedMs[other] === null) return;
    push(s.ratios, ms / Math.max(model.latencyMs(layers, batch, seqLen), 1e-3));
    if (s.ratios.length < SWITCH_WINDOW) return;
    const ratio = median(s.ratios);
    if (ratio <= SWITCH_MARGIN) return;
    s.phase = 'trial';
    s.left = { backend, score: median(s.scores), reason: s.choices.reason };
    s.scores = [];
    s.choices = {
      ...s.choices,
      backend: other,
      reason: `switched to ${other}: the last ${SWITCH_WINDOW} calls on ${backend} took ${ratio.toFixed(1)}x the time predicted for ${other} (before: ${s.choices.reason})`,
    };
  }

  /** Once the trial has SWITCH_WINDOW calls: keeps the new backend if they ran faster, else goes back. */
  private endTrial(s: ClassState): void {
    const left = s.left as NonNullable<ClassState['left']>;
    if (s.scores.length < SWITCH_WINDOW) return;
    s.phase = 'settled';
    const now = median(s.scores);
    const backend = s.choices.backend;
    const speed = `${(left.score / now).toFixed(1)}x the speed of its last ${SWITCH_WINDOW} calls on ${left.backend}`;
    if (now < left.score) {
      s.choices = { ...s.choices, reason: `${s.choices.reason}; its first ${SWITCH_WINDOW} calls ran at ${speed}` };
      return;
    }
    s.choices = {
      ...s.choices,
      backend: left.backend,
      reason: `back on ${left.backend}: ${backend}'s first ${SWITCH_WINDOW} calls after a switch ran at ${speed} (before: ${left.reason})`,
    };
  }

  choices(): BackendChoices {
    return { short: this.state.short.choices, batch: this.state.batch.choices };
  }
}

/** Appends `value`, keeping the last SWITCH_WINDOW. */
function push(window: number[], value: number): void {
  window.push(value);
  if (window.length > SWITCH_WINDOW) window.shift();
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
