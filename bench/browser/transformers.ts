/**
 * transformers.js's benchmark page:
 * ?models=<URL prefix>&model=<id>&device=webgpu|wasm&dtype=fp32|q8&ort=<onnxruntime-web dist URL>&text=<probe text>.
 */
import { openTransformers } from '../runtimes/transformers.js';
import { publishBench } from './page.js';

publishBench(async (query) => {
  const ort = query.get('ort') ?? '';
  const t = await openTransformers({
    modelId: query.get('model') ?? '',
    localModelPath: query.get('models') ?? '',
    device: query.get('device') === 'wasm' ? 'wasm' : 'webgpu',
    dtype: query.get('dtype') === 'q8' ? 'q8' : 'fp32',
    // The build transformers.js picks by default (asyncify, WebGPU and wasm in one), served here
    // instead of from its CDN; as {mjs, wasm} URLs it keeps its default of caching them in Cache Storage.
    wasmPaths: { mjs: `${ort}ort-wasm-simd-threaded.asyncify.mjs`, wasm: `${ort}ort-wasm-simd-threaded.asyncify.wasm` },
  });
  return { embed: t.embed };
});
