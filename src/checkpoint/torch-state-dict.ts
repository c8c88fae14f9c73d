import { ModelFormatError } from '../errors.js';
import { decodeToF32, type SafetensorsDtype } from './safetensors.js';

/**
 * Small `torch.save(module.state_dict())` files (BGE-M3's sparse_linear.pt, colbert_linear.pt) in the zip
 * format torch writes since 1.6. Unpickling runs whatever the file names, so this is a pickle interpreter
 * restricted to what a dict of float tensors needs: no code runs, and any other opcode or global is refused.
 */
export interface TorchTensor {
  shape: number[];
  data: Float32Array;
}

/** These heads are a few MB at most: the caps only keep a corrupt file from allocating wildly. */
const MAX_PICKLE_BYTES = 1 << 20;
const MAX_STORAGE_BYTES = 512 << 20;
const MAX_ELEMENTS = 128 << 20;

const STORAGES: Record<string, { dtype: SafetensorsDtype; bytes: number }> = {
  FloatStorage: { dtype: 'F32', bytes: 4 },
  HalfStorage: { dtype: 'F16', bytes: 2 },
  BFloat16Storage: { dtype: 'BF16', bytes: 2 },
  DoubleStorage: { dtype: 'F64', bytes: 8 },
};
const CALLABLES = new Set(['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_parameter']);

class Global {
  constructor(
    readonly name: string,
    readonly storage?: { dtype: SafetensorsDtype; bytes: number },
  ) {}
}
class Tensor implements TorchTensor {
  constructor(
    readonly shape: number[],
    readonly data: Float32Array,
  ) {}
}
type Value = null | boolean | number | string | Value[] | Map<Value, Value> | Global | Float32Array | Tensor;

const fail = (file: string, message: string) => new ModelFormatError(`${file}: ${message}`);
/** Names come from the file: a corrupt one must not put control characters or a megabyte into a message. */
const quote = (text: string) => JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}...` : text);

/** `name` is used in error messages (e.g. 'sparse_linear.pt'). */
export function readTorchStateDict(bytes: Uint8Array, name: string): Map<string, TorchTensor> {
  if (bytes[0] === 0x80) {
    throw fail(name, 'is in the legacy torch.save format; re-save it with torch >= 1.6 default serialization');
  }
  const zip = readZip(bytes, name);
  const pkl = [...zip.keys()].find((entry) => /^[^/]+\/data\.pkl$/.test(entry));
  if (!pkl) throw fail(name, 'holds no <archive>/data.pkl: not a torch.save file');
  const prefix = pkl.slice(0, -'data.pkl'.length);
  const order = zip.get(`${prefix}byteorder`);
  if (order) {
    const byteorder = new TextDecoder().decode(entryData(bytes, name, `${prefix}byteorder`, order));
    if (byteorder !== 'little') throw fail(name, `storages are saved with byteorder ${quote(byteorder)}; only "little" is read`);
  }
  const pickle = entryData(bytes, name, pkl, zip.get(pkl) as ZipEntry);
  if (pickle.length > MAX_PICKLE_BYTES) throw fail(name, `data.pkl holds ${pickle.length} bytes, too many for a state dict`);
  const storage = (key: string) => {
    const entry = zip.get(`${prefix}data/${key}`);
    if (!entry) throw fail(name, `storage ${quote(key)} is missing from the archive`);
    return entryData(bytes, name, `${prefix}data/${key}`, entry);
  };
  return stateDict(new Unpickler(pickle, name, storage).run(), name);
}

function stateDict(result: Value, file: string): Map<string, TorchTensor> {
  if (!(result instanceof Map)) throw fail(file, `holds a ${kind(result)}, not a dict of tensors`);
  for (const [key, value] of result) {
    if (typeof key !== 'string') throw fail(file, `has a ${kind(key)} key; a state dict's keys are names`);
    if (!(value instanceof Tensor)) throw fail(file, `${quote(key)} is a ${kind(value)}, not a tensor`);
  }
  return result as Map<string, TorchTensor>;
}

function kind(v: Value): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'tuple';
  if (v instanceof Map) return 'dict';
  if (v instanceof Global) return v.name;
  if (v instanceof Float32Array) return 'storage';
  if (v instanceof Tensor) return 'tensor';
  return typeof v === 'number' ? 'int' : typeof v === 'string' ? 'str' : 'bool';
}

