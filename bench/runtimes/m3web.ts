/** m3web as a benchmark runtime, through the public API (tokenizer and worker included). */
import { createEncoder, type Encoder } from '../../src/index.js';
import type { EmbedFn } from '../measure.js';

export interface M3webRuntime {
  encoder: Encoder;
  adapter: string;
  /** Embeds at the given (layers, dims); full depth and width when omitted. */
  at(point?: { layers: number; dims: number }): EmbedFn;
}

/** `shared`: true runs a CPU encoder in a SharedWorker, on one thread (the single-thread figure). */
export async function openM3web(model: string, device: 'webgpu' | 'cpu', shared?: boolean): Promise<M3webRuntime> {
  const encoder = await createEncoder({ model, device, ...(shared === undefined ? {} : { shared }) });
  const info = await encoder.info();
  if (info.backend !== device)
    throw new Error(`m3web asked for ${device} but runs on ${info.backend}: ${info.fallbackReason ?? ''}`);
  const adapter = info.adapter ? `${info.adapter.vendor} ${info.adapter.architecture} ${info.adapter.description}`.trim() : 'cpu';
  return { encoder, adapter, at: (point) => (texts) => encoder.embed(texts, point ?? {}) };
}
