import { PendingTable } from '../checkpoint/matrix.js';
import type { EncoderConfig, LoraSpec } from '../weights/config.js';
import { QuantizedEmbeddingTable } from '../weights/embedding-table.js';
import { embeddingWidth, groupStart } from '../weights/shapes.js';
import {
  type ClassifierHead,
  type DecoderLayer,
  type DenseModule,
  type EncoderWeights,
  F32EmbeddingTable,
  type LayerNormParams,
  type Linear,
  type MlmHead,
  type OutputQuantizer,
  type Projection,
  type Quant,
  type WeightParts,
  type WeightsRest,
} from '../weights/weights.js';
import { alignUp, EMBEDDINGS_SHARD, HEAD_SHARD, layerShardName, matrixBytes, scaleCount } from './layout.js';
import { MANIFEST_FILE, PACK_VERSION, type PackManifest, type ShardEntry, type ShardKind, type TensorEntry } from './manifest.js';
import { sha256Hex } from './sha256.js';

export const TOKENIZER_FILE = 'tokenizer.json';

/** The manifest fields the writer does not derive from the weights, plus how to cut shards. */
export type PackMeta = Pick<
  PackManifest,
  'id' | 'exits' | 'dims' | 'pooling' | 'maxTokens' | 'prefixes' | 'license' | 'source' | 'quality' | 'exitNorm'
> & {
  /** Layers per shard file (default 1). */
  layersPerShard?: number;
};

export interface Pack {
  manifest: PackManifest;
  /** File name -> bytes, manifest.json included. */
  files: Map<string, Uint8Array>;
}

/**
 * Where a pack's files go as they are made: each file once, manifest.json last, so a store that
 * keeps them as they come never holds a pack that looks complete until it is, and the writer
 * holds one shard at a time. The bytes are lent: the writer reuses them once `put` resolves, so
 * a sink that keeps them keeps a copy. A sink that throws stops the writing.
 */
export interface PackSink {
  put(file: string, bytes: Uint8Array): Promise<void>;
}

/** A sink that keeps every file in `files`: the whole pack in memory. */
export const memorySink = (files: Map<string, Uint8Array>): PackSink => ({
  put: async (file, bytes) => {
    files.set(file, bytes.slice());
  },
});

interface Part {
  name: string;
  dtype: Quant;
  shape: number[];
  /**
   * The tensor's bytes, or for one read straight into its shard their length: `fill` then reads
   * them, given every part's place in the shard (a part filled by another's `fill` has none).
   */
  bytes: Uint8Array | number;
  fill?: (at: (name: string) => Uint8Array) => Promise<void>;
}

const partBytes = (p: Part) => (typeof p.bytes === 'number' ? p.bytes : p.bytes.length);

const f32Part = (name: string, values: Float32Array, shape: number[]): Part => ({
  name,
  dtype: 'f32',
  shape,
  bytes: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
});

function linearParts(name: string, l: Linear, withBias = true): Part[] {
  const parts: Part[] = [{ name: `${name}.weight`, dtype: l.quant, shape: [l.rows, l.cols], bytes: l.data }];
  if (l.scales) parts.push(f32Part(`${name}.scales`, l.scales, [l.scales.length]));
  if (withBias) parts.push(f32Part(`${name}.bias`, l.bias, [l.rows]));
  return parts;
}

const normParts = (name: string, n: LayerNormParams): Part[] => [
  f32Part(`${name}.gamma`, n.gamma, [n.gamma.length]),
  f32Part(`${name}.beta`, n.beta, [n.beta.length]),
];

export const LINEARS = ['qkv', 'attnOut', 'ffnIn', 'ffnOut'] as const;
/** The last three are jina-bert-v2-qk-post-norm's only (BertLayer's qNorm, kNorm, preFfnNorm). */
const NORMS = ['attnNorm', 'ffnNorm', 'qNorm', 'kNorm', 'preFfnNorm'] as const;
/** A decoder layer's RMSNorm factors (Gemma's 1 + w already folded in); the post norms are Gemma's only. */
export const RMS_NORMS = ['inputNorm', 'qNorm', 'kNorm', 'postAttnNorm', 'ffnNorm', 'postFfnNorm'] as const;

