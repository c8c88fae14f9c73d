import { EncoderBackends } from '../engine/backends.js';
import type { GpuAdapterSummary } from '../gpu/device.js';
import { GpuSession } from '../gpu/session.js';
import type { BackendChoice, ManagedBackend } from '../model/backend.js';
import type { BackendKind } from '../model/encoder.js';
import type { PackManifest } from '../pack/manifest.js';
import { SerialQueue } from '../serial-queue.js';
import type { EncoderWeights, Quant } from '../weights/weights.js';

const adapterName = (a: GpuAdapterSummary | null) =>
  `${(a && [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')) || 'unknown adapter'}${a?.isFallback ? ' (software)' : ''}`;

/**
 * The probe key createEncoder's engine gives a model folder (`<model id>:<quantization>`, the id
 * being a pack's, else the folder's name as src/source/folder.ts takes it), so the CLI and the API
 * share one stored probe. `quant`: how a folder without a manifest was quantized on load.
 */
export const probeModelKey = (folder: string, manifest: PackManifest | undefined, quant: Quant) =>
  `${manifest?.id ?? folder.split(/[\\/]/).filter(Boolean).pop() ?? folder}:${manifest?.quantization.linear ?? quant}`;

/**
 * The forward backends of a CLI command, chosen as createEncoder's engine chooses them
 * (EncoderBackends): `--backend auto` probes both on this adapter and model once (stored under
 * M3WEB_CACHE_DIR, so later runs measure nothing) and runs each call on the backend predicted
 * faster for its size, trying the other (and keeping the faster) if calls disagree with the probe.
 */
export class CliBackends {
  /** One call at a time, as the engine runs them: a call's time is then its own, not a wait for others. */
  private readonly queue = new SerialQueue();

  private constructor(
    private readonly backends: EncoderBackends,
    private readonly session: GpuSession,
    private readonly device: BackendChoice,
    /** How long choosing took: making the backends, and the probe when one ran. */
    readonly openMs: number,
  ) {}

  /** `modelKey`: probeModelKey's; `layers`: the depth calls run at. */
  static async open(weights: EncoderWeights, device: BackendChoice, modelKey: string, layers: number): Promise<CliBackends> {
    const start = performance.now();
    const session = new GpuSession();
    try {
      const backends = await EncoderBackends.create(weights, device, session, modelKey, layers);
      // Without WebGPU the session is of no use; closing it now also takes the rejected device
      // promise it keeps, which Node would otherwise report as unhandled and exit on.
      if (backends.fallbackReason !== null) session.dispose();
      return new CliBackends(backends, session, device, performance.now() - start);
    } catch (err) {
      session.dispose();
      throw err;
    }
  }

  /**
   * Runs `call` on the backend for `tokens`' size, after the calls before it, and tells 'auto' how
   * long it took at `layers`.
   */
  run<T>(tokens: readonly number[][], layers: number, call: (backend: ManagedBackend) => Promise<T>): Promise<T> {
    const seqLen = Math.max(...tokens.map((t) => t.length));
    return this.queue.run(async () => {
      const backend = await this.backends.forCall(tokens.length, seqLen);
      const start = performance.now();
      const out = await call(backend);
      this.backends.record(backend.kind, layers, tokens.length, seqLen, performance.now() - start);
      return out;
    });
  }

  /** Where calls run, in a few words: the one stderr line every run prints. */
  summary(): string {
    const uses = this.backends.uses();
    const where = (kind: BackendKind) => (kind === 'webgpu' ? `webgpu on ${adapterName(this.backends.adapter)}` : 'cpu');
    if (this.device !== 'auto') return where(uses.short.backend);
    if (this.backends.fallbackReason !== null) return `cpu (WebGPU not used: ${this.backends.fallbackReason})`;
    if (this.backends.isStatic) return `cpu (${uses.short.reason})`;
    if (uses.short.backend === uses.batch.backend) return `${where(uses.short.backend)} (auto: the faster here, by measurement)`;
    return `auto: ${where(uses.short.backend)} for one short text, ${where(uses.batch.backend)} for batches`;
  }

  /** Why each size class runs where it does, and where the probe came from: for --verbose. */
  reasons(): string[] {
    if (this.device !== 'auto' || this.backends.fallbackReason !== null) return [];
    const uses = this.backends.uses();
    const probe =
      this.backends.probe === 'stored'
        ? 'probe: read from the cache (M3WEB_CACHE_DIR)'
        : `probe: measured now (${this.openMs.toFixed(0)} ms with making the backends), then stored`;
    const activations = this.backends.activations;
    return [
      probe,
      `short texts: ${uses.short.reason}`,
      `batches: ${uses.batch.reason}`,
      ...(activations ? [`WebGPU activations: ${activations.type}, ${activations.reason}`] : []),
    ];
  }

  dispose(): void {
    this.backends.dispose();
    this.session.dispose();
  }
}
