import { ModelFormatError } from '../errors.js';
import { type EncoderConfig, parseHfConfig } from '../weights/config.js';
import { QuantizedEmbeddingTable } from '../weights/embedding-table.js';
import {
  type BertLayer,
  type EmbeddingTable,
  type EncoderWeights,
  F32EmbeddingTable,
  type LayerNormParams,
  type Linear,
  type ModernBertLayer,
} from '../weights/weights.js';
import { matrixBytes, scaleCount } from './layout.js';
import type { PackManifest, ShardEntry, TensorEntry } from './manifest.js';
import type { LINEARS } from './write.js';

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
 * Layers [from, to) out of the pack's layer shards (which must all be in `files`). ModernBERT
 * layers have a [2I, H] feed-forward input (GeGLU) and no attention norm in layer 0.
 */
export function packLayers(
  manifest: PackManifest,
  config: EncoderConfig,
  files: ReadonlyMap<string, Uint8Array>,
  from: number,
  to: number,
): (BertLayer | ModernBertLayer)[] {
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const modern = config.modern !== undefined;
  const out: (BertLayer | ModernBertLayer)[] = [];
  for (let l = from; l < to; l++) {
    const shard = manifest.shards.find((s) => s.layers && s.layers[0] <= l && l < s.layers[1]) as ShardEntry;
    const view = new ShardView(shard, bytesOf(files, shard.file));
    const dims = { qkv: [3 * H, H], attnOut: [H, H], ffnIn: [modern ? 2 * I : I, H], ffnOut: [H, I] } as const;
    const at = `layer.${l}`;
    const linear = (k: (typeof LINEARS)[number]) => view.linear(`${at}.${k}`, dims[k][0], dims[k][1]);
    out.push({
      qkv: linear('qkv'),
      attnOut: linear('attnOut'),
      attnNorm: modern && l === 0 ? null : view.norm(`${at}.attnNorm`, H),
      ffnIn: linear('ffnIn'),
      ffnOut: linear('ffnOut'),
      ffnNorm: view.norm(`${at}.ffnNorm`, H),
    } as BertLayer | ModernBertLayer);
  }
  return out;
}

/** The weights of the first `layers` layers, as views into the loaded shard bytes (no copies). */
export function packWeights(manifest: PackManifest, files: ReadonlyMap<string, Uint8Array>, layers: number): EncoderWeights {
  const config = packConfig(manifest);
  const H = config.hiddenSize;
  const shard = manifest.shards.find((s) => s.kind === 'embeddings') as ShardEntry;
  const view = new ShardView(shard, bytesOf(files, shard.file));
  const table = view.linear('word', config.vocabSize, H, false);
  const word: EmbeddingTable =
    table.quant === 'f32'
      ? new F32EmbeddingTable(
          new Float32Array(table.data.buffer, table.data.byteOffset, config.vocabSize * H),
          config.vocabSize,
          H,
        )
      : new QuantizedEmbeddingTable(table);
  const embNorm = view.norm('embNorm', H);
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
    position: view.f32('position', [config.maxPositions, H]),
    tokenType: view.f32('tokenType', [config.typeVocabSize, H]),
    embNorm,
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
  const more = packLayers(manifest, weights.config, files, weights.layers.length, to);
  if (weights.family === 'modernbert') weights.layers.push(...(more as ModernBertLayer[]));
  else weights.layers.push(...(more as BertLayer[]));
}
