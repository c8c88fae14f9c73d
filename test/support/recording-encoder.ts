import type { IndexEncoder } from '../../src/search/types.js';
import type { EmbedOptions, EmbedResult } from '../../src/types.js';
import { modelInfo } from './model-info.js';

export interface Call {
  texts: string[];
  kind: EmbedOptions['kind'];
}

/**
 * An encoder of a model with query and passage prefixes that records each call's texts and kind:
 * vectors follow the text's length, so what was embedded, and as what, can be checked.
 */
export function recordingEncoder(): IndexEncoder & { calls: Call[] } {
  const calls: Call[] = [];
  const model = modelInfo({ id: 'prefixed', prefixes: { query: '[Q]', passage: '[P]' } });
  return {
    calls,
    info: () => ({ model, backend: 'cpu' }),
    async embedDetailed(texts: string[], options?: EmbedOptions): Promise<EmbedResult> {
      calls.push({ texts, kind: options?.kind });
      const vectors = texts.map((t) => {
        const v = Float32Array.from({ length: 8 }, (_, i) => Math.cos((t.length + 1) * (i + 1)) + 1e-3);
        const n = Math.hypot(...v);
        return v.map((x) => x / n);
      });
      return { vectors, tokens: texts.map(() => 4), truncated: texts.map(() => false), layers: texts.map(() => 2) };
    },
  };
}