interface ZipEntry {
  /** Of the local header, whose own name and extra lengths (torch pads there) place the data. */
  header: number;
  size: number;
  compressed: number;
  method: number;
  flags: number;
}

function uint(bytes: Uint8Array, at: number, width: 1 | 2 | 4, file: string): number {
  if (at < 0 || at + width > bytes.length) throw fail(file, 'truncated or corrupt zip archive');
  let v = 0;
  for (let i = width - 1; i >= 0; i--) v = v * 256 + (bytes[at + i] as number);
  return v;
}

/** The end record's offset: it closes the file, though a comment of up to 64 KiB may follow it. */
function endRecord(bytes: Uint8Array, file: string): number {
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff); at--) {
    if (uint(bytes, at, 4, file) === 0x06054b50 && at + 22 + uint(bytes, at + 20, 2, file) === bytes.length) return at;
  }
  throw fail(file, 'is not a zip archive (torch.save writes one since 1.6)');
}

/** torch >= 1.6 also writes zip64 end records, but the plain one holds the real values while a file is under 4 GiB. */
function readZip(bytes: Uint8Array, file: string): Map<string, ZipEntry> {
  const end = endRecord(bytes, file);
  const count = uint(bytes, end + 10, 2, file);
  let at = uint(bytes, end + 16, 4, file);
  if (count === 0xffff || at === 0xffffffff) throw fail(file, 'is a zip64 archive, far larger than a state dict head');
  const entries = new Map<string, ZipEntry>();
  for (let i = 0; i < count; i++) {
    if (uint(bytes, at, 4, file) !== 0x02014b50) throw fail(file, 'corrupt zip central directory');
    const nameLength = uint(bytes, at + 28, 2, file);
    if (at + 46 + nameLength > bytes.length) throw fail(file, 'truncated or corrupt zip archive');
    entries.set(new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength)), {
      header: uint(bytes, at + 42, 4, file),
      size: uint(bytes, at + 24, 4, file),
      compressed: uint(bytes, at + 20, 4, file),
      method: uint(bytes, at + 10, 2, file),
      flags: uint(bytes, at + 8, 2, file),
    });
    at += 46 + nameLength + uint(bytes, at + 30, 2, file) + uint(bytes, at + 32, 2, file);
  }
  return entries;
}

function entryData(bytes: Uint8Array, file: string, name: string, entry: ZipEntry): Uint8Array {
  if (entry.method !== 0)
    throw fail(file, `zip entry ${quote(name)} is compressed (method ${entry.method}); torch.save stores entries uncompressed`);
  if (entry.flags & 1) throw fail(file, `zip entry ${quote(name)} is encrypted`);
  if (entry.size === 0xffffffff) throw fail(file, `zip entry ${quote(name)} is a zip64 entry, far larger than a state dict head`);
  if (entry.compressed !== entry.size) throw fail(file, `zip entry ${quote(name)} is stored but its two sizes differ`);
  if (uint(bytes, entry.header, 4, file) !== 0x04034b50) throw fail(file, `zip entry ${quote(name)} has no local header`);
  const start = entry.header + 30 + uint(bytes, entry.header + 26, 2, file) + uint(bytes, entry.header + 28, 2, file);
  if (start + entry.size > bytes.length) throw fail(file, `zip entry ${quote(name)} is truncated`);
  return bytes.subarray(start, start + entry.size);
}

