import { expose, transfer } from 'comlink';
import type { Budget, Plan } from '../budget/index.js';
import { EncoderCore } from '../engine/encoder-core.js';
import { DisposedError, M3WebError } from '../errors.js';
import { openModel } from '../source/open-model.js';
import type { EmbedOptions, EmbedResult, EncoderInfo, EncoderOptions, LoadProgress } from '../types.js';
import { installErrorTransfer } from './protocol.js';

installErrorTransfer();

let core: EncoderCore | null = null;
const calls = new Map<number, AbortController>();

function ready(): EncoderCore {
  if (!core) throw new M3WebError('INVALID_INPUT', 'the encoder worker has no model yet');
  return core;
}

/** What the page's client calls through comlink; vectors come back transferred, not copied. */
const api = {
  async init(options: Omit<EncoderOptions, 'onProgress'>, onProgress?: (p: LoadProgress) => void): Promise<EncoderInfo> {
    if (core) throw new DisposedError('This worker already holds a model;');
    const handle = await openModel(options.model, {
      ...(options.layers === undefined ? {} : { layers: options.layers }),
      ...(options.cache === undefined ? {} : { cache: options.cache }),
      ...(onProgress ? { onProgress } : {}),
    });
    core = await EncoderCore.create(handle, options.device ?? 'auto');
    return core.info();
  },
  async embedDetailed(callId: number, texts: unknown, options: Omit<EmbedOptions, 'signal'>): Promise<EmbedResult> {
    const controller = new AbortController();
    calls.set(callId, controller);
    try {
      const result = await ready().embedDetailed(texts, { ...options, signal: controller.signal });
      return transfer(result, [...new Set(result.vectors.map((v) => v.buffer as ArrayBuffer))]);
    } finally {
      calls.delete(callId);
    }
  },
  abort(callId: number): void {
    calls.get(callId)?.abort();
  },
  info(): EncoderInfo {
    return ready().info();
  },
  plan(budget: Budget): Promise<Plan> {
    return ready().plan(budget);
  },
  simulateDeviceLoss(): void {
    ready().simulateDeviceLoss();
  },
  dispose(): void {
    core?.dispose();
  },
};

export type WorkerApi = typeof api;

expose(api);
