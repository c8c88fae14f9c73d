import type { BackendKind, EncoderBackend } from '../../src/model/encoder.js';
import { bertConfig } from './random.js';

/** The small BERT shape the fake backends report. */
const config = bertConfig({ hiddenSize: 64, numHeads: 4, intermediateSize: 128, numLayers: 4, vocabSize: 1000 });

/** A backend whose embed advances a shared fake clock by `timing`, noting each call. */
export function fakeBackend(
  kind: BackendKind,
  clock: { now: number; calls: string[] },
  timing: (l: number, b: number, s: number) => number,
) {
  const backend: EncoderBackend = {
    kind,
    config,
    loadedLayers: 4,
    async embed(tokens, o) {
      const seqLen = tokens[0]?.length ?? 0;
      clock.calls.push(`${kind} ${o.layers}L ${tokens.length}x${seqLen}`);
      clock.now += timing(o.layers, tokens.length, seqLen);
      return tokens.map(() => new Float32Array(o.dims));
    },
    embedAdaptive: () => Promise.reject(new Error('unused')),
    pooledAtExits: () => Promise.reject(new Error('unused')),
    hiddenStates: () => Promise.reject(new Error('unused')),
    dispose() {},
  };
  return backend;
}