class Unpickler {
  private at = 0;
  private readonly stack: Value[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, Value>();
  private readonly storages = new Map<string, Float32Array>();
  private elementsLeft = MAX_ELEMENTS;

  constructor(
    private readonly pickle: Uint8Array,
    private readonly file: string,
    private readonly storage: (key: string) => Uint8Array,
  ) {}

  run(): Value {
    for (;;) {
      const op = this.take(1)[0] as number;
      switch (op) {
        case 0x80: // PROTO
          if (this.uint(1) > 5) throw this.fail('pickle protocol is newer than 5');
          break;
        case 0x95: // FRAME: a read-ahead hint
          this.take(8);
          break;
        case 0x2e: // STOP
          return this.pop();
        case 0x28: // MARK
          this.marks.push(this.stack.length);
          break;
        case 0x7d: // EMPTY_DICT
          this.stack.push(new Map());
          break;
        case 0x29: // EMPTY_TUPLE
          this.stack.push([]);
          break;
        case 0x74: // TUPLE
          this.stack.push(this.popMark());
          break;
        case 0x85: // TUPLE1
        case 0x86: // TUPLE2
        case 0x87: // TUPLE3
          this.stack.push(Array.from({ length: op - 0x84 }, () => this.pop()).reverse());
          break;
        case 0x71: // BINPUT
        case 0x72: // LONG_BINPUT
          this.memo.set(this.uint(op === 0x71 ? 1 : 4), this.top());
          break;
        case 0x94: // MEMOIZE
          this.memo.set(this.memo.size, this.top());
          break;
        case 0x68: // BINGET
        case 0x6a: // LONG_BINGET
          this.stack.push(this.get(this.uint(op === 0x68 ? 1 : 4)));
          break;
        case 0x58: // BINUNICODE
        case 0x8c: // SHORT_BINUNICODE
          this.stack.push(new TextDecoder().decode(this.take(this.uint(op === 0x58 ? 4 : 1))));
          break;
        case 0x4b: // BININT1
        case 0x4d: // BININT2
          this.stack.push(this.uint(op === 0x4b ? 1 : 2));
          break;
        case 0x4a: // BININT
          this.stack.push(this.uint(4) | 0);
          break;
        case 0x8a: // LONG1
          this.stack.push(this.long());
          break;
        case 0x88: // NEWTRUE
        case 0x89: // NEWFALSE
          this.stack.push(op === 0x88);
          break;
        case 0x4e: // NONE
          this.stack.push(null);
          break;
        case 0x63: // GLOBAL
          this.stack.push(this.global(this.line(), this.line()));
          break;
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') throw this.fail('STACK_GLOBAL of a non-string');
          this.stack.push(this.global(module, name));
          break;
        }
        case 0x51: // BINPERSID
          this.stack.push(this.persistentLoad(this.pop()));
          break;
        case 0x52: {
          // REDUCE
          const args = this.pop();
          this.stack.push(this.reduce(this.pop(), args));
          break;
        }
        case 0x73: // SETITEM
        case 0x75: {
          // SETITEMS
          const items = op === 0x73 ? [this.pop(), this.pop()].reverse() : this.popMark();
          const dict = this.top();
          if (!(dict instanceof Map) || items.length % 2) throw this.fail(`SETITEM on a ${kind(dict)}`);
          for (let i = 0; i < items.length; i += 2) dict.set(items[i] as Value, items[i + 1] as Value);
          break;
        }
        case 0x62: // BUILD: torch sets the OrderedDict's `_metadata` (module versions), which a reader has no use for
          this.pop();
          if (!(this.top() instanceof Map)) throw this.fail(`BUILD on a ${kind(this.top())}`);
          break;
        default:
          throw this.fail(`pickle opcode 0x${op.toString(16)} at byte ${this.at - 1} is not a tensor state dict's`);
      }
    }
  }

  private fail(message: string): ModelFormatError {
    return fail(this.file, message);
  }

  private take(n: number): Uint8Array {
    if (this.at + n > this.pickle.length) throw this.fail('data.pkl is truncated');
    this.at += n;
    return this.pickle.subarray(this.at - n, this.at);
  }

  private uint(width: 1 | 2 | 4): number {
    this.take(width);
    return uint(this.pickle, this.at - width, width, this.file);
  }

  private long(): number {
    const n = this.uint(1);
    if (n > 8) throw this.fail(`pickle integer of ${n} bytes`);
    let v = 0n;
    for (const [i, b] of this.take(n).entries()) v |= BigInt(b) << BigInt(8 * i);
    const value = Number(BigInt.asIntN(8 * n, v));
    if (!Number.isSafeInteger(value)) throw this.fail(`pickle integer ${value} is too large`);
    return value;
  }

  private line(): string {
    const end = this.pickle.indexOf(0x0a, this.at);
    if (end < 0) throw this.fail('data.pkl is truncated');
    return new TextDecoder().decode(this.take(end + 1 - this.at)).slice(0, -1);
  }

  private pop(): Value {
    if (this.stack.length <= (this.marks.at(-1) ?? 0)) throw this.fail('pickle stack underflow');
    return this.stack.pop() as Value;
  }

  private top(): Value {
    const v = this.pop();
    this.stack.push(v);
    return v;
  }

