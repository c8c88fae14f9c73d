import { ModelFormatError } from '../errors.js';
import {
  type EncoderConfig,
  type LateInteractionSpec,
  type ListwiseSpec,
  parseHfConfig,
  readsSegmentTypes,
} from '../weights/config.js';
import type { DecoderSpec } from '../weights/decoder-config.js';
import { QuantizedEmbeddingTable } from '../weights/embedding-table.js';
import { embeddingWidth, groupStart, isMoeLayer, projectionShapes } from '../weights/shapes.js';
import {
  type BertLayer,
  type ClassifierHead,
  type DecoderLayer,
  type DenseModule,
  type EmbeddingTable,
  type EncoderWeights,
  F32EmbeddingTable,
  type LayerNormParams,
  type Linear,
  type MlmHead,
  type ModernBertLayer,
  type Projection,
} from '../weights/weights.js';
import { matrixBytes, scaleCount } from './layout.js';
import type { PackManifest, ShardEntry, TensorEntry } from './manifest.js';
import type { LINEARS, RMS_NORMS } from './write.js';

/** Typed views over one shard's tensors, each checked against the shape and dtype it claims. */
class ShardView {
  private readonly byName: Map<string, TensorEntry>;

  constructor(
    private readonly shard: ShardEntry,
    private readonly bytes: Uint8Array,
  ) {
    if (bytes.length !== shard.bytes)
      throw new ModelFormatError(`${shard.file}: ${bytes.length} bytes, manifest says ${shard.bytes}`);
    // Typed views need 4-byte alignment; bytes straight from fetch or IndexedDB start at 0 anyway.
    if (bytes.byteOffset % 4 !== 0) this.bytes = bytes.slice();
    this.byName = new Map(shard.tensors.map((t) => [t.name, t]));
  }

  private entry(name: string): TensorEntry {
    const t = this.byName.get(name);
    if (!t) throw new ModelFormatError(`${this.shard.file}: missing tensor "${name}"`);
    return t;
  }

  private raw(t: TensorEntry): Uint8Array {
    return this.bytes.subarray(t.offset, t.offset + t.bytes);
  }

  /** The shape a tensor's entry declares (checked again when it is read). */
  shape(name: string): number[] {
    return this.entry(name).shape;
  }

  f32(name: string, shape: number[]): Float32Array {
    const t = this.entry(name);
    const count = shape.reduce((a, b) => a * b, 1);
    if (t.dtype !== 'f32' || t.shape.join() !== shape.join() || t.bytes !== count * 4) {
      throw new ModelFormatError(
        `${this.shard.file}: tensor "${name}" is ${t.dtype} [${t.shape}] (${t.bytes} bytes), expected f32 [${shape}]`,
      );
    }
    const raw = this.raw(t);
    return new Float32Array(raw.buffer, raw.byteOffset, count);
  }

  linear(name: string, rows: number, cols: number, withBias = true): Linear {
    const t = this.entry(`${name}.weight`);
    if (t.shape.join() !== [rows, cols].join() || t.bytes !== matrixBytes(t.dtype, rows, cols)) {
      throw new ModelFormatError(
        `${this.shard.file}: tensor "${name}.weight" is ${t.dtype} [${t.shape}] (${t.bytes} bytes), expected [${rows},${cols}]`,
      );
    }
    const scales = scaleCount(t.dtype, rows, cols);
    return {
      quant: t.dtype,
      rows,
      cols,
      data: this.raw(t),
      ...(scales ? { scales: this.f32(`${name}.scales`, [scales]) } : {}),
      bias: withBias ? this.f32(`${name}.bias`, [rows]) : new Float32Array(0),
    };
  }

  norm(name: string, h: number): LayerNormParams {
    return { gamma: this.f32(`${name}.gamma`, [h]), beta: this.f32(`${name}.beta`, [h]) };
  }
}

function bytesOf(files: ReadonlyMap<string, Uint8Array>, file: string): Uint8Array {
  const bytes = files.get(file);
  if (!bytes) throw new ModelFormatError(`pack file ${file} was not loaded`);
  return bytes;
}

/** The HF config of a pack as the runtime reads it, its manifest's exit convention included. */
export function packConfig(manifest: PackManifest): EncoderConfig {
  return parseHfConfig(manifest.config, manifest.exitNorm ? { exitNorm: manifest.exitNorm } : {});
}

/**
 * Layers [from, to) out of the pack's layer shards (which must all be in `files`), projections
 * shaped by projectionShapes. ModernBERT has no attention norm in layer 0; decoder layers carry
 * RMSNorm factors instead of LayerNorms.
 */
