import { InputError } from '../../errors.js';
import type { Weighted } from '../sparse-postings.js';

/**
 * A postings shard: u32 header length, a JSON header { terms, df, bytes } (each term, its
 * document frequency and the byte length of its entries), then each term's entries: (row, tf)
 * pairs with rows ascending, as LEB128 varints of the row's gap from the previous one and of tf.
 * Gaps and counts are small, so an entry takes 2-3 bytes instead of 8.
 */
interface Header {
  terms: string[];
  df: number[];
  bytes: number[];
}

/** One term's rows and counts, interleaved (row, tf, row, tf...), rows ascending. */
export type Entries = number[];

function pushVarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

/** The LEB128 varint at `at.i`, moving `at.i` past it. */
function readVarint(bytes: Uint8Array, at: { i: number }): number {
  let v = 0;
  for (let shift = 0; ; shift += 7) {
    const b = bytes[at.i++] as number;
    v += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return v;
  }
}

export function encodeEntries(entries: Entries): Uint8Array {
  const out: number[] = [];
  let prev = 0;
  for (let i = 0; i < entries.length; i += 2) {
    const row = entries[i] as number;
    pushVarint(out, row - prev);
    pushVarint(out, entries[i + 1] as number);
    prev = row;
  }
  return Uint8Array.from(out);
}

/** A shard of `terms` (term, encoded entries, df). */
export function encodeShard(terms: readonly [string, Uint8Array, number][]): Uint8Array {
  const header: Header = { terms: terms.map((t) => t[0]), df: terms.map((t) => t[2]), bytes: terms.map((t) => t[1].length) };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + json.length + header.bytes.reduce((a, b) => a + b, 0));
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  let at = 4 + json.length;
  for (const [, bytes] of terms) {
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}

/** A parsed shard: terms are decoded only when a query asks for them. */
export class PostingsShard {
  private readonly where = new Map<string, { df: number; from: number; to: number }>();

  constructor(
    private readonly bytes: Uint8Array,
    name: string,
  ) {
    const bad = () => new InputError(`${name} is not an m3web postings shard`);
    if (bytes.length < 4) throw bad();
    const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
    let h: Header;
    try {
      h = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length)));
    } catch {
      throw bad();
    }
    let at = 4 + length;
    h.terms.forEach((term, i) => {
      const n = h.bytes[i] as number;
      this.where.set(term, { df: h.df[i] as number, from: at, to: at + n });
      at += n;
    });
    if (at !== bytes.length) throw bad();
  }

  /** The term's document frequency and entries, or null when no row holds it. */
  get(term: string): { df: number; entries: Entries } | null {
    const w = this.where.get(term);
    if (!w) return null;
    const entries: Entries = [];
    const at = { i: w.from };
    let row = 0;
    while (at.i < w.to) {
      row += readVarint(this.bytes, at);
      entries.push(row, readVarint(this.bytes, at));
    }
    return { df: w.df, entries };
  }
}

/**
 * A lexical-weights shard (an index of BGE-M3's or SPLADE's weights): u32 header length, a JSON
 * header { ids, counts, bytes } (each token id, how many rows weigh it, the byte length of its
 * row gaps), then per id its rows as LEB128 gaps, ascending, followed by their f32 weights.
 */
interface WeightsHeader {
  ids: number[];
  counts: number[];
  bytes: number[];
}

/** A shard of `ids` (token id and its rows and weights). */
export function encodeWeightsShard(ids: readonly [number, Weighted][]): Uint8Array {
  const gaps = ids.map(([, w]) => {
    const out: number[] = [];
    let prev = 0;
    for (const row of w.rows) {
      pushVarint(out, row - prev);
      prev = row;
    }
    return Uint8Array.from(out);
  });
  const header: WeightsHeader = {
    ids: ids.map(([id]) => id),
    counts: ids.map(([, w]) => w.rows.length),
    bytes: gaps.map((g) => g.length),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const body = gaps.reduce((n, g, i) => n + g.length + 4 * (header.counts[i] as number), 0);
  const out = new Uint8Array(4 + json.length + body);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length, true);
  out.set(json, 4);
  let at = 4 + json.length;
  ids.forEach(([, w], i) => {
    out.set(gaps[i] as Uint8Array, at);
    at += (gaps[i] as Uint8Array).length;
    for (const x of w.weights) {
      view.setFloat32(at, x, true);
      at += 4;
    }
  });
  return out;
}

/** A parsed lexical-weights shard: an id's entries are decoded only when a query holds it. */
export class WeightsShard {
  private readonly where = new Map<number, { count: number; from: number; weights: number }>();
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    name: string,
  ) {
    const bad = () => new InputError(`${name} is not an m3web lexical-weights shard`);
    if (bytes.length < 4) throw bad();
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const length = this.view.getUint32(0, true);
    let h: WeightsHeader;
    try {
      h = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length)));
    } catch {
      throw bad();
    }
    if (!Array.isArray(h?.ids) || h.counts?.length !== h.ids.length || h.bytes?.length !== h.ids.length) throw bad();
    let at = 4 + length;
    h.ids.forEach((id, i) => {
      const count = h.counts[i] as number;
      const gaps = h.bytes[i] as number;
      this.where.set(id, { count, from: at, weights: at + gaps });
      at += gaps + 4 * count;
    });
    if (at !== bytes.length) throw bad();
  }

  /** The rows weighing token `id` and their weights, or null when no row does. */
  get(id: number): Weighted | null {
    const w = this.where.get(id);
    if (!w) return null;
    const rows: number[] = [];
    const weights: number[] = [];
    const at = { i: w.from };
    let row = 0;
    for (let n = 0; n < w.count; n++) {
      row += readVarint(this.bytes, at);
      rows.push(row);
      weights.push(this.view.getFloat32(w.weights + 4 * n, true));
    }
    return { rows, weights };
  }
}
