import {
  type ActivationsProbe,
  activationsOf,
  activationsReason,
  BackendSwitch,
  type CostModel,
  type DeviceProbe,
  fitCostModel,
  getOrProbe,
  getOrProbeActivations,
  getOrProbeBoth,
  SIZE_CLASSES,
  type SizeClass,
  storedActivations,
  storedProbes,
} from '../budget/index.js';
import { UnsupportedError } from '../errors.js';
import type { GpuAdapterSummary } from '../gpu/device.js';
import type { GpuHandle, GpuSession } from '../gpu/session.js';
import { createBackend, type ManagedBackend } from '../model/backend.js';
import { type BackendKind, STATIC_ON_CPU } from '../model/encoder.js';
import { GpuEncoder } from '../model/gpu.js';
import type { ActivationsChoice, ActivationsUse, BackendUse, DeviceChoice } from '../types.js';
import type { EncoderWeights } from '../weights/weights.js';

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

const decided = (probe: ActivationsProbe): ActivationsUse => ({ type: activationsOf(probe), reason: activationsReason(probe) });

/**
 * WebGPU's activation type on `gpu`'s adapter where it is known without timing anything: the
 * forced one, f32 without `shader-f16`, or a stored measurement; else null. Throws
 * UnsupportedError for a forced f16 the adapter cannot run, even where device 'auto' would
 * otherwise fall back to the CPU: the caller asked for f16 by name.
 */
async function knownActivations(
  choice: ActivationsChoice,
  gpu: GpuHandle,
  weights: EncoderWeights,
  modelKey: string,
): Promise<ActivationsUse | null> {
  const { adapter, features } = gpu.gpu;
  if (choice === 'f16' && !features.shaderF16) {
    throw new UnsupportedError(
      `activations 'f16' needs the GPU adapter's shader-f16 feature, which ${adapter.description || adapter.vendor || 'this one'} lacks`,
    );
  }
  if (choice !== 'auto') return { type: choice, reason: `activations '${choice}' was asked for` };
  if (!features.shaderF16) return { type: 'f32', reason: 'the GPU adapter has no shader-f16' };
  const stored = await storedActivations(weights.config, adapter, modelKey);
  return stored && decided(stored);
}

/** knownActivations, else whichever type ran faster when timed now (then stored). */
async function activationsFor(
  choice: ActivationsChoice,
  gpu: GpuHandle,
  weights: EncoderWeights,
  modelKey: string,
): Promise<ActivationsUse> {
  const known = await knownActivations(choice, gpu, weights, modelKey);
  if (known) return known;
  // The probe runs one layer: encoders of the first layer alone upload a fraction of the weights.
  const firstLayer = { ...weights, layers: weights.layers.slice(0, 1) } as EncoderWeights;
  try {
    const probe = await getOrProbeActivations(weights.config, gpu.gpu.adapter, modelKey, (activations) =>
      GpuEncoder.create(gpu.gpu, firstLayer, gpu.queue, { activations }),
    );
    return decided(probe);
  } catch (err) {
    // f32 is what ran before f16 existed; a failure of the f32 backend itself shows when it is made.
    return { type: 'f32', reason: `f16 was not timed: ${message(err)}` };
  }
}

/**
 * The forward backends of one encoder and which one runs a call. A forced device has one backend
 * and probes only when a plan asks. Device 'auto' loads both where WebGPU works, probes both once
 * per adapter and model (cached), and lets BackendSwitch pick per call size; WebGPU is dropped
 * when its probe never reached a class's shape, since nothing can then switch to it (and with such
 * a probe stored, its backend is not even made).
 */
export class EncoderBackends {
  private forcedProbe: Promise<DeviceProbe> | undefined;

