import type { BackendKind } from '../model/encoder.js';
import { type CostModel, fitCostModel } from './cost.js';
import type { DeviceProbe, ProbePoint } from './probe.js';
import { significant } from './significant.js';

/**
 * Calls fall into two size classes, each with its own backend: one short text (a search query),
 * where fixed costs (upload, dispatch, readback) dominate and a CPU often wins, and batches,
 * where a GPU's parallelism can pay for them.
 */
export type SizeClass = 'short' | 'batch';
export const SIZE_CLASSES: readonly SizeClass[] = ['short', 'batch'];

/** The backend chosen for one size class, why, and its predicted ms at the class's probe shape. */
export interface ClassChoice {
  backend: BackendKind;
  reason: string;
  predictedMs: Record<BackendKind, number | null>;
}

export type BackendChoices = Record<SizeClass, ClassChoice>;

/** The probes behind device 'auto': the CPU's, and WebGPU's (null when there is no usable adapter). */
export interface BackendProbes {
  cpu: DeviceProbe;
  webgpu: DeviceProbe | null;
}

type Shape = { batch: number; seqLen: number };

/** The shape that stands for each class: the probe's single short text and its largest batch. */
export function classShapes(cpu: DeviceProbe): Record<SizeClass, Shape> {
  const points = cpu.measured;
  const short = points.reduce((a, p) => (p.batch * p.seqLen < a.batch * a.seqLen ? p : a));
  const batch = points.reduce((a, p) => (p.batch * p.seqLen > a.batch * a.seqLen ? p : a));
  return { short: { batch: short.batch, seqLen: short.seqLen }, batch: { batch: batch.batch, seqLen: batch.seqLen } };
}

/**
 * The class of a call of `batch` texts padded to `seqLen` tokens: whichever class shape is nearer
 * in log(tokens), i.e. short up to the geometric mean of the two shapes' tokens (128 for the
 * default 1 × 16 and 8 × 128).
 */
export function sizeClassOf(shapes: Record<SizeClass, Shape>, batch: number, seqLen: number): SizeClass {
  const tokens = (s: Shape) => s.batch * s.seqLen;
  return batch * seqLen <= Math.sqrt(tokens(shapes.short) * tokens(shapes.batch)) ? 'short' : 'batch';
}

/** Whether `probe` timed `shape` at every depth it timed anything. */
function covers(probe: DeviceProbe, shape: Shape): boolean {
  const depths = new Set(probe.measured.map((p) => p.layers));
  const at = probe.measured.filter((p) => p.batch === shape.batch && p.seqLen === shape.seqLen);
  return at.length > 0 && at.length === depths.size;
}

const NAMES: Record<BackendKind, string> = { cpu: 'the CPU', webgpu: 'WebGPU' };
const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : significant(ms, 2));
const shapeText = (s: Pick<ProbePoint, 'batch' | 'seqLen'>) => `${s.batch}×${s.seqLen} tokens`;

/**
 * Picks the backend for each size class at depth `layers` (the model's default depth). Where
 * both probes timed a class's shape, the backend with the lower predicted latency (each fitted to
 * its own probe) wins. Where WebGPU's probe stopped before that shape (its time budget ran out on
 * a smaller one, as on software adapters), the CPU is chosen: WebGPU was too slow to measure
 * there. Without a WebGPU probe, the CPU, with `noGpuReason`.
 */
export function chooseBackends(probes: BackendProbes, layers: number, noGpuReason: string): BackendChoices {
  const shapes = classShapes(probes.cpu);
  const { cpu: cpuCost, webgpu: gpuCost } = costModels(probes);
  const gpu = probes.webgpu;
  const depth = `${layers} layer${layers === 1 ? '' : 's'}`;
  const choose = (shape: Shape): ClassChoice => {
    const cpuMs = cpuCost.latencyMs(layers, shape.batch, shape.seqLen);
    if (!gpu) return { backend: 'cpu', reason: `no WebGPU: ${noGpuReason}`, predictedMs: { cpu: cpuMs, webgpu: null } };
    if (!gpuCost || !covers(gpu, shape)) {
      const stop = gpu.stoppedAt;
      const call = stop && `its call at ${shapeText(stop)} (${stop.layers} layer${stop.layers === 1 ? '' : 's'})`;
      // 0 ms: the budget was spent before that call could start.
      const why = !stop
        ? 'the probe did not reach that shape'
        : stop.ms > 0
          ? `the probe's time budget ran out while ${call} was still running, after ${fmt(stop.ms)} ms`
          : `the probe's time budget ran out before ${call}`;
      return {
        backend: 'cpu',
        reason: `the CPU: predicted ${fmt(cpuMs)} ms for ${shapeText(shape)} at ${depth}; WebGPU was not timed there: ${why}`,
        predictedMs: { cpu: cpuMs, webgpu: null },
      };
    }
    const gpuMs = gpuCost.latencyMs(layers, shape.batch, shape.seqLen);
    const backend: BackendKind = gpuMs < cpuMs ? 'webgpu' : 'cpu';
    const [win, lose] = backend === 'webgpu' ? [gpuMs, cpuMs] : [cpuMs, gpuMs];
    const other: BackendKind = backend === 'webgpu' ? 'cpu' : 'webgpu';
    return {
      backend,
      reason: `${NAMES[backend]}: predicted ${fmt(win)} ms for ${shapeText(shape)} at ${depth}, ${NAMES[other]} ${fmt(lose)} ms`,
      predictedMs: { cpu: cpuMs, webgpu: gpuMs },
    };
  };
  return { short: choose(shapes.short), batch: choose(shapes.batch) };
}

/** Each backend's cost model, where its probe timed anything. */
export function costModels(probes: BackendProbes): { cpu: CostModel; webgpu: CostModel | null } {
  const gpu = probes.webgpu;
  return { cpu: fitCostModel(probes.cpu), webgpu: gpu && gpu.measured.length > 0 ? fitCostModel(gpu) : null };
}
