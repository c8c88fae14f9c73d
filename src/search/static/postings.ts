import { InputError } from '../../errors.js';

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
    let row = 0;
    let i = w.from;
    const next = () => {
      let v = 0;
      for (let shift = 0; ; shift += 7) {
        const b = this.bytes[i++] as number;
        v += (b & 0x7f) * 2 ** shift;
        if (b < 0x80) return v;
      }
    };
    while (i < w.to) {
      row += next();
      entries.push(row, next());
    }
    return { df: w.df, entries };
  }
}
