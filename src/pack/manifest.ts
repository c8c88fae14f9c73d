import { ModelFormatError } from '../errors.js';
import { EXIT_NORMS, type ExitNorm, firstExit, POOLINGS, type Pooling } from '../weights/config.js';
import { hfConfigField } from '../weights/config-fields.js';
import {
  type DenseModule,
  OUTPUT_QUANTIZERS,
  type OutputQuantizer,
  PROMPT_KINDS,
  type PromptKind,
  QUANTS,
  type Quant,
} from '../weights/weights.js';

type DenseActivation = DenseModule['activation'];
const DENSE_ACTIVATIONS: readonly DenseActivation[] = ['identity', 'tanh'];

/** Bumped when a reader of the previous format would misread a pack. */
export const PACK_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';

/** How one tensor's bytes are laid out inside its shard. */
export interface TensorEntry {
  name: string;
  /** f32 | f16 | q8 (int8, per-row f32 scales in `${name}.scales`) | q4 (nibbles, per-32 scales). */
  dtype: Quant;
  shape: number[];
  /** Byte offset inside the shard; a multiple of 16. */
  offset: number;
  bytes: number;
}

export type ShardKind = 'embeddings' | 'layers' | 'head';

export interface ShardEntry {
  file: string;
  kind: ShardKind;
  bytes: number;
  /** Lower-case hex SHA-256 of the file. */
  sha256: string;
  /** For kind 'layers': the 0-based layer indices [from, to) it holds. */
  layers?: [number, number];
  tensors: TensorEntry[];
}

export interface FileEntry {
  file: string;
  bytes: number;
  sha256: string;
}

export interface QualityRow {
  layers: number;
  dims: number;
  /** The headline score the planner ranks by (higher is better), in [0, 1]. */
  score: number;
  /** Named metrics behind the score, e.g. { floresXxEng: 0.91, stsEnSpearman: 0.74 }. */
  metrics?: Record<string, number>;
}

/** Adaptive depth (`layers: 'adaptive'`) measured on the quality table's data at one width and tolerance. */
export interface AdaptiveQualityRow {
  dims: number;
  tolerance: number;
  /** Layers a text ran on average. */
  meanLayers: number;
  /** The headline score, on the scale of QualityRow.score. */
  score: number;
}

export interface QualityTable {
  /** What was measured, e.g. "FLORES-200 dev bitext accuracy + STS-B dev Spearman". */
  dataset: string;
  rows: QualityRow[];
  /** Adaptive depth on the same data, where measured: the planner then weighs it by these figures. */
  adaptive?: AdaptiveQualityRow[];
  /** The lexical baseline on the same data, for context. */
  baseline?: { name: string; score: number; metrics?: Record<string, number> };
}

export interface PackManifest {
  format: 'm3web-pack';
  version: number;
  /** Stable model id, e.g. "m3-mini"; IndexedDB keys start with it. */
  id: string;
  /** The Hugging Face config.json, verbatim: the architecture and its numbers. */
  config: Record<string, unknown>;
  tokenizer: FileEntry & { config?: Record<string, unknown> };
  quantization: { linear: Quant; embeddings: Quant };
  shards: ShardEntry[];
  /** Layer counts the model was trained to stop at. */
  exits: number[];
  /** Matryoshka widths the model was trained to be truncated to. */
  dims: number[];
  pooling: Pooling;
  /**
   * Pre-norm models only (ModernBERT, Qwen3, Gemma 3): what an exit before the last layer pools,
   * the raw layer output ('none', the default: what Hugging Face's hidden_states and
   * sentence-transformers' layer losses use) or the final norm applied to it ('final'). See ExitNorm.
   */
  exitNorm?: ExitNorm;
  /** Texts longer than this many tokens (specials included) are truncated. */
  maxTokens: number;
  /**
   * The sentence-transformers Dense modules after pooling, by activation, in order; their weights
   * are `dense.{k}` in the 'head' shard.
   */
  head?: DenseActivation[];
  /** The quantizer after the Dense modules (OutputQuantizer), where the model has one. */
  quantizer?: OutputQuantizer;
  /**
   * Prompted text (these kinds) is mapped by a per-exit matrix after pooling (and after the Dense
   * head), `projection.{exit}` in the 'head' shard. See Projection.
   */
  projection?: { kinds: PromptKind[] };
  prefixes?: { query?: string; passage?: string };
  license?: string;
  source?: string;
  quality?: QualityTable;
  /** Hybrid search defaults measured for this model (`m3web eval --search --write`). */
  search?: SearchDefaults;
}