  private popMark(): Value[] {
    const mark = this.marks.pop();
    if (mark === undefined) throw this.fail('pickle has no MARK to pop');
    return this.stack.splice(mark);
  }

  private get(index: number): Value {
    if (!this.memo.has(index)) throw this.fail(`pickle memo ${index} is unset`);
    return this.memo.get(index) as Value;
  }

  private global(module: string, name: string): Global {
    const full = `${module}.${name}`;
    if (CALLABLES.has(full)) return new Global(full);
    if (module === 'torch' && Object.hasOwn(STORAGES, name)) return new Global(full, STORAGES[name]);
    if (module === 'torch' && name.endsWith('Storage')) {
      throw this.fail(`tensor storage ${quote(full)} is not of floats (float32, float16, bfloat16 or float64)`);
    }
    throw this.fail(`pickle global ${quote(full)} is not a tensor state dict's`);
  }

  /** torch's persistent ids: ('storage', storage type, key, location, element count). */
  private persistentLoad(id: Value): Float32Array {
    const [tag, type, key, , numel] = Array.isArray(id) ? id : [];
    if (tag !== 'storage' || !(type instanceof Global) || !type.storage || typeof key !== 'string' || typeof numel !== 'number') {
      throw this.fail('persistent id is not a tensor storage');
    }
    const cached = this.storages.get(key);
    if (cached) return cached;
    const raw = this.storage(key);
    if (numel * type.storage.bytes > MAX_STORAGE_BYTES || raw.length !== numel * type.storage.bytes) {
      throw this.fail(`storage ${quote(key)} holds ${raw.length} bytes, not ${numel} elements of ${type.name}`);
    }
    const data = decodeToF32({ dtype: type.storage.dtype, shape: [numel], begin: 0, end: raw.length }, raw, key);
    this.storages.set(key, data);
    return data;
  }

  private reduce(callable: Value, args: Value): Value {
    if (!Array.isArray(args)) throw this.fail(`REDUCE with ${kind(args)} arguments`);
    const name = callable instanceof Global ? callable.name : `a ${kind(callable)}`;
    if (name === 'collections.OrderedDict' && args.length === 0) return new Map();
    if (name === 'torch._utils._rebuild_tensor_v2' && (args.length === 6 || args.length === 7)) return this.tensor(args);
    if (name === 'torch._utils._rebuild_parameter' && args[0] instanceof Tensor) return args[0];
    throw this.fail(`pickle calls ${name} with ${args.length} arguments, which a tensor state dict does not`);
  }

  /** `_rebuild_tensor_v2(storage, offset, size, stride, ...)`: any strides, so a transposed view reads right. */
  private tensor([storage, offset, size, stride]: Value[]): Tensor {
    const isCount = (n: Value | undefined) => Number.isSafeInteger(n) && (n as number) >= 0;
    if (
      !(storage instanceof Float32Array) ||
      !isCount(offset) ||
      !Array.isArray(size) ||
      !Array.isArray(stride) ||
      size.length !== stride.length ||
      !size.every(isCount) ||
      !stride.every(isCount)
    ) {
      throw this.fail('_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, ...)');
    }
    const shape = size as number[];
    const strides = stride as number[];
    const count = shape.reduce((a, b) => a * b, 1);
    if (count > this.elementsLeft) throw this.fail(`tensors of [${shape}] elements exceed ${MAX_ELEMENTS} in all`);
    this.elementsLeft -= count;
    const last = shape.reduce((sum, n, d) => sum + (n - 1) * (strides[d] as number), offset as number);
    if (count > 0 && last >= storage.length) {
      throw this.fail(
        `tensor [${shape}] at offset ${offset} with strides [${strides}] reads past its ${storage.length}-element storage`,
      );
    }
    return new Tensor([...shape], gather(storage, offset as number, shape, strides, count));
  }
}

function gather(storage: Float32Array, offset: number, shape: number[], strides: number[], count: number): Float32Array {
  const out = new Float32Array(count);
  const index = shape.map(() => 0);
  let at = offset;
  for (let i = 0; i < count; i++) {
    out[i] = storage[at] as number;
    for (let d = shape.length - 1; d >= 0; d--) {
      const next = (index[d] as number) + 1;
      at += strides[d] as number;
      if (next < (shape[d] as number)) {
        index[d] = next;
        break;
      }
      at -= (strides[d] as number) * next;
      index[d] = 0;
    }
  }
  return out;
}
