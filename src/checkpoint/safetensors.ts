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

/** Decodes one tensor's raw bytes to f32, whatever float dtype it was saved in. */
export function decodeToF32(info: TensorInfo, bytes: Uint8Array, name: string): Float32Array {
  const n = (info.end - info.begin) / DTYPE_BYTES[info.dtype];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
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
    default:
      throw new ModelFormatError(`tensor "${name}" has dtype ${info.dtype}; a float dtype is required`);
  }
}

/** Named f32 tensors by name, read from one checkpoint file, several shards, or memory. */
export interface TensorSource {
  has(name: string): boolean;
  names(): Iterable<string>;
  /** The tensor as f32, checked against the expected shape. */
  get(name: string, shape: readonly number[]): Float32Array | Promise<Float32Array>;
}

/** Random access to a file's bytes: a Node file handle, a browser File/Blob, or memory. */
export interface ByteSource {
  readonly name: string;
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function blobSource(blob: Blob, name: string): ByteSource {
  return {
    name,
    size: blob.size,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}

function checkShape(source: string, name: string, info: TensorInfo | undefined, shape: readonly number[]): TensorInfo {
  if (!info) throw new ModelFormatError(`${source}: missing tensor "${name}"`);
  if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
    throw new ModelFormatError(`${source}: tensor "${name}" has shape [${info.shape}], expected [${shape}]`);
  }
  return info;
}

/**
 * A safetensors file read tensor by tensor: only the header and the tensor asked for are in
 * memory, so converting a multi-GB checkpoint never holds a second copy of it.
 */
export class SafetensorsReader implements TensorSource {
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

  names(): Iterable<string> {
    return this.tensors.keys();
  }

  async get(name: string, shape: readonly number[]): Promise<Float32Array> {
    const info = checkShape(this.source.name, name, this.tensors.get(name), shape);
    const raw = await this.source.read(this.dataStart + info.begin, info.end - info.begin);
    if (raw.length !== info.end - info.begin)
      throw new ModelFormatError(`${this.source.name}: truncated while reading "${name}"`);
    return decodeToF32(info, raw, name);
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

  has(name: string): boolean {
    return this.byName.has(name);
  }

  names(): Iterable<string> {
    return this.byName.keys();
  }

  get(name: string, shape: readonly number[]): Float32Array | Promise<Float32Array> {
    const source = this.byName.get(name);
    if (!source) throw new ModelFormatError(`checkpoint: missing tensor "${name}"`);
    return source.get(name, shape);
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

  names(): Iterable<string> {
    return this.tensors.keys();
  }

  get(name: string, shape: readonly number[]): Float32Array {
    const info = checkShape(this.source, name, this.tensors.get(name), shape);
    const raw = this.bytes.subarray(this.dataStart + info.begin, this.dataStart + info.end);
    return decodeToF32(info, raw, name);
  }
}