/** How much each ranker counts in hybrid search; `sparse`: the model's lexical weights, in an index that stores them (absent: 1). */
export interface FusionWeights {
  vector: number;
  lexical: number;
  sparse?: number;
}

/**
 * How hybrid search fuses its rankers (src/search/fuse.ts). 'ranks' (the default where `method`
 * is absent): reciprocal rank fusion, a document scoring the sum of weight / (k + rank) over the
 * rankers that found it. 'scores': a weighted sum of each ranker's own score, BM25 and lexical
 * weights over their list's best, cosines as they are.
 */
export type Fusion = RankFusion | ScoreFusion;
export type RankFusion = { method?: 'ranks'; k: number; weights: FusionWeights };
export type ScoreFusion = { method: 'scores'; weights: FusionWeights };

/** The fusion that did best on a dev set, and which set: the model's default for hybrid search. */
export interface SearchDefaults {
  dataset: string;
  fusion: Fusion;
}

const SHA256_RE = /^[0-9a-f]{64}$/;
// Shard names end up in URLs and IndexedDB keys: keep them to plain relative file names.
const FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

type Json = Record<string, unknown>;

function fail(message: string): never {
  throw new ModelFormatError(`manifest.json: ${message}`);
}

function obj(v: unknown, what: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${what} must be an object`);
  return v as Json;
}

function int(v: unknown, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${what} must be an integer in ${min}..${max}`);
  return v;
}

function str(v: unknown, what: string, re?: RegExp): string {
  if (typeof v !== 'string' || (re && !re.test(v))) fail(`${what} is missing or malformed`);
  return v;
}

function arr(v: unknown, what: string, max = 100_000): unknown[] {
  if (!Array.isArray(v) || v.length > max) fail(`${what} must be an array`);
  return v;
}

function fileEntry(v: unknown, what: string): FileEntry {
  const e = obj(v, what);
  return {
    file: str(e.file, `${what}.file`, FILE_RE),
    bytes: int(e.bytes, `${what}.bytes`),
    sha256: str(e.sha256, `${what}.sha256`, SHA256_RE),
  };
}

function quant(v: unknown, what: string): Quant {
  if (!QUANTS.includes(v as Quant)) fail(`${what} must be one of ${QUANTS.join(', ')}`);
  return v as Quant;
}

function tensorEntry(v: unknown, what: string, shardBytes: number): TensorEntry {
  const t = obj(v, what);
  const shape = arr(t.shape, `${what}.shape`, 4).map((d, i) => int(d, `${what}.shape[${i}]`, 1, 1 << 30));
  const entry = {
    name: str(t.name, `${what}.name`),
    dtype: quant(t.dtype, `${what}.dtype`),
    shape,
    offset: int(t.offset, `${what}.offset`),
    bytes: int(t.bytes, `${what}.bytes`),
  };
  if (entry.offset % 16 !== 0) fail(`${what}.offset ${entry.offset} is not 16-byte aligned`);
  if (entry.offset + entry.bytes > shardBytes)
    fail(`${what} ends at byte ${entry.offset + entry.bytes}, past its ${shardBytes}-byte shard`);
  return entry;
}

/**
 * Checks a parsed manifest.json field by field. Everything a loader later trusts (sizes, offsets,
 * layer ranges, file names) is bounded here, so a hostile or corrupt manifest fails with a
 * message instead of driving huge allocations or path tricks.
 */
