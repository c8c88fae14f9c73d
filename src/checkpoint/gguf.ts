import { ModelFormatError, UnsupportedError } from '../errors.js';
import { GGML_TYPES, OTHER_GGML_TYPES } from './gguf-quants.js';
import type { ByteSource } from './safetensors.js';

const READ_TYPES = Object.values(GGML_TYPES)
  .map((t) => t.name)
  .join(', ');

/** A metadata value: numbers (64-bit integers as numbers), booleans, strings and arrays of them. */
export type GgufValue = number | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** Slowest dimension first, as numpy and safetensors give it (GGUF stores ne[0], the fastest, first). */
  shape: number[];
  /** The ggml type id. */
  type: number;
  /** Byte range in the file. */
  begin: number;
  end: number;
}

const MAGIC = 0x46554747; // "GGUF", little-endian
/** The largest header read: a 262k-token vocabulary with scores and merges is ~10 MB; more means a corrupt count. */
const MAX_HEADER_BYTES = 1 << 28;
const FIRST_READ = 1 << 20;

/** A vocabulary's pieces may begin with U+FEFF (Gemma's "\ufeff//"): kept, not read as a byte-order mark. */
const UTF8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** The header continues past the bytes read so far: read at least `bytes` and parse again. */
class NeedMore {
  constructor(readonly bytes: number) {}
}

class Cursor {
  private readonly view: DataView;
  pos = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly fileSize: number,
    private readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number): number {
    const at = this.pos;
    if (at + n > this.bytes.length) {
      if (at + n > this.fileSize) throw new ModelFormatError(`${this.source}: the header runs past the end of the file`);
      throw new NeedMore(at + n);
    }
    this.pos += n;
    return at;
  }

  u8 = () => this.view.getUint8(this.need(1));
  i8 = () => this.view.getInt8(this.need(1));
  u16 = () => this.view.getUint16(this.need(2), true);
  i16 = () => this.view.getInt16(this.need(2), true);
  u32 = () => this.view.getUint32(this.need(4), true);
  i32 = () => this.view.getInt32(this.need(4), true);
  f32 = () => this.view.getFloat32(this.need(4), true);
  f64 = () => this.view.getFloat64(this.need(8), true);
  i64 = () => Number(this.view.getBigInt64(this.need(8), true));
  u64 = () => Number(this.view.getBigUint64(this.need(8), true));

  /** A count or size: it must fit in what is left of the file, which also bounds every allocation. */
  count(what: string, each = 1): number {
    const n = this.view.getBigUint64(this.need(8), true);
    if (n * BigInt(each) > BigInt(this.fileSize - this.pos))
      throw new ModelFormatError(`${this.source}: ${what} ${n} does not fit the ${this.fileSize}-byte file`);
    return Number(n);
  }

  string(): string {
    const n = this.count('string length');
    const at = this.need(n);
    return UTF8.decode(this.bytes.subarray(at, at + n));
  }
}

const SCALARS: Readonly<Record<number, (c: Cursor) => GgufValue>> = {
  0: (c) => c.u8(),
  1: (c) => c.i8(),
  2: (c) => c.u16(),
  3: (c) => c.i16(),
  4: (c) => c.u32(),
  5: (c) => c.i32(),
  6: (c) => c.f32(),
  7: (c) => c.u8() !== 0,
  8: (c) => c.string(),
  10: (c) => c.u64(),
  11: (c) => c.i64(),
  12: (c) => c.f64(),
};

function readValue(c: Cursor, type: number, key: string, source: string, depth = 0): GgufValue {
  if (type === 9) {
    if (depth > 2) throw new ModelFormatError(`${source}: metadata ${key} nests arrays too deep`);
    const inner = c.u32();
    const n = c.count(`metadata ${key}'s length`);
    const out: GgufValue[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = readValue(c, inner, key, source, depth + 1);
    return out;
  }
  const read = SCALARS[type];
  if (!read) throw new ModelFormatError(`${source}: metadata ${key} has unknown value type ${type}`);
  return read(c);
}

interface Header {
  metadata: Map<string, GgufValue>;
  tensors: Map<string, GgufTensorInfo>;
}

function parseHeader(bytes: Uint8Array, fileSize: number, source: string): Header {
  const c = new Cursor(bytes, fileSize, source);
  if (c.u32() !== MAGIC) throw new ModelFormatError(`${source} is not a GGUF file (no "GGUF" magic)`);
  const version = c.u32();
  if (version !== 2 && version !== 3)
    throw new UnsupportedError(`${source} is GGUF version ${version}; m3web reads versions 2 and 3`);
  const tensorCount = c.count('tensor count', 24);
  const kvCount = c.count('metadata count', 13);
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string();
    metadata.set(key, readValue(c, c.u32(), key, source));
  }
  const alignment = metadata.get('general.alignment') ?? 32;
  if (typeof alignment !== 'number' || alignment < 1 || alignment > 1 << 20 || (alignment & (alignment - 1)) !== 0)
    throw new ModelFormatError(`${source}: general.alignment ${String(alignment)} is not a power of two`);
  const infos: { name: string; ne: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string();
    const dims = c.u32();
    if (dims < 1 || dims > 4) throw new ModelFormatError(`${source}: tensor "${name}" has ${dims} dimensions`);
    const ne: number[] = [];
    for (let d = 0; d < dims; d++) ne.push(c.count(`tensor "${name}"'s dimension`));
    infos.push({ name, ne, type: c.u32(), offset: c.count(`tensor "${name}"'s offset`) });
  }
  const dataStart = Math.ceil(c.pos / alignment) * alignment;
  const tensors = new Map<string, GgufTensorInfo>();
  for (const { name, ne, type, offset } of infos) {
    if (tensors.has(name)) throw new ModelFormatError(`${source}: tensor "${name}" appears twice`);
    const known = GGML_TYPES[type];
    const values = ne.reduce((a, b) => a * b, 1);
    // A type m3web does not decode gets its size checked when a model asks for it (refused there by name).
    const size = known ? (values / known.block) * known.bytes : 0;
    if (known && (ne[0] as number) % known.block !== 0)
      throw new ModelFormatError(
        `${source}: tensor "${name}" (${known.name}) has rows of ${ne[0]}, not whole blocks of ${known.block}`,
      );
    const begin = dataStart + offset;
    if (offset % alignment !== 0 || begin + size > fileSize)
      throw new ModelFormatError(
        `${source}: tensor "${name}" at offset ${offset} (${size} bytes) lies outside the ${fileSize}-byte file`,
      );
    tensors.set(name, { name, shape: [...ne].reverse(), type, begin, end: begin + size });
  }
  return { metadata, tensors };
}

