import { ModelFormatError } from '../errors.js';
import { bf16BitsToF32, f16BitsToF32 } from '../weights/f16.js';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface TensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range inside the data section (after the header). */
  begin: number;
  end: number;
}

const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8,
  I64: 8,
  F32: 4,
  I32: 4,
  F16: 2,
  BF16: 2,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Real headers are a few hundred kB even for 256k-vocab models; anything bigger is corrupt. */
const MAX_HEADER_BYTES = 100_000_000;

/** Header of a .safetensors file: 8-byte little-endian JSON length, the JSON, then raw tensor data. */
export function parseSafetensorsHeader(
  head: Uint8Array,
  fileSize: number,
  source = 'model.safetensors',
): { tensors: Map<string, TensorInfo>; dataStart: number; metadata: Record<string, string> } {
  if (fileSize < 8 || head.length < 8) throw new ModelFormatError(`${source}: truncated file (${fileSize} bytes)`);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES || 8 + headerLen > fileSize) {
    throw new ModelFormatError(`${source}: header length ${headerLen} does not fit a ${fileSize}-byte file`);
  }
  if (head.length < 8 + headerLen) throw new RangeError('parseSafetensorsHeader needs the whole header');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(head.subarray(8, 8 + headerLen)));
  } catch (cause) {
    throw new ModelFormatError(`${source}: header is not valid JSON`, { cause });
  }
  if (typeof json !== 'object' || json === null) throw new ModelFormatError(`${source}: header is not an object`);
  const dataStart = 8 + headerLen;
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    if (typeof entry !== 'object' || entry === null) throw new ModelFormatError(`${source}: tensor "${name}" is not an object`);
    const e = entry as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const bytes = Object.hasOwn(DTYPE_BYTES, e.dtype ?? '') ? DTYPE_BYTES[e.dtype as SafetensorsDtype] : 0;
    if (!bytes) throw new ModelFormatError(`${source}: tensor "${name}" has unsupported dtype ${e.dtype}`);
    const isCount = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
    if (
      !Array.isArray(e.shape) ||
      !e.shape.every(isCount) ||
      !Array.isArray(e.data_offsets) ||
      e.data_offsets.length !== 2 ||
      !e.data_offsets.every(isCount)
    ) {
      throw new ModelFormatError(`${source}: tensor "${name}" lacks shape or data_offsets`);
    }
    const [begin, end] = e.data_offsets;
    const count = e.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * bytes) {
      throw new ModelFormatError(
        `${source}: tensor "${name}" holds ${end - begin} bytes but shape [${e.shape}] ${e.dtype} needs ${count * bytes}`,
      );
    }
    if (begin < 0 || end > dataSize) {
      throw new ModelFormatError(
        `${source}: tensor "${name}" ends at byte ${end} but the file has ${dataSize} data bytes (truncated file?)`,
      );
    }
    tensors.set(name, { dtype: e.dtype as SafetensorsDtype, shape: e.shape, begin, end });
  }
  return { tensors, dataStart, metadata };
}

/**
 * Decodes raw bytes of one tensor (all of it, or a run of its rows) to f32, whatever float or
 * integer dtype it was saved in, into `out` where given (at least as long) or a new array.
 * Integers past 2^24 lose precision in f32: the integer tensors m3web reads (model2vec's token
 * mapping, its int8 tables) stay far below.
 */
export function decodeToF32(info: TensorInfo, bytes: Uint8Array, name: string, out?: Float32Array): Float32Array {
  const n = bytes.byteLength / DTYPE_BYTES[info.dtype];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (out) out = out.subarray(0, n);
  else out = new Float32Array(n);
  switch (info.dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16BitsToF32(view.getUint16(i * 2, true));
      return out;
    case 'BF16':
      for (let i = 0; i < n; i++) out[i] = bf16BitsToF32(view.getUint16(i * 2, true));
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      return out;
    case 'U8':
      for (let i = 0; i < n; i++) out[i] = view.getUint8(i);
      return out;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
      return out;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
      return out;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      return out;
    default:
      throw new ModelFormatError(`tensor "${name}" has dtype ${info.dtype}; a number dtype is required`);
  }
}

/** Named f32 tensors by name, read from one checkpoint file, several shards, or memory. */
export interface TensorSource {
  has(name: string): boolean;
  names(): Iterable<string>;
  /** The tensor's shape as stored (undefined for a missing one): what a config that omits a size is completed from. */
  shape(name: string): readonly number[] | undefined;
  /** The tensor as f32, checked against the expected shape. */
  get(name: string, shape: readonly number[]): Float32Array | Promise<Float32Array>;
  /**
   * Rows [from, to) of the tensor's first dimension as f32, checked against the expected shape:
   * a large matrix is converted a block at a time instead of being decoded whole. The block may
   * live in memory the source reuses: it is valid until the next read from this source.
   */
  getRows(name: string, shape: readonly number[], from: number, to: number): Float32Array | Promise<Float32Array>;
}

