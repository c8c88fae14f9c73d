/**
 * Engine internals for tools, benchmarks and experiments: forward backends, GPU context, pack
 * readers and writers, the cache and the budget planner's parts. Not covered by semver: the
 * public API is the package's main entry.
 */
export * from './budget/index.js';
export { type HfModelFiles, type LoadedModel, type LoadOptions, loadHfModel } from './checkpoint/load.js';
export {
  type ByteSource,
  blobSource,
  SafetensorsReader,
  ShardedTensors,
  safetensorsBytes,
  type TensorSource,
} from './checkpoint/safetensors.js';
export {
  cpuTeacher,
  type DistillOptions,
  distillStatic,
  type StaticTable,
  type Teacher,
} from './distill/static-distill.js';
export type { GpuAdapterSummary, GpuContext, GpuContextOptions } from './gpu/device.js';
export { createGpuContext } from './gpu/device.js';
export { type BackendChoice, type BackendInfo, createBackend, type ManagedBackend } from './model/backend.js';
export { CpuEncoder } from './model/cpu.js';
export type { BackendKind, EncoderBackend, ForwardOptions } from './model/encoder.js';
export { GpuEncoder } from './model/gpu.js';
export { convertCheckpointTo } from './pack/convert.js';
export { type PackManifest, parseManifest, type QualityRow, type QualityTable, shardsFor } from './pack/manifest.js';
export { modelFromPack } from './pack/model.js';
export { extendPackWeights, packLayers, packWeights } from './pack/read.js';
export { memorySink, type PackSink, streamPack, writePack } from './pack/write.js';
export * from './store/index.js';
export { type EncodedText, TextTokenizer } from './tokenizer/tokenizer.js';
export type { ConfigOptions, EncoderConfig, ExitNorm, ModelType, ModernBertSpec, Pooling } from './weights/config.js';
export { EXIT_NORMS, parseHfConfig } from './weights/config.js';
export type { DecoderSpec } from './weights/decoder-config.js';
export {
  type BertWeights,
  type DecoderWeights,
  type DenseModule,
  type EncoderWeights,
  type ModernBertWeights,
  QUANTS,
  type Quant,
  type StaticWeights,
} from './weights/weights.js';