export function packLayers(
  manifest: PackManifest,
  config: EncoderConfig,
  files: ReadonlyMap<string, Uint8Array>,
  from: number,
  to: number,
  loaded: readonly (BertLayer | ModernBertLayer | DecoderLayer)[] = [],
): (BertLayer | ModernBertLayer | DecoderLayer)[] {
  const H = config.hiddenSize;
  const modern = config.modern !== undefined;
  const out: (BertLayer | ModernBertLayer | DecoderLayer)[] = [];
  for (let l = from; l < to; l++) {
    // A layer sharing its group's weights (config.layerGroups) is that group's first layer, the same object.
    const first = groupStart(config, l);
    if (first !== l) {
      out.push((first < from ? loaded[first] : out[first - from]) as BertLayer);
      continue;
    }
    const shapes = projectionShapes(config, l);
    const shard = manifest.shards.find((s) => s.layers && s.layers[0] <= l && l < s.layers[1]) as ShardEntry;
    const view = new ShardView(shard, bytesOf(files, shard.file));
    const at = `layer.${l}`;
    const linear = (k: (typeof LINEARS)[number]) => view.linear(`${at}.${k}`, ...shapes[k]);
    if (config.decoder) {
      out.push(decoderLayer(view, at, config, config.decoder, linear));
      continue;
    }
    const lora = config.lora;
    out.push({
      qkv: linear('qkv'),
      attnOut: linear('attnOut'),
      attnNorm: modern && l === 0 ? null : view.norm(`${at}.attnNorm`, H),
      ffnIn: linear('ffnIn'),
      ffnOut: linear('ffnOut'),
      ffnNorm: view.norm(`${at}.ffnNorm`, H),
      ...(config.gatedBert?.qkPostNorm
        ? { qNorm: view.norm(`${at}.qNorm`, H), kNorm: view.norm(`${at}.kNorm`, H), preFfnNorm: view.norm(`${at}.preFfnNorm`, H) }
        : {}),
      ...(config.moe && isMoeLayer(config, l)
        ? {
            experts: {
              router: {
                ...view.linear(`${at}.router`, config.moe.experts, H, false),
                bias: new Float32Array(config.moe.experts),
              },
              bias: view.f32(`${at}.experts.bias`, [H]),
            },
          }
        : {}),
      ...(lora
        ? {
            adapters: Object.fromEntries(
              Object.entries(shapes).map(([k, [rows, cols]]) => {
                const [tasks, rank] = [lora.tasks.length, lora.rank];
                const pair = {
                  down: view.f32(`${at}.${k}.lora.down`, [tasks, rank, cols]),
                  up: view.f32(`${at}.${k}.lora.up`, [tasks, rows, rank]),
                };
                return [k, pair];
              }),
            ),
          }
        : {}),
    } as BertLayer | ModernBertLayer);
  }
  return out;
}

/** A Qwen3 / Qwen2 / Gemma 3 / T5 layer: stacked projections and RMSNorm factors, as write.ts lays them out. */
function decoderLayer(
  view: ShardView,
  at: string,
  config: EncoderConfig,
  spec: DecoderSpec,
  linear: (k: (typeof LINEARS)[number]) => Linear,
): DecoderLayer {
  const { hiddenSize: H, headDim: D } = config;
  const rms = (k: (typeof RMS_NORMS)[number], n: number) => view.f32(`${at}.${k}`, [n]);
  return {
    qkv: linear('qkv'),
    attnOut: linear('attnOut'),
    ffnIn: linear('ffnIn'),
    ffnOut: linear('ffnOut'),
    inputNorm: rms('inputNorm', H),
    qNorm: spec.qkNorm ? rms('qNorm', D) : null,
    kNorm: spec.qkNorm ? rms('kNorm', D) : null,
    postAttnNorm: spec.sandwichNorms ? rms('postAttnNorm', H) : null,
    ffnNorm: rms('ffnNorm', H),
    postFfnNorm: spec.sandwichNorms ? rms('postFfnNorm', H) : null,
  };
}

/** The sentence-transformers Dense modules of a pack's head shard, where the manifest lists them. */
function packHead(manifest: PackManifest, files: ReadonlyMap<string, Uint8Array>, hiddenSize: number): DenseModule[] {
  const activations = manifest.head ?? [];
  if (activations.length === 0) return [];
  const shard = manifest.shards.find((s) => s.kind === 'head') as ShardEntry;
  const view = new ShardView(shard, bytesOf(files, shard.file));
  let width = hiddenSize;
  const head = activations.map((activation, k) => {
    const [rows = 0, cols] = view.shape(`dense.${k}.weight`);
    if (cols !== width) throw new ModelFormatError(`${shard.file}: dense.${k} takes ${cols} features, its input has ${width}`);
    width = rows;
    return { linear: view.linear(`dense.${k}`, rows, cols), activation };
  });
  if (width !== hiddenSize)
    throw new ModelFormatError(`${shard.file}: the Dense modules end at ${width} features, not ${hiddenSize}`);
  return head;
}

