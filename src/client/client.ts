import { proxy, type Remote, releaseProxy, wrap } from 'comlink';
import type { Budget, Plan } from '../budget/index.js';
import { EncoderCore } from '../engine/encoder-core.js';
import { DisposedError, InputError, M3WebError } from '../errors.js';
import { openModel } from '../source/open-model.js';
import type { EmbedOptions, EmbedResult, EncoderInfo, EncoderOptions } from '../types.js';
import { installErrorTransfer } from '../worker/protocol.js';
import type { WorkerApi } from '../worker/worker.js';

export type { Budget, Plan } from '../budget/index.js';
export type * from '../types.js';

/** What createEncoder returns, in the page (a worker does the work) and in Node (in-process). */
export interface Encoder {
  /** One vector per text, in input order; texts past the model's limit are truncated. */
  embed(texts: string[], options?: EmbedOptions): Promise<Float32Array[]>;
  /** The same, plus each text's token count and whether it was truncated. */
  embedDetailed(texts: string[], options?: EmbedOptions): Promise<EmbedResult>;
  info(): Promise<EncoderInfo>;
  /**
   * The (layers, dims) with the best measured quality whose predicted latency, memory and bytes per
   * vector fit `budget` on this device; `fits: false` with the cheapest plan when nothing does.
   */
  plan(budget?: Budget): Promise<Plan>;
  /**
   * Destroys the GPU device as a driver reset or a long background tab would. The call in flight
   * rejects with GPU_DEVICE_LOST and the next one creates a new device: lets an app test its
   * recovery path.
   */
  simulateDeviceLoss(): Promise<void>;
  /** Stops the worker (or frees the GPU device); later calls reject with DisposedError. */
  dispose(): Promise<void>;
}

const abortError = () => new M3WebError('ABORTED', 'the call was aborted');

function checkOptions(options: unknown): asserts options is EncoderOptions {
  if (typeof options !== 'object' || options === null)
    throw new InputError('createEncoder needs an options object: { model, device?, onProgress? }');
  const o = options as EncoderOptions;
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new InputError('onProgress must be a function');
}

/** Rejects as soon as `signal` aborts, even while the worker is still busy with the call. */
function abortable<T>(call: Promise<T>, signal: AbortSignal | undefined, onAbort: () => void): Promise<T> {
  if (!signal) return call;
  if (signal.aborted) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    const stop = () => {
      onAbort();
      reject(abortError());
    };
    signal.addEventListener('abort', stop, { once: true });
    call.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}

class WorkerEncoder implements Encoder {
  private nextCall = 1;
  private disposed = false;

  constructor(
    private readonly worker: Worker,
    private readonly remote: Remote<WorkerApi>,
  ) {}

  async embed(texts: string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    return (await this.embedDetailed(texts, options)).vectors;
  }

  embedDetailed(texts: string[], options: EmbedOptions = {}): Promise<EmbedResult> {
    if (this.disposed) return Promise.reject(new DisposedError('This encoder'));
    const { signal, ...rest } = options ?? {};
    const id = this.nextCall++;
    return abortable(this.remote.embedDetailed(id, texts, rest), signal, () => void this.remote.abort(id));
  }

  info(): Promise<EncoderInfo> {
    if (this.disposed) return Promise.reject(new DisposedError('This encoder'));
    return this.remote.info();
  }

  plan(budget: Budget = {}): Promise<Plan> {
    if (this.disposed) return Promise.reject(new DisposedError('This encoder'));
    return this.remote.plan(budget);
  }

  simulateDeviceLoss(): Promise<void> {
    if (this.disposed) return Promise.reject(new DisposedError('This encoder'));
    return this.remote.simulateDeviceLoss();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.remote[releaseProxy]();
    this.worker.terminate();
  }
}

class LocalEncoder implements Encoder {
  constructor(private readonly core: EncoderCore) {}

  embed(texts: string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    return this.core.embed(texts, options);
  }

  embedDetailed(texts: string[], options: EmbedOptions = {}): Promise<EmbedResult> {
    return this.core.embedDetailed(texts, options);
  }

  async info(): Promise<EncoderInfo> {
    return this.core.info();
  }

  plan(budget: Budget = {}): Promise<Plan> {
    return this.core.plan(budget);
  }

  async simulateDeviceLoss(): Promise<void> {
    this.core.simulateDeviceLoss();
  }

  async dispose(): Promise<void> {
    this.core.dispose();
  }
}

async function createInProcess(options: EncoderOptions): Promise<Encoder> {
  const handle = await openModel(options.model, {
    ...(options.layers === undefined ? {} : { layers: options.layers }),
    ...(options.cache === undefined ? {} : { cache: options.cache }),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  return new LocalEncoder(await EncoderCore.create(handle, options.device ?? 'auto'));
}

/**
 * Loads a model and returns an encoder. In a page the model, tokenizer, GPU device and cache live
 * in a dedicated module Worker, so encoding never blocks the UI; in Node (or where Worker is
 * missing) the same work runs in-process, on Dawn for WebGPU.
 */
export async function createEncoder(options: EncoderOptions): Promise<Encoder> {
  checkOptions(options);
  if (typeof Worker === 'undefined' || typeof window === 'undefined') return createInProcess(options);
  installErrorTransfer();
  const worker = new Worker(new URL('../worker/worker.js', import.meta.url), { type: 'module', name: 'm3web' });
  const failed = new Promise<never>((_, reject) => {
    worker.addEventListener(
      'error',
      (e) => reject(new M3WebError('UNSUPPORTED', `the m3web worker failed to start: ${e.message || 'script error'}`)),
      { once: true },
    );
  });
  const remote = wrap<WorkerApi>(worker);
  const { onProgress, ...rest } = options;
  try {
    const model = typeof rest.model === 'string' ? new URL(rest.model, location.href).href : rest.model;
    await Promise.race([remote.init({ ...rest, model }, onProgress ? proxy(onProgress) : undefined), failed]);
  } catch (err) {
    worker.terminate();
    throw err;
  }
  return new WorkerEncoder(worker, remote);
}
