/** transformers.js (`feature-extraction`, mean or last-token pooling, normalised) as a benchmark runtime. */
import { env, type FeatureExtractionPipeline, pipeline } from '@huggingface/transformers';
import type { EmbedFn } from '../measure.js';

export type TransformersDevice = 'webgpu' | 'wasm' | 'cpu';

export interface TransformersRuntime {
  embed: EmbedFn;
  dispose(): Promise<void>;
}

/**
 * `localModelPath` is a folder (Node) or URL prefix (browser) holding `<modelId>/` with config,
 * tokenizer and onnx/; nothing is fetched from the Hugging Face hub. `wasmPaths` points
 * onnxruntime-web at locally served runtime files instead of its CDN default: a URL prefix, or
 * the {mjs, wasm} pair transformers.js also caches in Cache Storage.
 */
export async function openTransformers(options: {
  modelId: string;
  localModelPath: string;
  device: TransformersDevice;
  dtype: 'fp32' | 'q8' | 'q4';
  pooling?: 'mean' | 'last_token';
  wasmPaths?: string | { mjs: string; wasm: string };
}): Promise<TransformersRuntime> {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = options.localModelPath;
  const wasm = env.backends.onnx?.wasm;
  if (options.wasmPaths && wasm) wasm.wasmPaths = options.wasmPaths;
  const pipe: FeatureExtractionPipeline = await pipeline('feature-extraction', options.modelId, {
    device: options.device,
    dtype: options.dtype,
  });
  return {
    embed: async (texts) => {
      const out = await pipe(texts, { pooling: options.pooling ?? 'mean', normalize: true });
      const [n, d] = out.dims as [number, number];
      const data = out.data as Float32Array;
      return Array.from({ length: n }, (_, i) => data.subarray(i * d, (i + 1) * d));
    },
    dispose: () => pipe.dispose(),
  };
}