function layerParts(index: number, layer: EncoderWeights['layers'][number], lora: LoraSpec | undefined): Part[] {
  const at = `layer.${index}`;
  const linears = LINEARS.flatMap((k) => linearParts(`${at}.${k}`, layer[k]));
  if (isDecoderLayer(layer)) {
    return [
      ...linears,
      ...RMS_NORMS.flatMap((k) => {
        const w = layer[k];
        return w ? [f32Part(`${at}.${k}`, w, [w.length])] : [];
      }),
    ];
  }
  const adapters = 'adapters' in layer ? layer.adapters : undefined;
  const experts = 'experts' in layer ? layer.experts : undefined;
  const norms: Partial<Record<(typeof NORMS)[number], LayerNormParams | null>> = layer;
  return [
    ...linears,
    ...(experts
      ? [
          ...linearParts(`${at}.router`, experts.router, false),
          f32Part(`${at}.experts.bias`, experts.bias, [experts.bias.length]),
        ]
      : []),
    // ModernBERT's layer 0 has no attention norm, so its shard has no such tensor.
    ...NORMS.flatMap((k) => {
      const norm = norms[k];
      return norm ? normParts(`${at}.${k}`, norm) : [];
    }),
    ...(adapters && lora
      ? LINEARS.flatMap((k) => {
          const { rows, cols } = layer[k];
          const [tasks, rank] = [lora.tasks.length, lora.rank];
          return [
            f32Part(`${at}.${k}.lora.down`, adapters[k].down, [tasks, rank, cols]),
            f32Part(`${at}.${k}.lora.up`, adapters[k].up, [tasks, rows, rank]),
          ];
        })
      : []),
  ];
}

const isDecoderLayer = (l: EncoderWeights['layers'][number]): l is DecoderLayer => 'inputNorm' in l;

/** The embeddings shard's tensors beyond the vocabulary table. */
function embeddingExtras(weights: WeightsRest): Part[] {
  const { config } = weights;
  const H = config.hiddenSize;
  switch (weights.family) {
    case 'bert': {
      // GTE has neither table (rotary positions; its token-type row is in the word rows).
      const { position, tokenType, adapters, relEmbeddings, embedProject } = weights;
      const W = embeddingWidth(config);
      const lora = config.lora;
      return [
        ...(adapters && lora
          ? [
              f32Part('lora.down', adapters.down, [lora.tasks.length, config.vocabSize, lora.rank]),
              f32Part('lora.up', adapters.up, [lora.tasks.length, lora.rank, H]),
              f32Part('lora.tokenType', adapters.tokenType, [lora.tasks.length, H]),
            ]
          : []),
        ...(position ? [f32Part('position', position, [config.maxPositions, W])] : []),
        ...(tokenType ? [f32Part('tokenType', tokenType, [config.typeVocabSize, W])] : []),
        ...(embedProject ? linearParts('embedProject', embedProject) : []),
        ...relativeBiasParts(weights),
        ...(relEmbeddings ? [f32Part('relEmbeddings', relEmbeddings.table, [relEmbeddings.table.length / H, H])] : []),
        ...(relEmbeddings?.norm ? normParts('relNorm', relEmbeddings.norm) : []),
        ...normParts('embNorm', weights.embNorm),
      ];
    }
    case 'modernbert':
      return [...normParts('finalNorm', weights.finalNorm), ...normParts('embNorm', weights.embNorm)];
    case 'decoder':
      return [f32Part('finalNorm', weights.finalNorm, [H]), ...relativeBiasParts(weights)];
    case 'static':
      return [];
  }
}

/** MPNet's and T5's relative bias table, [tableRows, heads], where the model has one. */
function relativeBiasParts({ relativeBias, config }: { relativeBias?: Float32Array | null; config: EncoderConfig }): Part[] {
  return relativeBias ? [f32Part('relativeBias', relativeBias, [relativeBias.length / config.numHeads, config.numHeads])] : [];
}

/**
 * The layer ranges [from, to) of the pack's layer shards: `per` layers each, or one group each
 * where layers share weights (config.layerGroups), so that a group's one copy is in every range
 * that runs it.
 */
function layerShards(config: EncoderConfig, layerCount: number, per: number): [number, number][] {
  const ranges: [number, number][] = [];
  for (let from = 0; from < layerCount; ) {
    let to = Math.min(from + per, layerCount);
    if (config.layerGroups !== undefined) {
      to = from + 1;
      while (to < layerCount && groupStart(config, to) === from) to++;
    }
    ranges.push([from, to]);
    from = to;
  }
  return ranges;
}