export function parseManifest(raw: unknown): PackManifest {
  const m = obj(raw, 'the manifest');
  if (m.format !== 'm3web-pack') fail('"format" must be "m3web-pack" (is this a model pack?)');
  const version = int(m.version, 'version', 1);
  if (version > PACK_VERSION) fail(`pack version ${version} is newer than this m3web reads (${PACK_VERSION}); update m3web`);
  const config = obj(m.config, 'config');
  // 0 for a static embedder (model2vec), whose one exit is 0.
  const numLayers = int(hfConfigField(config, 'num_hidden_layers'), 'config.num_hidden_layers', 0, 1000);
  const hidden = int(hfConfigField(config, 'hidden_size'), 'config.hidden_size', 1, 1 << 16);
  const tok = obj(m.tokenizer, 'tokenizer');
  const tokenizer = {
    ...fileEntry(tok, 'tokenizer'),
    ...(tok.config === undefined ? {} : { config: obj(tok.config, 'tokenizer.config') }),
  };
  const q = obj(m.quantization, 'quantization');
  const shards = arr(m.shards, 'shards', 10_000).map((v, i): ShardEntry => {
    const s = obj(v, `shards[${i}]`);
    const base = fileEntry(s, `shards[${i}]`);
    const kind = s.kind;
    if (kind !== 'embeddings' && kind !== 'layers' && kind !== 'head')
      fail(`shards[${i}].kind must be embeddings, layers or head`);
    const tensors = arr(s.tensors, `shards[${i}].tensors`).map((t, j) =>
      tensorEntry(t, `shards[${i}].tensors[${j}]`, base.bytes),
    );
    const shard: ShardEntry = { ...base, kind, tensors };
    if (kind === 'layers') {
      const range = arr(s.layers, `shards[${i}].layers`, 2);
      const from = int(range[0], `shards[${i}].layers[0]`, 0, numLayers - 1);
      const to = int(range[1], `shards[${i}].layers[1]`, from + 1, numLayers);
      shard.layers = [from, to];
    }
    return shard;
  });
  const files = new Set([tokenizer.file]);
  for (const s of shards) {
    if (files.has(s.file)) fail(`file ${s.file} is listed twice`);
    files.add(s.file);
  }
  if (shards.filter((s) => s.kind === 'embeddings').length !== 1) fail('there must be exactly one embeddings shard');
  const covered = new Array<boolean>(numLayers).fill(false);
  for (const s of shards) {
    if (!s.layers) continue;
    for (let l = s.layers[0]; l < s.layers[1]; l++) {
      if (covered[l]) fail(`layer ${l} is in two shards`);
      covered[l] = true;
    }
  }
  const missing = covered.indexOf(false);
  if (missing >= 0) fail(`no shard holds layer ${missing}`);
  const exits = arr(m.exits, 'exits', Math.max(numLayers, 1)).map((v, i) =>
    int(v, `exits[${i}]`, firstExit(numLayers), numLayers),
  );
  const dims = arr(m.dims, 'dims', hidden).map((v, i) => int(v, `dims[${i}]`, 1, hidden));
  if (!exits.length || !dims.length) fail('exits and dims must not be empty');
  if (!POOLINGS.includes(m.pooling as Pooling)) fail(`pooling must be one of ${POOLINGS.join(', ')}`);
  const manifest: PackManifest = {
    format: 'm3web-pack',
    version,
    id: str(m.id, 'id', FILE_RE),
    config,
    tokenizer,
    quantization: { linear: quant(q.linear, 'quantization.linear'), embeddings: quant(q.embeddings, 'quantization.embeddings') },
    shards,
    exits: [...new Set(exits)].sort((a, b) => a - b),
    dims: [...new Set(dims)].sort((a, b) => a - b),
    pooling: m.pooling as Pooling,
    maxTokens: int(m.maxTokens, 'maxTokens', 2, 1 << 20),
  };
  if (m.prefixes !== undefined) {
    const p = obj(m.prefixes, 'prefixes');
    manifest.prefixes = {
      ...(p.query === undefined ? {} : { query: str(p.query, 'prefixes.query') }),
      ...(p.passage === undefined ? {} : { passage: str(p.passage, 'prefixes.passage') }),
    };
  }
  if (m.exitNorm !== undefined) {
    if (!EXIT_NORMS.includes(m.exitNorm as ExitNorm)) fail(`exitNorm must be one of ${EXIT_NORMS.join(', ')}`);
    manifest.exitNorm = m.exitNorm as ExitNorm;
  }
  if (m.head !== undefined) {
    manifest.head = arr(m.head, 'head', 16).map((a, i) => {
      if (!DENSE_ACTIVATIONS.includes(a as DenseActivation)) fail(`head[${i}] must be one of ${DENSE_ACTIVATIONS.join(', ')}`);
      return a as DenseActivation;
    });
    if (shards.filter((s) => s.kind === 'head').length !== 1) fail('a pack with a head needs exactly one head shard');
  }
  if (m.quantizer !== undefined) {
    if (!OUTPUT_QUANTIZERS.includes(m.quantizer as OutputQuantizer))
      fail(`quantizer must be one of ${OUTPUT_QUANTIZERS.join(', ')}`);
    manifest.quantizer = m.quantizer as OutputQuantizer;
  }
  if (m.projection !== undefined) {
    const kinds = arr(obj(m.projection, 'projection').kinds, 'projection.kinds', 2);
    if (kinds.length === 0 || kinds.some((k) => !PROMPT_KINDS.includes(k as PromptKind)))
      fail(`projection.kinds must list one or both of ${PROMPT_KINDS.join(', ')}`);
    if (shards.filter((s) => s.kind === 'head').length !== 1) fail('a pack with a projection needs exactly one head shard');
    manifest.projection = { kinds: [...new Set(kinds)] as PromptKind[] };
  }
  if (m.license !== undefined) manifest.license = str(m.license, 'license');
  if (m.source !== undefined) manifest.source = str(m.source, 'source');
  if (m.quality !== undefined) manifest.quality = parseQuality(m.quality);
  if (m.search !== undefined) manifest.search = parseSearchDefaults(m.search);
  return manifest;
}

