import { ModelFormatError } from '../errors.js';

const UTF8 = new TextEncoder();
const TEXT = new TextDecoder('utf-8', { ignoreBOM: true });

/** Where a Darts unit's children start, relative to its own position. */
const childOffset = (unit: number) => (unit >>> 10) << ((unit & (1 << 9)) >>> 6);

/** Bytes in the UTF-8 sequence a lead byte starts (1 for a stray continuation byte). */
const sequenceLength = (lead: number) => (lead < 0xc0 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4);

/**
 * SentencePiece's precompiled character map (normalizer_spec.precompiled_charsmap, which a
 * tokenizer.json carries base64 in its "Precompiled" normalizer and a GGUF in
 * tokenizer.ggml.precompiled_charsmap): a Darts double-array trie over UTF-8 bytes, then the
 * replacement strings it points into, each ending in a zero byte. Normalising replaces the
 * longest prefix the trie knows at each position and copies one character where it knows none,
 * as sentencepiece's Normalizer does. @huggingface/tokenizers reads the map as NFKC plus a few
 * spaces instead, which differs where the map does (U+200D joining an emoji: kept whole here).
 */
export class CharsMap {
  private readonly units: Uint32Array;
  private readonly replacements: Uint8Array;

  constructor(blob: Uint8Array) {
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const size = blob.byteLength >= 4 ? view.getUint32(0, true) : -1;
    if (size < 4 || size % 4 !== 0 || 4 + size > blob.byteLength)
      throw new ModelFormatError('precompiled_charsmap: its trie does not fit the map');
    this.units = new Uint32Array(size / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.replacements = blob.subarray(4 + size);
  }

  /** The charsmap of a tokenizer.json normalizer (base64), or null where it has none. */
  static fromBase64(text: string): CharsMap | null {
    if (text === '') return null;
    const raw = atob(text);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return new CharsMap(bytes);
  }

  normalize(text: string): string {
    const bytes = UTF8.encode(text);
    const out: number[] = [];
    for (let i = 0; i < bytes.length; ) {
      const [length, value] = this.longestPrefix(bytes, i);
      if (length > 0) {
        for (let k = value; k < this.replacements.length && this.replacements[k] !== 0; k++)
          out.push(this.replacements[k] as number);
        i += length;
      } else {
        const end = Math.min(bytes.length, i + sequenceLength(bytes[i] as number));
        for (; i < end; i++) out.push(bytes[i] as number);
      }
    }
    return TEXT.decode(new Uint8Array(out));
  }

  /** Darts-clone's common prefix search from `at`, keeping the longest match: [bytes matched, replacement offset]. */
  private longestPrefix(bytes: Uint8Array, at: number): [number, number] {
    const units = this.units;
    let node = childOffset(units[0] as number);
    let best: [number, number] = [0, 0];
    for (let i = at; i < bytes.length; i++) {
      const byte = bytes[i] as number;
      node ^= byte;
      const unit = units[node];
      // A label holds the byte and, for a node that is a value, bit 31: only a matching plain label goes on.
      if (unit === undefined || (unit & 0x800000ff) !== byte) break;
      node ^= childOffset(unit);
      if ((unit >>> 8) & 1) best = [i - at + 1, (units[node] as number) & 0x7fffffff];
    }
    return best;
  }
}