/** Lays `parts` out in one shard file, in `spare` (the last shard's memory) when it is the same size. */
async function shard(
  file: string,
  kind: ShardKind,
  parts: Part[],
  layers: [number, number] | undefined,
  spare: Uint8Array | undefined,
): Promise<{ entry: ShardEntry; bytes: Uint8Array }> {
  const tensors: TensorEntry[] = [];
  let size = 0;
  for (const p of parts) {
    tensors.push({ name: p.name, dtype: p.dtype, shape: p.shape, offset: size, bytes: partBytes(p) });
    size = alignUp(size + partBytes(p));
  }
  // Only an exact fit is reused: IndexedDB stores a view's whole buffer, so a shard fills its own.
  const bytes = spare?.length === size ? spare.fill(0) : new Uint8Array(size);
  const at = (name: string) => {
    const t = tensors.find((e) => e.name === name) as TensorEntry;
    return bytes.subarray(t.offset, t.offset + t.bytes);
  };
  for (const p of parts) {
    if (typeof p.bytes !== 'number') at(p.name).set(p.bytes);
    await p.fill?.(at);
  }
  const entry: ShardEntry = { file, kind, bytes: size, sha256: await sha256Hex(bytes), tensors };
  if (layers) entry.layers = layers;
  return { entry, bytes };
}

/** The vocabulary table's parts and storage: as quantized, or f32 (gathered only from a table of another kind). */
function wordParts(word: EncoderWeights['word']): { parts: Part[]; quant: Quant } {
  if (word instanceof PendingTable) return { parts: pendingParts(word), quant: word.quant };
  if (word instanceof QuantizedEmbeddingTable) return { parts: linearParts('word', word.table, false), quant: word.table.quant };
  let table: Float32Array;
  if (word instanceof F32EmbeddingTable) {
    table = word.data;
  } else {
    table = new Float32Array(word.rows * word.cols);
    word.gather(
      Uint32Array.from({ length: word.rows }, (_, i) => i),
      table,
    );
  }
  return { parts: [f32Part('word.weight', table, [word.rows, word.cols])], quant: 'f32' };
}

/** A table not read yet: its parts, read into the shard as it is laid out (the same parts linearParts gives once read). */
function pendingParts(word: PendingTable): Part[] {
  const { rows, cols, quant } = word;
  const count = scaleCount(quant, rows, cols);
  const fill = async (at: (name: string) => Uint8Array) => {
    const scales = count > 0 ? at('word.scales') : undefined;
    await word.fill(at('word.weight'), scales && new Float32Array(scales.buffer, scales.byteOffset, count));
  };
  const weight: Part = { name: 'word.weight', dtype: quant, shape: [rows, cols], bytes: matrixBytes(quant, rows, cols), fill };
  return count > 0 ? [weight, { name: 'word.scales', dtype: 'f32', shape: [count], bytes: count * 4 }] : [weight];
}

/**
 * Serialises weights into a model pack, a shard at a time into `sink`: the tokenizer, an
 * embeddings shard (the vocabulary table, and BERT's position / token-type tables or the final
 * norm of ModernBERT and the decoders), one shard per layer (or per `layersPerShard` layers),
 * the Dense head's shard, and manifest.json last. Each shard's layers are asked of `weights`
 * only when that shard is written and let go (`release`) once the sink has it, so only one
 * shard's worth is held at a time. The vocabulary table must be quantized (a
 * QuantizedEmbeddingTable), f32, or a PendingTable read straight into its shard. Returns the manifest.
 */
