import { InputError, typeName } from '../errors.js';
import type { SparseVector } from '../types.js';
import { firstExit } from '../weights/config.js';
import { chunkBudget, chunkText, estimateTokens } from './chunk.js';
import { type Codec, encodeRow } from './codec.js';
import type { Segment } from './segment.js';
import type { StoredSparse } from './sparse-postings.js';
import { budgetAfterTitle, embeddedTitle, titledChunk } from './title.js';
import type { IndexDoc, IndexEncoder } from './types.js';

/** Texts per encoder call: bounds the size of one message to the worker and of one result. */
const TEXTS_PER_CALL = 512;
/** Times a chunk the encoder truncated is halved again before its truncated vector is kept. */
const MAX_SPLITS = 6;

export interface EmbedSettings {
  /** Under a progressive start, an encoder that answers at the deepest exit loaded (IndexHost.embedLoaded). */
  encoder: Pick<IndexEncoder, 'embedDetailed'>;
  /** The index's exit: asked for, and what rows without a shallower one are recorded at. */
  layers: number;
  codec: Codec;
  maxTokens: number;
  /** IndexOptions.chunkTokens: a chunk budget below the model's. */
  chunkTokens?: number;
  /** What the encoder puts before each document: the model's passage prefix, '' when symmetric. */
  passagePrefix: string;
  /** Documents are embedded plainly, not as passages. */
  symmetric: boolean;
  /** Each chunk's lexical weights are stored too (IndexSignature.sparse), from the forward of its vector. */
  sparse: boolean;
  signal?: AbortSignal;
}

interface Piece {
  text: string;
  vector: Float32Array;
  exit: number;
  sparse: StoredSparse | undefined;
}

interface Embedded {
  vectors: Float32Array[];
  truncated: boolean[];
  /** The exit each vector came from (EmbedResult.layers; an encoder without it answered at `layers`). */
  exits: number[];
  /** With EmbedSettings.sparse: each text's lexical weights. */
  sparse: StoredSparse[];
}

/** Lexical weights from the encoder, checked, as an index stores them. */
function storedSparse(v: unknown): StoredSparse {
  const s = v as Partial<SparseVector> | null;
  if (
    !(s?.indices instanceof Uint32Array) ||
    !(s.values instanceof Float32Array) ||
    s.indices.length !== s.values.length ||
    !s.values.every(Number.isFinite)
  )
    throw new InputError('the encoder returned lexical weights that are not { indices: Uint32Array, values: Float32Array }');
  return { indices: Array.from(s.indices), values: Array.from(s.values) };
}

async function embedAll(texts: string[], s: EmbedSettings): Promise<Embedded> {
  const vectors: Float32Array[] = [];
  const truncated: boolean[] = [];
  const exits: number[] = [];
  const sparse: StoredSparse[] = [];
  for (let i = 0; i < texts.length; i += TEXTS_PER_CALL) {
    const batch = texts.slice(i, i + TEXTS_PER_CALL);
    const r = await s.encoder.embedDetailed(batch, {
      layers: s.layers,
      dims: s.codec.dims,
      ...(s.symmetric ? {} : { kind: 'passage' as const }),
      ...(s.sparse ? { sparse: true } : {}),
      ...(s.signal ? { signal: s.signal } : {}),
    });
    // A user's encoder answers one vector per text, or the rows would go to the wrong documents.
    if (!Array.isArray(r?.vectors) || r.vectors.length !== batch.length)
      throw new InputError(`the encoder returned ${r?.vectors?.length ?? 'no'} vectors for ${batch.length} texts`);
    if (s.sparse && (!Array.isArray(r.sparse) || r.sparse.length !== batch.length))
      throw new InputError(`the encoder returned ${r.sparse?.length ?? 'no'} lexical weights for ${batch.length} texts`);
    vectors.push(...r.vectors.map(checkVector(s.codec.dims)));
    if (s.sparse) sparse.push(...(r.sparse as SparseVector[]).map(storedSparse));
    truncated.push(...batch.map((_, j) => r.truncated?.[j] === true));
    exits.push(...batch.map((_, j) => r.layers?.[j] ?? s.layers));
  }
  const least = firstExit(s.layers);
  for (const e of exits) {
    if (!Number.isInteger(e) || e < least || e > s.layers)
      throw new InputError(`the encoder returned a vector of exit ${e} for layers ${s.layers}`);
  }
  return { vectors, truncated, exits, sparse };
}

/** A vector from the encoder, checked: a Float32Array of `dims` finite numbers. */
const checkVector =
  (dims: number) =>
  (v: unknown): Float32Array => {
    if (!(v instanceof Float32Array)) throw new InputError(`the encoder returned a ${typeName(v)} where a Float32Array belongs`);
    if (v.length !== dims) throw new InputError(`the encoder returned a ${v.length}-number vector for dims ${dims}`);
    if (!v.every(Number.isFinite)) throw new InputError('the encoder returned a vector with a non-finite number');
    return v;
  };

/** A chunk to embed, behind its document's embedded title ('' for none). */
interface TitledText {
  title: string;
  text: string;
}

/**
 * Embeds each chunk behind its title; one the encoder had to truncate (the chunk estimate was
 * short for it) is split in half and its halves embedded instead, each behind the same title, so
 * every piece is embedded whole.
 */
