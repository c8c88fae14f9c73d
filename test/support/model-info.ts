import type { ModelInfo } from '../../src/types.js';

/** What an index needs to know of a model, for test encoders: a 2-layer, 8-wide f32 model unless overridden. */
export function modelInfo(overrides: Partial<ModelInfo> = {}): ModelInfo {
  return {
    id: 'test',
    source: 'test',
    layers: 2,
    hiddenSize: 8,
    exits: [2],
    dims: [8],
    pooling: 'mean',
    maxTokens: 64,
    quantization: 'f32',
    prefixes: {},
    quality: null,
    ...overrides,
  };
}
