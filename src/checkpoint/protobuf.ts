import { ModelFormatError } from '../errors.js';
import type { ByteSource } from './safetensors.js';

/** Protocol buffers' wire types: a varint, 64 bits, a length-delimited run, 32 bits. */
export const WIRE = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;

/**
 * Read-ahead, in bytes. Over the network each refill is a Range request, and an initializer's
 * header sits right before its payload, which is skipped: after a jump the reader takes a small
 * window (a header is a few hundred bytes), and doubles it while it reads on without jumping
 * (the node list, a long run of small messages).
 */
const FIRST_WINDOW = 1 << 12;
const MAX_WINDOW = 1 << 20;

/** The read-ahead a reader and the readers of its fields share, so a nested message reads on from it. */
class Window {
  buf: Uint8Array = new Uint8Array(0);
  start = 0;
  size = FIRST_WINDOW;

  constructor(readonly source: ByteSource) {}

  /** The `n` bytes at `pos`, refilling from the source where they are not held. */
  async at(pos: number, n: number): Promise<Uint8Array> {
    if (pos < this.start || pos + n > this.start + this.buf.length) {
      const onward = pos >= this.start && pos <= this.start + this.buf.length;
      this.size = onward ? Math.min(2 * this.size, MAX_WINDOW) : FIRST_WINDOW;
      this.buf = await this.source.read(pos, Math.min(Math.max(n, this.size), this.source.size - pos));
      this.start = pos;
    }
    return this.buf.subarray(pos - this.start, pos - this.start + n);
  }
}

/**
 * A protocol-buffers message read field by field from a ByteSource through a window of read-ahead,
 * so a multi-GB file whose fields are mostly tensor payloads is walked with a few reads and the
 * payloads are never read (their offsets are kept instead).
 */
export class ProtoReader {
  pos: number;

  constructor(
    source: ByteSource,
    start: number,
    readonly end: number,
    private readonly window = new Window(source),
  ) {
    this.pos = start;
  }

  /** A reader of the `length` bytes from the current position, which this reader then skips. */
  sub(length: number): ProtoReader {
    const from = this.pos;
    this.skip(length);
    return new ProtoReader(this.window.source, from, from + length, this.window);
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A field's key: its number and wire type. */
  async key(): Promise<{ field: number; wire: number }> {
    const k = await this.varint();
    return { field: Math.floor(k / 8), wire: k % 8 };
  }

  /**
   * A varint as a number; a negative int32 / int64 (ten bytes, two's complement over 64 bits: a
   * SentencePiece model's `bos_id: -1`) as that negative number.
   */
  async varint(): Promise<number> {
    let value = 0;
    let scale = 1;
    let big = 0n;
    for (let i = 0; i < 10; i++) {
      const b = (await this.bytes(1))[0] as number;
      value += (b & 0x7f) * scale;
      big |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) {
        if (Number.isSafeInteger(value)) return value;
        const signed = Number(BigInt.asIntN(64, big));
        if (!Number.isSafeInteger(signed)) throw this.error('a varint past 2^53');
        return signed;
      }
      scale *= 128;
    }
    throw this.error('a varint longer than 10 bytes');
  }

  /** `n` bytes (a view valid until the next read). */
  async bytes(n: number): Promise<Uint8Array> {
    if (n < 0) throw this.error('a negative length');
    if (this.pos + n > this.end) throw this.error('a field running past its message');
    const out = await this.window.at(this.pos, n);
    if (out.length < n) throw this.error('the file ends inside a field (truncated?)');
    this.pos += n;
    return out;
  }

  async string(): Promise<string> {
    return new TextDecoder().decode(await this.bytes(await this.varint()));
  }

  skip(n: number): void {
    if (n < 0) throw this.error('a negative length');
    if (this.pos + n > this.end) throw this.error('a field running past its message');
    this.pos += n;
  }

  /** Skips the value of a field of this wire type. */
  async skipValue(wire: number): Promise<void> {
    if (wire === WIRE.varint) await this.varint();
    else if (wire === WIRE.fixed64) this.skip(8);
    else if (wire === WIRE.bytes) this.skip(await this.varint());
    else if (wire === WIRE.fixed32) this.skip(4);
    else throw this.error(`wire type ${wire}`);
  }

  private error(what: string): ModelFormatError {
    return new ModelFormatError(`${this.window.source.name}: not a valid protocol buffer (${what} at byte ${this.pos})`);
  }
}