/** The projection of prompted text (manifest.projection): a matrix for every exit of the pack. */
function packProjection(manifest: PackManifest, files: ReadonlyMap<string, Uint8Array>, hiddenSize: number): Projection | null {
  if (!manifest.projection) return null;
  const shard = manifest.shards.find((s) => s.kind === 'head') as ShardEntry;
  const view = new ShardView(shard, bytesOf(files, shard.file));
  const byExit = new Map(manifest.exits.map((e) => [e, view.linear(`projection.${e}`, hiddenSize, hiddenSize, false)]));
  return { kinds: manifest.projection.kinds, byExit };
}

/** The weights of the first `layers` layers, as views into the loaded shard bytes (no copies). */
export function packWeights(manifest: PackManifest, files: ReadonlyMap<string, Uint8Array>, layers: number): EncoderWeights {
  const weights = packBody(manifest, files, layers);
  const head = packHead(manifest, files, weights.config.hiddenSize);
  if (head.length > 0) weights.head = head;
  if (manifest.quantizer) weights.quantizer = manifest.quantizer;
  const projection = packProjection(manifest, files, weights.config.hiddenSize);
  if (projection) weights.projection = projection;
  if (weights.config.crossEncoder) weights.classifier = packClassifier(manifest, files, weights.config);
  if (weights.config.lateInteraction || weights.config.listwise)
    weights.lateProjection = packLateProjection(manifest, files, weights.config);
  if (weights.config.sparse) weights.sparseHead = packSparseHead(manifest, files, weights.config.hiddenSize);
  if (weights.config.splade) weights.mlmHead = packMlmHead(manifest, files, weights.config);
  return weights;
}

/** A SPLADE model's masked-LM head (config.splade): `mlm.*` in the head shard, the decoder only where untied. */
function packMlmHead(manifest: PackManifest, files: ReadonlyMap<string, Uint8Array>, config: EncoderConfig): MlmHead {
  const shard = manifest.shards.find((s) => s.kind === 'head');
  if (!shard) throw new ModelFormatError('a SPLADE pack needs a head shard holding its masked-LM head');
  const view = new ShardView(shard, bytesOf(files, shard.file));
  const { hiddenSize: H, vocabSize: V } = config;
  return {
    transform: view.linear('mlm.transform', H, H),
    norm: view.norm('mlm.norm', H),
    decoder: config.splade?.tied ? null : view.linear('mlm.decoder', V, H, false),
    bias: view.f32('mlm.bias', [V]),
    ...(config.splade?.staticQuery ? { queryWeights: view.f32('mlm.query_weights', [V]) } : {}),
  };
}

/** A lexical-weights head (config.sparse): `sparse`, one row over the hidden size, in the head shard. */
function packSparseHead(manifest: PackManifest, files: ReadonlyMap<string, Uint8Array>, hiddenSize: number): Linear {
  const shard = manifest.shards.find((s) => s.kind === 'head');
  if (!shard) throw new ModelFormatError('a pack with a sparse head needs a head shard holding it');
  return new ShardView(shard, bytesOf(files, shard.file)).linear('sparse', 1, hiddenSize);
}

/**
 * A late-interaction model's token projection (config.lateInteraction), or a listwise reranker's
 * (config.listwise): `late.{k}` in the head shard, from the hidden size to its dim.
 */
function packLateProjection(
  manifest: PackManifest,
  files: ReadonlyMap<string, Uint8Array>,
  config: EncoderConfig,
): DenseModule[] {
  const shard = manifest.shards.find((s) => s.kind === 'head');
  if (!shard) throw new ModelFormatError('a late-interaction or listwise reranker pack needs a head shard with its projection');
  const view = new ShardView(shard, bytesOf(files, shard.file));
  const spec = (config.lateInteraction ?? config.listwise) as LateInteractionSpec | ListwiseSpec;
  let width = config.hiddenSize;
  const modules = spec.projection.map((activation, k) => {
    const [rows = 0, cols] = view.shape(`late.${k}.weight`);
    if (cols !== width) throw new ModelFormatError(`${shard.file}: late.${k} takes ${cols} features, its input has ${width}`);
    width = rows;
    return { linear: view.linear(`late.${k}`, rows, cols), activation };
  });
  if (width !== spec.dim) throw new ModelFormatError(`${shard.file}: the projection ends at ${width} features, not ${spec.dim}`);
  return modules;
}