/** The byte range of rows [from, to) inside a tensor's data (a row: everything past the first dimension). */
function rowBytes(source: string, name: string, info: TensorInfo, from: number, to: number): [number, number] {
  const rows = info.shape[0] ?? 1;
  if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to <= rows))
    throw new RangeError(`${source}: rows ${from}..${to} of tensor "${name}" outside 0..${rows}`);
  const row = rows === 0 ? 0 : (info.end - info.begin) / rows;
  return [info.begin + from * row, info.begin + to * row];
}

/** Random access to a file's bytes: a Node file handle, a browser File/Blob, or memory. */
export interface ByteSource {
  readonly name: string;
  readonly size: number;
  /**
   * `length` bytes from `offset`. With `into` (at least `length` bytes, free to reuse) a source
   * may read into it instead of a new buffer, and may move its memory into the array it returns.
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
}

/** Bytes already in memory as a ByteSource. */
export function bytesSource(bytes: Uint8Array, name: string): ByteSource {
  return { name, size: bytes.length, read: async (offset, length) => bytes.subarray(offset, offset + length) };
}

export function blobSource(blob: Blob, name: string): ByteSource {
  return {
    name,
    size: blob.size,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}

export function checkShape<T extends { shape: readonly number[] }>(
  source: string,
  name: string,
  info: T | undefined,
  shape: readonly number[],
): T {
  if (!info) throw new ModelFormatError(`${source}: missing tensor "${name}"`);
  if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
    throw new ModelFormatError(`${source}: tensor "${name}" has shape [${info.shape}], expected [${shape}]`);
  }
  return info;
}

/**
 * getRows' reused memory: the raw bytes of the last block and, for dtypes other than F32, its f32
 * values. Reading into the same memory block after block (and using an F32 block where it lies)
 * matters: a conversion that drops a buffer per block leaves the whole checkpoint, twice over,
 * for the garbage collector, which in a browser runs only after tens of MB of such buffers.
 */
export class BlockMemory {
  private raw: Uint8Array = new Uint8Array(0);
  private values = new Float32Array(0);

  /** `read` fetches the block's bytes, into the memory it is given where it can. */
  async decode(info: TensorInfo, name: string, read: (into: Uint8Array) => Promise<Uint8Array>): Promise<Float32Array> {
    const raw = await read(this.raw);
    // Bytes at the start of a buffer came in one of their own (or in the one given): the block memory from now on.
    if (raw.byteOffset === 0) this.raw = new Uint8Array(raw.buffer);
    if (info.dtype === 'F32' && raw.byteOffset % 4 === 0) return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    const n = raw.byteLength / DTYPE_BYTES[info.dtype];
    if (this.values.length < n) this.values = new Float32Array(n);
    return decodeToF32(info, raw, name, this.values);
  }
}

/**
 * A safetensors file read tensor by tensor: only the header and the tensor asked for are in
 * memory, so converting a multi-GB checkpoint never holds a second copy of it.
 */
export class SafetensorsReader implements TensorSource {
  private readonly blocks = new BlockMemory();

  private constructor(
    private readonly source: ByteSource,
    readonly tensors: Map<string, TensorInfo>,
    private readonly dataStart: number,
  ) {}

  static async open(source: ByteSource): Promise<SafetensorsReader> {
    const { size, name } = source;
    if (size < 8) throw new ModelFormatError(`${name}: truncated file (${size} bytes)`);
    const lenBytes = await source.read(0, 8);
    const headerLen = Number(new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true));
    // Checked before reading the header, so a header claiming gigabytes allocates nothing.
    if (headerLen > MAX_HEADER_BYTES || 8 + headerLen > size) {
      throw new ModelFormatError(`${name}: header length ${headerLen} does not fit a ${size}-byte file`);
    }
    const head = await source.read(0, 8 + headerLen);
    const parsed = parseSafetensorsHeader(head, size, name);
    return new SafetensorsReader(source, parsed.tensors, parsed.dataStart);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  shape(name: string): readonly number[] | undefined {
    return this.tensors.get(name)?.shape;
  }

  names(): Iterable<string> {
    return this.tensors.keys();
  }

  async get(name: string, shape: readonly number[]): Promise<Float32Array> {
    const info = checkShape(this.source.name, name, this.tensors.get(name), shape);
    return decodeToF32(info, await this.readBytes(name, info, 0, shape[0] ?? 1), name);
  }

