import { type Budget, type DeviceProbe, fitCostModel, getOrProbe, type Plan, planBudget } from '../budget/index.js';
import { DisposedError, InputError, M3WebError } from '../errors.js';
import type { GpuSession } from '../gpu/session.js';
import { type BackendChoice, createBackend, type ManagedBackend } from '../model/backend.js';
import { SerialQueue } from '../serial-queue.js';
import type { ModelHandle } from '../source/model-source.js';
import { checkText } from '../tokenizer/check-text.js';
import type { DeviceChoice, EmbedOptions, EmbedResult, EncoderInfo } from '../types.js';
import type { Quant } from '../weights/weights.js';

/** Texts per backend call: bounds the latency of an abort and the size of one GPU submission. */
const CHUNK_TEXTS = 256;
/**
 * Characters kept before tokenizing. A text this long is far past any model's token limit, so
 * cutting it first only saves tokenizer time on megabyte-sized input, never changes the ids.
 */
const CHARS_PER_TOKEN_LIMIT = 64;

const abortError = () => new M3WebError('ABORTED', 'the call was aborted');

function checkTexts(texts: unknown): asserts texts is string[] {
  if (!Array.isArray(texts))
    throw new InputError(`texts must be an array of strings, got ${texts === null ? 'null' : typeof texts}`);
  if (texts.length === 0) throw new InputError('texts is empty: pass at least one string');
  for (const [i, t] of texts.entries()) checkText(t, `texts[${i}]`);
}

function checkChoice(name: string, value: unknown, allowed: readonly number[]): void {
  if (!allowed.includes(value as number)) {
    throw new InputError(`${name} must be one the model was trained for (${allowed.join(', ')}), got ${JSON.stringify(value)}`);
  }
}

/** What the encoder itself knows of EncoderInfo; the engine adds how it is shared. */
export type CoreInfo = Omit<EncoderInfo, 'engine'>;

/**
 * The encoder behind createEncoder: runs in the engine (a worker in the browser, in-process in
 * Node). Owns the model, the tokenizer and the backend, whose GPU device comes from the engine's
 * session (shared with the engine's indexes); every call goes through one queue, so concurrent
 * callers wait their turn instead of racing for a half-loaded model.
 */
export class EncoderCore {
  private backend: ManagedBackend | null = null;
  private readonly queue = new SerialQueue(() => this.checkAlive());
  private disposed = false;
  private probe: Promise<DeviceProbe> | undefined;

  private constructor(
    private readonly handle: ModelHandle,
    private readonly device: DeviceChoice,
    private readonly session: GpuSession,
  ) {}

  static async create(handle: ModelHandle, device: DeviceChoice, session: GpuSession): Promise<EncoderCore> {
    if (!['auto', 'webgpu', 'cpu'].includes(device))
      throw new InputError(`device must be auto, webgpu or cpu, got ${JSON.stringify(device)}`);
    const core = new EncoderCore(handle, device, session);
    await core.ensureBackend();
    return core;
  }

  /** The model this encoder runs. */
  get model(): ModelHandle['info'] {
    return this.handle.info;
  }

  /** Where the encoder runs now ('webgpu' until the first backend says otherwise). */
  get backendKind(): 'webgpu' | 'cpu' {
    return this.backend?.info.kind ?? (this.device === 'cpu' ? 'cpu' : 'webgpu');
  }

  info(): CoreInfo {
    this.checkAlive();
    const b = this.backend;
    return {
      model: this.handle.info,
      backend: b?.info.kind ?? (this.device === 'cpu' ? 'cpu' : 'webgpu'),
      adapter: b?.info.adapter ?? null,
      fallbackReason: b?.info.fallbackReason ?? null,
      loadedLayers: this.handle.model.weights.layers.length,
      fromCache: this.handle.fromCache,
    };
  }