async function embedFitting(items: TitledText[], s: EmbedSettings, depth = 0): Promise<Piece[][]> {
  const { vectors, truncated, exits, sparse } = await embedAll(
    items.map((t) => titledChunk(t.title, t.text)),
    s,
  );
  const out: Piece[][] = items.map(({ text }, i) => [
    { text, vector: vectors[i] as Float32Array, exit: exits[i] as number, sparse: sparse[i] },
  ]);
  const redo = items.flatMap(({ title, text }, i) => {
    if (!truncated[i] || depth >= MAX_SPLITS) return [];
    const halves = chunkText(text, Math.max(1, Math.floor(estimateTokens(text) / 2)));
    return halves.length > 1 ? [{ i, halves: halves.map((half) => ({ title, text: half })) }] : [];
  });
  if (redo.length === 0) return out;
  const again = await embedFitting(
    redo.flatMap((r) => r.halves),
    s,
    depth + 1,
  );
  let next = 0;
  for (const { i, halves } of redo) out[i] = halves.flatMap(() => again[next++] as Piece[]);
  return out;
}

/**
 * The query's vector at `layers` and `dims` (plain text in a symmetric index, else behind the
 * query prefix), checked for its length and exit: it is scored only against rows of that exit.
 */
export async function embedQuery(
  encoder: IndexEncoder,
  query: string,
  layers: number,
  dims: number,
  symmetric: boolean | undefined,
  sparse = false,
): Promise<{ vector: Float32Array; sparse?: StoredSparse }> {
  const r = await encoder.embedDetailed([query], {
    layers,
    dims,
    ...(symmetric ? {} : { kind: 'query' as const }),
    ...(sparse ? { sparse: true } : {}),
  });
  if (!Array.isArray(r?.vectors) || r.vectors.length !== 1)
    throw new InputError(`the encoder returned ${r?.vectors?.length ?? 'no'} vectors for one query`);
  const vector = checkVector(dims)(r.vectors[0]);
  const exit = r.layers?.[0] ?? layers;
  if (exit !== layers) throw new InputError(`the encoder returned a query vector of exit ${exit} for layers ${layers}`);
  return sparse ? { vector, sparse: storedSparse(r.sparse?.[0]) } : { vector };
}

/**
 * The chunks of `docs` (stored earlier, each embedded whole then, behind its document's title)
 * embedded again as passages at exactly `s.layers`, encoded as rows in the documents' order:
 * what replaces rows of a shallower exit.
 */
export async function embedRows(
  docs: readonly { chunks: readonly string[]; title?: string }[],
  s: EmbedSettings,
): Promise<{ words: Uint32Array; scales: Float32Array }> {
  const budget = passageBudget(s);
  const texts = docs.flatMap((d) => {
    const title = embeddedTitle(d.title, budget);
    return d.chunks.map((chunk) => titledChunk(title, chunk));
  });
  const { vectors, exits } = await embedAll(texts, s);
  const shallow = exits.find((e) => e !== s.layers);
  if (shallow !== undefined)
    throw new InputError(`the encoder returned a vector of exit ${shallow} when asked for layers ${s.layers}`);
  const c = s.codec;
  const words = new Uint32Array(vectors.length * c.rowWords);
  const scales = Float32Array.from(vectors, (v, r) => encodeRow(c, v, words.subarray(r * c.rowWords, (r + 1) * c.rowWords)));
  return { words, scales };
}

/** The chunk budget of a passage: the model's token limit less its specials and passage prefix, or chunkTokens if smaller. */
export const passageBudget = (s: Pick<EmbedSettings, 'maxTokens' | 'passagePrefix' | 'chunkTokens'>) =>
  Math.min(s.chunkTokens ?? Number.POSITIVE_INFINITY, chunkBudget(s.maxTokens, s.passagePrefix));

/**
 * The documents chunked to the budget (passageBudget, less what a document's title takes in
 * front of each chunk), embedded as passages and encoded as one segment; `hashes[i]` (docHash of
 * docs[i]) is stored with each.
 */
export async function embedDocs(docs: readonly IndexDoc[], hashes: readonly string[], s: EmbedSettings): Promise<Segment> {
  const budget = passageBudget(s);
  const chunked = docs.map((d) => {
    const title = embeddedTitle(d.title, budget);
    return chunkText(d.text, budgetAfterTitle(title, budget)).map((text) => ({ title, text }));
  });
  const pieces = await embedFitting(chunked.flat(), s);
  const c = s.codec;
  const rows = pieces.reduce((n, p) => n + p.length, 0);
  const words = new Uint32Array(rows * c.rowWords);
  const scales = new Float32Array(rows);
  const chunks: string[][] = [];
  const exits: number[][] = [];
  const weights: StoredSparse[][] = [];
  let row = 0;
  let next = 0;
  for (const d of chunked) {
    const texts: string[] = [];
    const at: number[] = [];
    const sparse: StoredSparse[] = [];
    for (let i = 0; i < d.length; i++) {
      for (const p of pieces[next++] as Piece[]) {
        scales[row] = encodeRow(c, p.vector, words.subarray(row * c.rowWords, (row + 1) * c.rowWords));
        texts.push(p.text);
        at.push(p.exit);
        if (p.sparse) sparse.push(p.sparse);
        row++;
      }
    }
    chunks.push(texts);
    exits.push(at);
    weights.push(sparse);
  }
  return {
    docs: docs.map((d, i) => {
      const at = exits[i] as number[];
      return {
        id: d.id,
        ...(d.title ? { title: d.title } : {}),
        ...(d.meta ? { meta: d.meta } : {}),
        chunks: chunks[i] as string[],
        hash: hashes[i] as string,
        ...(at.some((e) => e < s.layers) ? { exits: at } : {}),
        ...(s.sparse ? { sparse: weights[i] as StoredSparse[] } : {}),
      };
    }),
    words,
    scales,
  };
}
