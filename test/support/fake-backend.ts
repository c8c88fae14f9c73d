import { type DeviceProbe, probeCacheKey } from '../../src/budget/index.js';
import type { GpuAdapterSummary } from '../../src/gpu/device.js';
import type { BackendKind, EncoderBackend } from '../../src/model/encoder.js';
import { bertConfig } from './random.js';

/** The small BERT shape the fake backends report. */
const config = bertConfig({ hiddenSize: 64, numHeads: 4, intermediateSize: 128, numLayers: 4, vocabSize: 1000 });

/** A backend whose embed advances a shared fake clock by `timing`, noting each call under `name`. */
export function fakeBackend(
  kind: BackendKind,
  clock: { now: number; calls: string[] },
  timing: (l: number, b: number, s: number) => number,
  name: string = kind,
) {
  const backend: EncoderBackend = {
    kind,
    config,
    loadedLayers: 4,
    maxTextTokens: config.maxTokens,
    async embed(tokens, o) {
      const seqLen = tokens[0]?.length ?? 0;
      clock.calls.push(`${name} ${o.layers}L ${tokens.length}x${seqLen}`);
      clock.now += timing(o.layers, tokens.length, seqLen);
      return tokens.map(() => new Float32Array(o.dims));
    },
    embedAdaptive: () => Promise.reject(new Error('unused')),
    pooledAtExits: () => Promise.reject(new Error('unused')),
    hiddenStates: () => Promise.reject(new Error('unused')),
    tokenVectors: () => Promise.reject(new Error('unused')),
    embedWithScores: () => Promise.reject(new Error('unused')),
    spladeVectors: () => Promise.reject(new Error('unused')),
    dispose() {},
  };
  return backend;
}

export const ADAPTER: GpuAdapterSummary = { vendor: 'v', architecture: 'a', device: 'd', description: 'x', isFallback: false };
export const SHAPES = [
  { batch: 1, seqLen: 16 },
  { batch: 1, seqLen: 128 },
  { batch: 8, seqLen: 128 },
];
/** Latency as fixed + layers × per-token cost, the form the cost model fits. */
export type Timing = { fixed: number; perToken: number };
export const ms = (t: Timing, layers: number, batch: number, seqLen: number) => t.fixed + layers * t.perToken * batch * seqLen;

/** A stored probe of `kind` whose SHAPES at 1 and 2 layers took what `t` says. */
export function probe(kind: BackendKind, t: Timing, extra: Partial<DeviceProbe> = {}): DeviceProbe {
  const target = { kind, adapter: kind === 'webgpu' ? ADAPTER : null };
  return {
    version: 2,
    key: probeCacheKey(target),
    kind,
    adapter: target.adapter,
    measured: [1, 2].flatMap((layers) => SHAPES.map((s) => ({ layers, ...s, ms: ms(t, layers, s.batch, s.seqLen) }))),
    createdAt: Date.now(),
    ...extra,
  };
}