  embedDetailed(texts: unknown, options: EmbedOptions = {}): Promise<EmbedResult> {
    this.checkAlive();
    checkTexts(texts);
    const { info } = this.handle;
    const layers = options.layers ?? Math.max(...info.exits);
    const dims = options.dims ?? Math.max(...info.dims);
    checkChoice('layers', layers, info.exits);
    checkChoice('dims', dims, info.dims);
    if (options.kind !== undefined && options.kind !== 'query' && options.kind !== 'passage') {
      throw new InputError(`kind must be "query" or "passage", got ${JSON.stringify(options.kind)}`);
    }
    const normalize = options.normalize ?? true;
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortError());
    return this.queued(async () => {
      if (signal?.aborted) throw abortError();
      if (await this.handle.ensureLayers(layers)) await this.resetBackend();
      const backend = await this.ensureBackend();
      const { tokenizer } = this.handle.model;
      const { maxTokens } = this.handle.model.config;
      const prefix = (options.kind && info.prefixes[options.kind]) ?? '';
      const tokens: number[][] = [];
      const truncated: boolean[] = [];
      for (const text of texts) {
        const limit = maxTokens * CHARS_PER_TOKEN_LIMIT;
        const enc = tokenizer.encode(prefix + (text.length > limit ? text.slice(0, limit) : text), maxTokens);
        tokens.push(enc.ids);
        truncated.push(enc.truncated);
      }
      const vectors: Float32Array[] = [];
      for (let i = 0; i < tokens.length; i += CHUNK_TEXTS) {
        if (signal?.aborted) throw abortError();
        vectors.push(
          ...(await this.run(backend, tokens.slice(i, i + CHUNK_TEXTS), { layers, dims, pooling: info.pooling, normalize })),
        );
      }
      return { vectors, tokens: tokens.map((t) => t.length), truncated };
    });
  }

  async embed(texts: unknown, options: EmbedOptions = {}): Promise<Float32Array[]> {
    return (await this.embedDetailed(texts, options)).vectors;
  }

  /**
   * The (layers, dims) with the best measured quality that fits `budget` on this device. The first
   * call probes the device (a short timed run of one layer), cached per adapter in IndexedDB.
   */
  plan(budget: Budget = {}): Promise<Plan> {
    this.checkAlive();
    return this.queued(async () => {
      const backend = await this.ensureBackend();
      const { info } = this.handle;
      this.probe ??= getOrProbe(backend, backend.info, `${info.id}:${info.quantization}`);
      const cost = fitCostModel(await this.probe);
      const quant = info.quantization as Quant;
      return planBudget(
        {
          exits: info.exits,
          dims: info.dims,
          config: this.handle.model.config,
          quantization: { linear: quant, embeddings: quant },
          maxTokens: info.maxTokens,
          ...(info.quality ? { quality: info.quality } : {}),
        },
        cost,
        budget,
      );
    });
  }

  /** Destroys the GPU device now, as a driver reset would; the next call recovers. */
  async simulateDeviceLoss(): Promise<void> {
    this.checkAlive();
    await this.session.loseDevice();
  }

  /** The backend, for the budget probe. */
  currentBackend(): Promise<ManagedBackend> {
    return this.queued(() => this.ensureBackend());
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.backend?.dispose();
    this.backend = null;
  }

  private checkAlive(): void {
    if (this.disposed) throw new DisposedError('This encoder');
  }

  private queued<T>(job: () => Promise<T>): Promise<T> {
    return this.queue.run(job);
  }

  /**
   * A lost GPU device fails the call that saw it; dropping the backend here makes the next call
   * create a new device and upload the weights again.
   */
  private async run(
    backend: ManagedBackend,
    tokens: number[][],
    options: Parameters<ManagedBackend['embed']>[1],
  ): Promise<Float32Array[]> {
    try {
      return await backend.embed(tokens, options);
    } catch (err) {
      if (err instanceof M3WebError && err.code === 'GPU_DEVICE_LOST') await this.resetBackend();
      throw err;
    }
  }

  private async resetBackend(): Promise<void> {
    this.backend?.dispose();
    this.backend = null;
    this.probe = undefined;
  }

  /** The backend, rebuilt when its device was lost (by this encoder's call or an index's). */
  private async ensureBackend(): Promise<ManagedBackend> {
    if (this.backend?.gpu?.queue.lostError) await this.resetBackend();
    this.backend ??= await createBackend(this.handle.model.weights, this.device as BackendChoice, this.session);
    return this.backend;
  }
}