  private constructor(
    private readonly device: DeviceChoice,
    private readonly cpu: ManagedBackend | null,
    private gpu: ManagedBackend | null,
    private readonly auto: BackendSwitch | null,
    /** Why 'auto' runs on the CPU alone (WebGPU unavailable or failing), else null. */
    readonly fallbackReason: string | null,
    /** WebGPU's probe call still running when the probe stopped at its time budget. */
    private readonly gpuIdle: Promise<void>,
    private readonly modelKey: string,
    /** For 'auto' with WebGPU: whether its probe was measured now or read from the cache; else null. */
    readonly probe: 'measured' | 'stored' | null,
    /** WebGPU's activation type and why (null without WebGPU). */
    private readonly gpuActivations: ActivationsUse | null,
  ) {}

  /**
   * `layers`: the depth 'auto' compares the backends at (the model's default depth);
   * `activations`: EncoderOptions.activations, for the WebGPU backend.
   */
  static async create(
    weights: EncoderWeights,
    device: DeviceChoice,
    session: GpuSession,
    modelKey: string,
    layers: number,
    activations: ActivationsChoice = 'auto',
  ): Promise<EncoderBackends> {
    let use: ActivationsUse | null = null;
    const make = (
      cpu: ManagedBackend | null,
      gpu: ManagedBackend | null,
      auto: BackendSwitch | null,
      why: string | null,
      idle = Promise.resolve(),
      probe: 'measured' | 'stored' | null = null,
    ) => new EncoderBackends(device, cpu, gpu, auto, why, idle, modelKey, probe, use);
    if (weights.family === 'static') {
      if (device === 'webgpu') throw new UnsupportedError(STATIC_ON_CPU);
      return make(await createBackend(weights, 'cpu'), null, null, null);
    }
    if (device === 'webgpu') {
      const chosen = await activationsFor(activations, await session.acquire(), weights, modelKey);
      use = chosen;
      return make(null, await createBackend(weights, 'webgpu', session, chosen.type), null, null);
    }
    const cpu = await createBackend(weights, 'cpu');
    if (device === 'cpu') return make(cpu, null, null, null);
    const neverGpu = (auto: BackendSwitch) => SIZE_CLASSES.every((c) => auto.choices()[c].predictedMs.webgpu === null);
    let handle: GpuHandle;
    try {
      handle = await session.acquire();
    } catch (err) {
      return make(cpu, null, null, message(err));
    }
    try {
      // Where nothing is stored yet, WebGPU starts in f32 and f16 is timed only once WebGPU is chosen for
      // some call size, so an adapter where the CPU wins (a software one) never pays for it.
      use = await knownActivations(activations, handle, weights, modelKey);
    } catch (err) {
      // A forced f16 the adapter lacks: the caller's error, not a reason to fall back to the CPU.
      cpu.dispose();
      throw err;
    }
    let gpu: ManagedBackend;
    try {
      // The device first: its adapter (and the activations' type) names the stored probe, which
      // may say that no call would ever run on WebGPU (a software adapter), and then its
      // pipelines and weights are not made.
      const target = { kind: 'webgpu' as const, adapter: handle.gpu.adapter, activations: use?.type ?? 'f32' };
      const stored = await storedProbes(cpu.config, target, modelKey);
      const auto = stored && new BackendSwitch(stored, layers, '');
      if (auto && neverGpu(auto)) return make(cpu, null, auto, null, undefined, 'stored');
      gpu = await createBackend(weights, 'webgpu', session, use?.type ?? 'f32');
    } catch (err) {
      return make(cpu, null, null, message(err));
    }
    try {
      const { probes, settled, measured } = await getOrProbeBoth(cpu, { backend: gpu, target: gpu.info }, modelKey);
      const probe = measured ? 'measured' : 'stored';
      const auto = new BackendSwitch(probes, layers, '');
      if (neverGpu(auto)) {
        void settled.then(() => gpu.dispose());
        return make(cpu, null, auto, null, undefined, probe);
      }
      if (!use && SIZE_CLASSES.some((c) => auto.choices()[c].backend === 'webgpu')) {
        await settled;
        use = await activationsFor(activations, handle, weights, modelKey);
        // The f32 probes go on steering this encoder (f16 only makes WebGPU faster); the next
        // one probes with f16 under its own key.
        if (use.type === 'f16') {
          try {
            const f16 = await createBackend(weights, 'webgpu', session, 'f16');
            gpu.dispose();
            gpu = f16;
          } catch (err) {
            use = { type: 'f32', reason: `f16 ran faster when timed, but its backend failed: ${message(err)}` };
          }
        }
      }
      use ??= { type: 'f32', reason: 'f16 is timed once WebGPU is chosen for some call size, and the CPU is' };
      return make(cpu, gpu, auto, null, settled, probe);
    } catch (err) {
      // A WebGPU call that fails during the probe fails on every call after: run on the CPU.
      gpu.dispose();
      return make(cpu, null, null, message(err));
    }
  }