  getRows(name: string, shape: readonly number[], from: number, to: number): Promise<Float32Array> {
    const info = checkShape(this.source.name, name, this.tensors.get(name), shape);
    return this.blocks.decode(info, name, (into) => this.readBytes(name, info, from, to, into));
  }

  private async readBytes(name: string, info: TensorInfo, from: number, to: number, into?: Uint8Array): Promise<Uint8Array> {
    const [begin, end] = rowBytes(this.source.name, name, info, from, to);
    const length = end - begin;
    const raw = await this.source.read(this.dataStart + begin, length, into && into.byteLength >= length ? into : undefined);
    if (raw.length !== length) throw new ModelFormatError(`${this.source.name}: truncated while reading "${name}"`);
    return raw;
  }
}

/** A checkpoint split over several files, as listed by model.safetensors.index.json. */
export class ShardedTensors implements TensorSource {
  constructor(private readonly byName: Map<string, TensorSource>) {}

  /** `weightMap` is the index's weight_map (tensor name -> file name). */
  static fromIndex(
    weightMap: unknown,
    files: Map<string, TensorSource>,
    indexName = 'model.safetensors.index.json',
  ): ShardedTensors {
    if (typeof weightMap !== 'object' || weightMap === null)
      throw new ModelFormatError(`${indexName}: "weight_map" must be an object`);
    const byName = new Map<string, TensorSource>();
    for (const [tensor, file] of Object.entries(weightMap)) {
      const source = files.get(file as string);
      if (!source) throw new ModelFormatError(`${indexName}: tensor "${tensor}" is in ${String(file)}, which is missing`);
      if (!source.has(tensor)) throw new ModelFormatError(`${String(file)}: missing tensor "${tensor}" listed in ${indexName}`);
      byName.set(tensor, source);
    }
    return new ShardedTensors(byName);
  }

  /**
   * Opens the shards an index (model.safetensors.index.json, pytorch_model.bin.index.json) lists:
   * `open` gives a shard's bytes by file name, `reader` reads them.
   */
  static async open(
    index: unknown,
    indexName: string,
    open: (file: string) => Promise<ByteSource>,
    reader: (source: ByteSource) => Promise<TensorSource>,
  ): Promise<ShardedTensors> {
    const weightMap = (index as { weight_map?: unknown } | undefined)?.weight_map;
    if (typeof weightMap !== 'object' || weightMap === null)
      throw new ModelFormatError(`${indexName}: "weight_map" must be an object`);
    const files = new Set(Object.values(weightMap));
    for (const f of files) {
      if (typeof f !== 'string' || !/^[\w.-]+$/.test(f))
        throw new ModelFormatError(`${indexName} names a strange shard file ${JSON.stringify(f)}`);
    }
    const readers = await Promise.all([...(files as Set<string>)].map(async (f) => [f, await reader(await open(f))] as const));
    return ShardedTensors.fromIndex(weightMap, new Map(readers), indexName);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  shape(name: string): readonly number[] | undefined {
    return this.byName.get(name)?.shape(name);
  }

  names(): Iterable<string> {
    return this.byName.keys();
  }

  get(name: string, shape: readonly number[]): Float32Array | Promise<Float32Array> {
    return this.file(name).get(name, shape);
  }

  getRows(name: string, shape: readonly number[], from: number, to: number): Float32Array | Promise<Float32Array> {
    return this.file(name).getRows(name, shape, from, to);
  }

  private file(name: string): TensorSource {
    const source = this.byName.get(name);
    if (!source) throw new ModelFormatError(`checkpoint: missing tensor "${name}"`);
    return source;
  }
}

/** A whole safetensors file held in memory. */
export class SafetensorsFile implements TensorSource {
  readonly tensors: Map<string, TensorInfo>;
  private readonly dataStart: number;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly source = 'model.safetensors',
  ) {
    const parsed = parseSafetensorsHeader(bytes, bytes.length, source);
    this.tensors = parsed.tensors;
    this.dataStart = parsed.dataStart;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  shape(name: string): readonly number[] | undefined {
    return this.tensors.get(name)?.shape;
  }

  names(): Iterable<string> {
    return this.tensors.keys();
  }

  get(name: string, shape: readonly number[]): Float32Array {
    return this.getRows(name, shape, 0, shape[0] ?? 1);
  }

  getRows(name: string, shape: readonly number[], from: number, to: number): Float32Array {
    const info = checkShape(this.source, name, this.tensors.get(name), shape);
    const [begin, end] = rowBytes(this.source, name, info, from, to);
    return decodeToF32(info, this.bytes.subarray(this.dataStart + begin, this.dataStart + end), name);
  }
}

/** F32 tensors as one safetensors file, in the order given (the header padded to 8 bytes, as Hugging Face writes it). */
export function safetensorsBytes(tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const head = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  head.set(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}
