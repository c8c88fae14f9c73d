import { ModelFormatError } from '../errors.js';
import type { ByteSource } from './safetensors.js';

/** Protocol buffers' wire types: a varint, 64 bits, a length-delimited run, 32 bits. */
export const WIRE = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;

/** Bytes read ahead from the source at a time: message headers come in runs, tensor data is skipped. */
const WINDOW = 1 << 20;

/**
 * A protocol-buffers message read field by field from a ByteSource through a window of read-ahead,
 * so a multi-GB file whose fields are mostly tensor payloads is walked with a few reads and the
 * payloads are never read (their offsets are kept instead).
 */
export class ProtoReader {
  private buf: Uint8Array = new Uint8Array(0);
  private bufStart = 0;
  pos: number;

  constructor(
    private readonly source: ByteSource,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  /** A reader of the `length` bytes from the current position, which this reader then skips. */
  sub(length: number): ProtoReader {
    const from = this.pos;
    this.skip(length);
    const sub = new ProtoReader(this.source, from, from + length);
    sub.buf = this.buf;
    sub.bufStart = this.bufStart;
    return sub;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A field's key: its number and wire type. */
  async key(): Promise<{ field: number; wire: number }> {
    const k = await this.varint();
    return { field: Math.floor(k / 8), wire: k % 8 };
  }

  async varint(): Promise<number> {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = (await this.bytes(1))[0] as number;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(value)) throw this.error('a varint past 2^53');
        return value;
      }
      scale *= 128;
    }
    throw this.error('a varint longer than 10 bytes');
  }

  /** `n` bytes (a view valid until the next read). */
  async bytes(n: number): Promise<Uint8Array> {
    if (this.pos + n > this.end) throw this.error('a field running past its message');
    const at = this.pos - this.bufStart;
    if (at < 0 || at + n > this.buf.length) {
      const length = Math.min(Math.max(n, WINDOW), this.source.size - this.pos);
      this.buf = await this.source.read(this.pos, length);
      this.bufStart = this.pos;
      if (this.buf.length < n) throw this.error('the file ends inside a field (truncated?)');
    }
    const from = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(from, from + n);
  }

  async string(): Promise<string> {
    return new TextDecoder().decode(await this.bytes(await this.varint()));
  }

  skip(n: number): void {
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
    return new ModelFormatError(`${this.source.name}: not a valid protocol buffer (${what} at byte ${this.pos})`);
  }
}