/**
 * A GGUF file (llama.cpp's format: metadata, then tensors stored as ggml types) read tensor by
 * tensor: the header is read first (growing the read until it is whole), each tensor when asked
 * for, decoded to f32.
 */
export class GgufFile {
  private constructor(
    private readonly source: ByteSource,
    readonly metadata: ReadonlyMap<string, GgufValue>,
    readonly tensors: ReadonlyMap<string, GgufTensorInfo>,
  ) {}

  static async open(source: ByteSource): Promise<GgufFile> {
    let length = Math.min(source.size, FIRST_READ);
    for (;;) {
      const bytes = await source.read(0, length);
      try {
        const { metadata, tensors } = parseHeader(bytes, source.size, source.name);
        return new GgufFile(source, metadata, tensors);
      } catch (err) {
        if (!(err instanceof NeedMore)) throw err;
        if (length >= MAX_HEADER_BYTES)
          throw new ModelFormatError(`${source.name}: a GGUF header over ${MAX_HEADER_BYTES} bytes (a corrupt count?)`);
        length = Math.min(source.size, MAX_HEADER_BYTES, Math.max(2 * length, err.bytes + FIRST_READ));
      }
    }
  }

  get name(): string {
    return this.source.name;
  }

  /**
   * Rows [from, to) of the tensor, a row being its first (slowest) dimension's, or `width` values
   * where a 3-D tensor is read as a matrix (llama.cpp's [experts, rows, columns] as transformers'
   * stacked [experts x rows, columns]).
   */
  async rows(name: string, from: number, to: number, width?: number): Promise<Float32Array> {
    const info = this.tensors.get(name);
    if (!info) throw new ModelFormatError(`${this.source.name}: missing tensor "${name}"`);
    const type = GGML_TYPES[info.type];
    if (!type) {
      const known = OTHER_GGML_TYPES[info.type];
      throw new UnsupportedError(
        `${this.source.name}: tensor "${name}" is stored as ${known ?? `ggml type ${info.type}`}; m3web reads ${READ_TYPES} (pick another quantization of the model)`,
      );
    }
    const values = info.shape.reduce((a, b) => a * b, 1);
    const perRow = width ?? info.shape.slice(1).reduce((a, b) => a * b, 1);
    if (perRow % type.block !== 0 || values % perRow !== 0)
      throw new ModelFormatError(`${this.source.name}: tensor "${name}" read in rows of ${perRow} values`);
    const rows = values / perRow;
    if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to <= rows))
      throw new RangeError(`${this.source.name}: rows ${from}..${to} of tensor "${name}" outside 0..${rows}`);
    const rowBytes = (perRow / type.block) * type.bytes;
    const count = (to - from) * perRow;
    const bytes = await this.source.read(info.begin + from * rowBytes, (to - from) * rowBytes);
    const out = new Float32Array(count);
    type.run(bytes, count, out);
    return out;
  }
}

/** A metadata value by key, checked to be a number (or absent: undefined). */
export function ggufNumber(file: GgufFile, key: string): number | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new ModelFormatError(`${file.name}: metadata ${key} is ${JSON.stringify(v)}, not a number`);
  return v;
}

/** A metadata array by key, checked to hold only values of `kind` (or absent: undefined). */
export function ggufArray<K extends 'string' | 'number'>(
  file: GgufFile,
  key: string,
  kind: K,
): (K extends 'string' ? string : number)[] | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== kind))
    throw new ModelFormatError(`${file.name}: metadata ${key} is not an array of ${kind}s`);
  return v as (K extends 'string' ? string : number)[];
}