/** A cross-encoder's head (config.crossEncoder): `classifier.0` (hidden) and `classifier.norm` where there are, `classifier.1` in the head shard. */
function packClassifier(manifest: PackManifest, files: ReadonlyMap<string, Uint8Array>, config: EncoderConfig): ClassifierHead {
  const shard = manifest.shards.find((s) => s.kind === 'head');
  if (!shard) throw new ModelFormatError('a cross-encoder pack needs a head shard with its classifier');
  const view = new ShardView(shard, bytesOf(files, shard.file));
  const H = config.hiddenSize;
  const hidden = config.crossEncoder?.hidden;
  return {
    hidden: hidden ? view.linear('classifier.0', H, H) : null,
    norm: hidden?.norm ? view.norm('classifier.norm', H) : null,
    out: view.linear('classifier.1', 1, H),
  };
}

function packBody(manifest: PackManifest, files: ReadonlyMap<string, Uint8Array>, layers: number): EncoderWeights {
  const config = packConfig(manifest);
  const H = config.hiddenSize;
  const W = embeddingWidth(config);
  const shard = manifest.shards.find((s) => s.kind === 'embeddings') as ShardEntry;
  const view = new ShardView(shard, bytesOf(files, shard.file));
  const table = view.linear('word', config.vocabSize, W, false);
  const word: EmbeddingTable =
    table.quant === 'f32'
      ? new F32EmbeddingTable(
          new Float32Array(table.data.buffer, table.data.byteOffset, config.vocabSize * W),
          config.vocabSize,
          W,
        )
      : new QuantizedEmbeddingTable(table);
  if (config.modelType === 'model2vec') return { family: 'static', config, word, layers: [] };
  const relativeBias = () =>
    config.relativeAttention
      ? { relativeBias: view.f32('relativeBias', [config.relativeAttention.tableRows, config.numHeads]) }
      : {};
  if (config.decoder) {
    return {
      family: 'decoder',
      config,
      word,
      layers: packLayers(manifest, config, files, 0, layers) as DecoderLayer[],
      finalNorm: view.f32('finalNorm', [H]),
      ...relativeBias(),
    };
  }
  const embNorm = view.norm('embNorm', W);
  if (config.modern) {
    return {
      family: 'modernbert',
      config,
      word,
      embNorm,
      layers: packLayers(manifest, config, files, 0, layers) as ModernBertLayer[],
      finalNorm: view.norm('finalNorm', H),
    };
  }
  return {
    family: 'bert',
    config,
    word,
    position: config.gatedBert || config.disentangled ? null : view.f32('position', [config.maxPositions, W]),
    tokenType:
      (config.gatedBert && !readsSegmentTypes(config)) || config.disentangled
        ? null
        : view.f32('tokenType', [config.typeVocabSize, W]),
    ...(config.factorized ? { embedProject: view.linear('embedProject', H, W) } : {}),
    ...(config.disentangled
      ? {
          relEmbeddings: {
            table: view.f32('relEmbeddings', [2 * config.disentangled.span, H]),
            norm: config.disentangled.relNorm ? view.norm('relNorm', H) : null,
          },
        }
      : {}),
    embNorm,
    ...(config.lora
      ? {
          adapters: {
            down: view.f32('lora.down', [config.lora.tasks.length, config.vocabSize, config.lora.rank]),
            up: view.f32('lora.up', [config.lora.tasks.length, config.lora.rank, H]),
            tokenType: view.f32('lora.tokenType', [config.lora.tasks.length, H]),
          },
        }
      : {}),
    ...relativeBias(),
    layers: packLayers(manifest, config, files, 0, layers) as BertLayer[],
  };
}

/** Appends the pack's layers [loaded, to) to `weights` (a model loaded a few layers at a time). */
export function extendPackWeights(
  manifest: PackManifest,
  weights: EncoderWeights,
  files: ReadonlyMap<string, Uint8Array>,
  to: number,
): void {
  const more = packLayers(manifest, weights.config, files, weights.layers.length, to, weights.layers);
  // The family decides what packLayers read: the casts only restate it.
  if (weights.family === 'modernbert') weights.layers.push(...(more as ModernBertLayer[]));
  else if (weights.family === 'decoder') weights.layers.push(...(more as DecoderLayer[]));
  else if (weights.family === 'bert') weights.layers.push(...(more as BertLayer[]));
}