  /** True for a static embedder, which runs on the CPU alone (STATIC_ON_CPU). */
  get isStatic(): boolean {
    return this.cpu?.config.numLayers === 0;
  }

  /**
   * The most tokens one text may have on every backend a call may run on (WebGPU's buffers bound
   * it where it is loaded): what a prompt built to fit (a listwise reranker's) is held to.
   */
  get maxTextTokens(): number {
    return ((this.gpu ?? this.cpu) as ManagedBackend).maxTextTokens;
  }

  /** True when the WebGPU device under this set was lost: make a new set. */
  get lost(): boolean {
    return Boolean(this.gpu?.gpu?.queue.lostError);
  }

  get adapter(): GpuAdapterSummary | null {
    return this.gpu?.info.adapter ?? null;
  }

  /** WebGPU's activation type and why, while a WebGPU backend is loaded. */
  get activations(): ActivationsUse | null {
    return this.gpu ? this.gpuActivations : null;
  }

  /** The backend for a call of `batch` texts padded to `seqLen` tokens. */
  async forCall(batch: number, seqLen: number): Promise<ManagedBackend> {
    const kind = this.auto ? this.auto.backendFor(batch, seqLen) : this.only();
    if (kind === 'webgpu') await this.gpuIdle;
    return this.backend(kind);
  }

  /** Tells 'auto' how long a call took, so it can correct its choice. */
  record(backend: BackendKind, layers: number, batch: number, seqLen: number, ms: number): void {
    this.auto?.record(backend, layers, batch, seqLen, ms);
  }

  /** The backend a plan for this workload runs on, and its cost model (a forced device probes on first use). */
  async costFor(batch: number, seqLen: number): Promise<{ backend: BackendKind; cost: CostModel }> {
    if (this.auto) return this.auto.costFor(batch, seqLen);
    const kind = this.only();
    const backend = this.backend(kind);
    this.forcedProbe ??= getOrProbe(backend, backend.info, this.modelKey);
    return { backend: kind, cost: fitCostModel(await this.forcedProbe) };
  }

  /** Which backend runs each size class, and why. */
  uses(): Record<SizeClass, BackendUse> {
    if (this.auto) {
      const c = this.auto.choices();
      return {
        short: { backend: c.short.backend, reason: c.short.reason },
        batch: { backend: c.batch.backend, reason: c.batch.reason },
      };
    }
    const kind = this.only();
    const reason =
      this.device !== 'auto'
        ? `device '${this.device}' was asked for`
        : this.isStatic
          ? STATIC_ON_CPU
          : `no WebGPU: ${this.fallbackReason}`;
    return { short: { backend: kind, reason }, batch: { backend: kind, reason } };
  }

  dispose(): void {
    this.cpu?.dispose();
    const gpu = this.gpu;
    this.gpu = null;
    if (gpu) void this.gpuIdle.then(() => gpu.dispose());
  }

  private only(): BackendKind {
    return this.gpu ? 'webgpu' : 'cpu';
  }

  private backend(kind: BackendKind): ManagedBackend {
    // Never null: a forced device picks its one backend, and 'auto' drops WebGPU only when no
    // class can ever pick it (create).
    return (kind === 'webgpu' ? this.gpu : this.cpu) as ManagedBackend;
  }
}
