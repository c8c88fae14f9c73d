import { ModelFormatError } from '../errors.js';
import { bf16BitsToF32, f16BitsToF32 } from './f16.js';

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

/** Header of a .safetensors file: 8-byte little-endian JSON length, the JSON, then raw tensor data. */
export function parseSafetensorsHeader(
  head: Uint8Array,
  fileSize: number,
  source = 'model.safetensors',
): { tensors: Map<string, TensorInfo>; dataStart: number; metadata: Record<string, string> } {
  if (fileSize < 8 || head.length < 8) throw new ModelFormatError(`${source}: truncated file (${fileSize} bytes)`);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > 100_000_000 || 8 + headerLen > fileSize) {
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
    const e = entry as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const bytes = DTYPE_BYTES[e.dtype as SafetensorsDtype];
    if (!bytes) throw new ModelFormatError(`${source}: tensor "${name}" has unsupported dtype ${e.dtype}`);
    if (!Array.isArray(e.shape) || !Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) {
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

/** A whole safetensors file held in memory. */
export class SafetensorsFile {
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

  /** The tensor as f32, checked against the expected shape. */
  get(name: string, shape: readonly number[]): Float32Array {
    const info = this.tensors.get(name);
    if (!info) throw new ModelFormatError(`${this.source}: missing tensor "${name}"`);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new ModelFormatError(`${this.source}: tensor "${name}" has shape [${info.shape}], expected [${shape}]`);
    }
    const raw = this.bytes.subarray(this.dataStart + info.begin, this.dataStart + info.end);
    return decodeToF32(info, raw, name);
  }
}