function parseSearchDefaults(v: unknown): SearchDefaults {
  const s = obj(v, 'search');
  const f = obj(s.fusion, 'search.fusion');
  const w = obj(f.weights, 'search.fusion.weights');
  const nonNegative = (x: unknown, what: string) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) fail(`${what} must be a number >= 0`);
    return x;
  };
  const weights = {
    vector: nonNegative(w.vector, 'search.fusion.weights.vector'),
    lexical: nonNegative(w.lexical, 'search.fusion.weights.lexical'),
  };
  if (f.method !== undefined && f.method !== 'ranks' && f.method !== 'scores')
    fail(`search.fusion.method must be "ranks" or "scores", got ${JSON.stringify(f.method)}`);
  return {
    dataset: str(s.dataset, 'search.dataset'),
    fusion: f.method === 'scores' ? { method: 'scores', weights } : { k: nonNegative(f.k, 'search.fusion.k'), weights },
  };
}

function parseQuality(v: unknown): QualityTable {
  const q = obj(v, 'quality');
  const metrics = (x: unknown, what: string) => {
    if (x === undefined) return {};
    const out: Record<string, number> = {};
    for (const [k, n] of Object.entries(obj(x, what))) {
      if (typeof n !== 'number' || !Number.isFinite(n)) fail(`${what}.${k} must be a number`);
      out[k] = n;
    }
    return { metrics: out };
  };
  const score = (x: unknown, what: string) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) fail(`${what} must be a number`);
    return x;
  };
  const table: QualityTable = {
    dataset: str(q.dataset, 'quality.dataset'),
    rows: arr(q.rows, 'quality.rows').map((r, i) => {
      const row = obj(r, `quality.rows[${i}]`);
      return {
        layers: int(row.layers, `quality.rows[${i}].layers`, 0),
        dims: int(row.dims, `quality.rows[${i}].dims`, 1),
        score: score(row.score, `quality.rows[${i}].score`),
        ...metrics(row.metrics, `quality.rows[${i}].metrics`),
      };
    }),
  };
  if (q.adaptive !== undefined) {
    table.adaptive = arr(q.adaptive, 'quality.adaptive').map((r, i) => {
      const row = obj(r, `quality.adaptive[${i}]`);
      const what = `quality.adaptive[${i}]`;
      const tolerance = score(row.tolerance, `${what}.tolerance`);
      if (!(tolerance > 0 && tolerance <= 1)) fail(`${what}.tolerance must be in (0, 1]`);
      return {
        dims: int(row.dims, `${what}.dims`, 1),
        tolerance,
        meanLayers: score(row.meanLayers, `${what}.meanLayers`),
        score: score(row.score, `${what}.score`),
      };
    });
  }
  if (q.baseline !== undefined) {
    const b = obj(q.baseline, 'quality.baseline');
    table.baseline = {
      name: str(b.name, 'quality.baseline.name'),
      score: score(b.score, 'quality.baseline.score'),
      ...metrics(b.metrics, 'quality.baseline.metrics'),
    };
  }
  return table;
}

/** Shards needed to run the first `layers` layers: the embeddings, those layer shards, the head. */
export function shardsFor(manifest: PackManifest, layers: number): ShardEntry[] {
  return manifest.shards.filter((s) => s.kind !== 'layers' || (s.layers as [number, number])[0] < layers);
}

/** Every file of the pack, tokenizer first. */
export function packFiles(manifest: PackManifest): FileEntry[] {
  return [manifest.tokenizer, ...manifest.shards];
}
