import { QuantizedEmbeddingTable } from '../weights/embedding-table.js';
import type { DecoderLayer, EncoderWeights, LayerNormParams, Linear, Quant } from '../weights/weights.js';
import { alignUp, EMBEDDINGS_SHARD, HEAD_SHARD, layerShardName } from './layout.js';
import { PACK_VERSION, type PackManifest, type ShardEntry, type ShardKind, type TensorEntry } from './manifest.js';
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

interface Part {
  name: string;
  dtype: Quant;
  shape: number[];
  bytes: Uint8Array;
}

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
export const NORMS = ['attnNorm', 'ffnNorm'] as const;
/** A decoder layer's RMSNorm factors (Gemma's 1 + w already folded in); the post norms are Gemma's only. */
export const RMS_NORMS = ['inputNorm', 'qNorm', 'kNorm', 'postAttnNorm', 'ffnNorm', 'postFfnNorm'] as const;

function layerParts(index: number, layer: EncoderWeights['layers'][number]): Part[] {
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
  return [
    ...linears,
    // ModernBERT's layer 0 has no attention norm, so its shard has no such tensor.
    ...NORMS.flatMap((k) => {
      const norm = layer[k];
      return norm ? normParts(`${at}.${k}`, norm) : [];
    }),
  ];
}

const isDecoderLayer = (l: EncoderWeights['layers'][number]): l is DecoderLayer => 'inputNorm' in l;

/** The embeddings shard's tensors beyond the vocabulary table. */
function embeddingExtras(weights: EncoderWeights): Part[] {
  const { config } = weights;
  const H = config.hiddenSize;
  switch (weights.family) {
    case 'bert':
      return [
        f32Part('position', weights.position, [config.maxPositions, H]),
        f32Part('tokenType', weights.tokenType, [config.typeVocabSize, H]),
        ...normParts('embNorm', weights.embNorm),
      ];
    case 'modernbert':
      return [...normParts('finalNorm', weights.finalNorm), ...normParts('embNorm', weights.embNorm)];
    case 'decoder':
      return [f32Part('finalNorm', weights.finalNorm, [H])];
  }
}

async function shard(
  file: string,
  kind: ShardKind,
  parts: Part[],
  layers?: [number, number],
): Promise<{ entry: ShardEntry; bytes: Uint8Array }> {
  const tensors: TensorEntry[] = [];
  let size = 0;
  for (const p of parts) {
    tensors.push({ name: p.name, dtype: p.dtype, shape: p.shape, offset: size, bytes: p.bytes.length });
    size = alignUp(size + p.bytes.length);
  }
  const bytes = new Uint8Array(size);
  parts.forEach((p, i) => {
    bytes.set(p.bytes, (tensors[i] as TensorEntry).offset);
  });
  const entry: ShardEntry = { file, kind, bytes: size, sha256: await sha256Hex(bytes), tensors };
  if (layers) entry.layers = layers;
  return { entry, bytes };
}

/**
 * Serialises quantized weights into a model pack: an embeddings shard (the vocabulary table, and
 * BERT's position / token-type tables or the final norm of ModernBERT and the decoders), one shard per layer (or per
 * `layersPerShard` layers), the tokenizer and manifest.json. The vocabulary table must already be
 * quantized (a QuantizedEmbeddingTable) or be f32.
 */
export async function writePack(
  weights: EncoderWeights,
  hfConfig: Record<string, unknown>,
  tokenizer: { json: Uint8Array; config?: Record<string, unknown> },
  meta: PackMeta,
): Promise<Pack> {
  const word = weights.word;
  let wordParts: Part[];
  let embeddingQuant: Quant;
  if (word instanceof QuantizedEmbeddingTable) {
    wordParts = linearParts('word', word.table, false);
    embeddingQuant = word.table.quant;
  } else {
    const table = new Float32Array(word.rows * word.cols);
    word.gather(
      Uint32Array.from({ length: word.rows }, (_, i) => i),
      table,
    );
    wordParts = [f32Part('word.weight', table, [word.rows, word.cols])];
    embeddingQuant = 'f32';
  }
  const shards = [await shard(EMBEDDINGS_SHARD, 'embeddings', [...wordParts, ...embeddingExtras(weights)])];
  const { layersPerShard: per = 1, ...described } = meta;
  for (let from = 0; from < weights.layers.length; from += per) {
    const to = Math.min(from + per, weights.layers.length);
    const parts = weights.layers.slice(from, to).flatMap((l, i) => layerParts(from + i, l));
    shards.push(await shard(layerShardName(from, to), 'layers', parts, [from, to]));
  }
  const head = weights.head ?? [];
  if (head.length > 0) {
    shards.push(
      await shard(
        HEAD_SHARD,
        'head',
        head.flatMap((m, k) => linearParts(`dense.${k}`, m.linear)),
      ),
    );
  }
  const linearQuant = weights.layers[0]?.qkv.quant ?? 'f32';
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
    shards: shards.map((s) => s.entry),
  };
  const files = new Map<string, Uint8Array>([[TOKENIZER_FILE, tokenizer.json]]);
  for (const s of shards) files.set(s.entry.file, s.bytes);
  files.set('manifest.json', new TextEncoder().encode(`${JSON.stringify(manifest, null, 1)}\n`));
  return { manifest, files };
}