export async function streamPack(
  weights: WeightParts,
  hfConfig: Record<string, unknown>,
  tokenizer: { json: Uint8Array; config?: Record<string, unknown> },
  meta: PackMeta,
  sink: PackSink,
): Promise<PackManifest> {
  const entries: ShardEntry[] = [];
  let spare: Uint8Array | undefined;
  const put = async (file: string, kind: ShardKind, parts: Part[], layers?: [number, number]) => {
    const s = await shard(file, kind, parts, layers, spare);
    await sink.put(file, s.bytes);
    entries.push(s.entry);
    spare = s.bytes;
    weights.release?.();
  };
  await sink.put(TOKENIZER_FILE, tokenizer.json);
  let embeddingQuant: Quant;
  let head: DenseModule[];
  let quantizer: OutputQuantizer | undefined;
  let classifier: ClassifierHead | undefined;
  let projection: Projection | undefined;
  let late: DenseModule[];
  let sparse: Linear | undefined;
  let mlm: MlmHead | undefined;
  let lora: LoraSpec | undefined;
  let config: EncoderConfig;
  {
    const rest = await weights.rest();
    config = rest.config;
    lora = rest.config.lora;
    const word = wordParts(rest.word);
    embeddingQuant = word.quant;
    head = rest.head ?? [];
    quantizer = rest.quantizer;
    classifier = rest.classifier;
    projection = rest.projection;
    late = rest.lateProjection ?? [];
    sparse = rest.sparseHead;
    mlm = rest.mlmHead;
    await put(EMBEDDINGS_SHARD, 'embeddings', [...word.parts, ...embeddingExtras(rest)]);
  }
  const { layersPerShard: per = 1, ...described } = meta;
  // A model without layers (a static embedder) is stored as its table is.
  let linearQuant: Quant = embeddingQuant;
  for (const [from, to] of layerShards(config, weights.layerCount, per)) {
    const parts: Part[] = [];
    for (let l = from; l < to; l++) {
      // Layers sharing weights (config.layerGroups) store them once, under their group's first.
      if (groupStart(config, l) !== l) continue;
      const layer = await weights.layer(l);
      linearQuant = layer.qkv.quant;
      parts.push(...layerParts(l, layer, lora));
    }
    await put(layerShardName(from, to), 'layers', parts, [from, to]);
  }
  if (head.length > 0 || projection || classifier || late.length > 0 || sparse || mlm) {
    await put(HEAD_SHARD, 'head', [
      ...head.flatMap((m, k) => linearParts(`dense.${k}`, m.linear)),
      // A cross-encoder's head: its shapes and activations follow from the config (packClassifier).
      ...(classifier
        ? [
            ...(classifier.hidden ? linearParts('classifier.0', classifier.hidden) : []),
            ...(classifier.norm ? normParts('classifier.norm', classifier.norm) : []),
            ...linearParts('classifier.1', classifier.out),
          ]
        : []),
      ...[...(projection?.byExit ?? [])].flatMap(([exit, l]) => linearParts(`projection.${exit}`, l, false)),
      // A late-interaction model's token projection: its activations are in config.json (packLateProjection).
      ...late.flatMap((m, k) => linearParts(`late.${k}`, m.linear)),
      ...(sparse ? linearParts('sparse', sparse) : []),
      // A SPLADE head's decoder is stored only where it is not the word table (config.splade.tied).
      ...(mlm
        ? [
            ...linearParts('mlm.transform', mlm.transform),
            ...normParts('mlm.norm', mlm.norm),
            ...(mlm.decoder ? linearParts('mlm.decoder', mlm.decoder, false) : []),
            f32Part('mlm.bias', mlm.bias, [mlm.bias.length]),
            ...(mlm.queryWeights ? [f32Part('mlm.query_weights', mlm.queryWeights, [mlm.queryWeights.length])] : []),
          ]
        : []),
    ]);
  }
  const manifest: PackManifest = {
    format: 'm3web-pack',
    version: PACK_VERSION,
    ...described,
    config: hfConfig,
    tokenizer: {
      file: TOKENIZER_FILE,
      bytes: tokenizer.json.length,
      sha256: await sha256Hex(tokenizer.json),
      ...(tokenizer.config ? { config: tokenizer.config } : {}),
    },
    quantization: { linear: linearQuant, embeddings: embeddingQuant },
    ...(head.length > 0 ? { head: head.map((m) => m.activation) } : {}),
    ...(quantizer ? { quantizer } : {}),
    ...(projection ? { projection: { kinds: [...projection.kinds] } } : {}),
    shards: entries,
  };
  await sink.put(MANIFEST_FILE, new TextEncoder().encode(`${JSON.stringify(manifest, null, 1)}\n`));
  return manifest;
}

/** Serialises weights held in memory into a pack held in memory (see streamPack). */
export async function writePack(
  weights: EncoderWeights,
  hfConfig: Record<string, unknown>,
  tokenizer: { json: Uint8Array; config?: Record<string, unknown> },
  meta: PackMeta,
): Promise<Pack> {
  const files = new Map<string, Uint8Array>();
  const parts: WeightParts = {
    layerCount: weights.layers.length,
    rest: async () => weights,
    layer: async (l) => weights.layers[l] as EncoderWeights['layers'][number],
  };
  const manifest = await streamPack(parts, hfConfig, tokenizer, meta, memorySink(files));
  return { manifest, files };
}
