import { ModelFormatError } from '../errors.js';
import type { SafetensorsDtype } from './safetensors.js';

/**
 * The pickles torch.save writes for a dict of tensors. Unpickling runs whatever the file names, so
 * this is an interpreter restricted to what such a dict needs: no code runs, any other opcode or
 * global is refused, and tensors come out as references to their storages, read later.
 */

/** A storage the pickle names: `key` finds its bytes (a zip entry, or a place in the legacy stream). */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: SafetensorsDtype,
    /** Bytes per element. */
    readonly bytes: number,
    readonly numel: number,
    /** Elements before this storage's first one in the key's bytes (a legacy storage view). */
    readonly base = 0,
  ) {}
}

/** `_rebuild_tensor_v2(storage, offset, size, stride, ...)`: a view of a storage, any strides. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly strides: readonly number[],
  ) {}

  get count(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Row-major and dense: its elements are one run of the storage. */
  get contiguous(): boolean {
    let step = 1;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      if ((this.shape[d] as number) !== 1 && this.strides[d] !== step) return false;
      step *= this.shape[d] as number;
    }
    return true;
  }
}

class Global {
  constructor(
    readonly name: string,
    readonly storage?: { dtype: SafetensorsDtype; bytes: number },
  ) {}
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PickleValue[]
  | Map<PickleValue, PickleValue>
  | Global
  | StorageRef
  | TensorRef;

const STORAGES: Record<string, { dtype: SafetensorsDtype; bytes: number }> = {
  FloatStorage: { dtype: 'F32', bytes: 4 },
  HalfStorage: { dtype: 'F16', bytes: 2 },
  BFloat16Storage: { dtype: 'BF16', bytes: 2 },
  DoubleStorage: { dtype: 'F64', bytes: 8 },
  LongStorage: { dtype: 'I64', bytes: 8 },
  IntStorage: { dtype: 'I32', bytes: 4 },
  ShortStorage: { dtype: 'I16', bytes: 2 },
  CharStorage: { dtype: 'I8', bytes: 1 },
  ByteStorage: { dtype: 'U8', bytes: 1 },
  BoolStorage: { dtype: 'BOOL', bytes: 1 },
};
const CALLABLES = new Set(['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_parameter']);

/** Names come from the file: a corrupt one must not put control characters or a megabyte into a message. */
export const quote = (text: string) => JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}...` : text);

/** Thrown where the pickle runs past the bytes given: a reader that gave a prefix may try a longer one. */
export class PickleTruncated extends ModelFormatError {}

export function pickleKind(v: PickleValue): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Map) return 'dict';
  if (v instanceof Global) return v.name;
  if (v instanceof TensorRef) return 'tensor';
  if (v instanceof StorageRef) return 'storage';
  if (typeof v === 'bigint') return 'int';
  return typeof v === 'number' ? 'int' : typeof v === 'string' ? 'str' : 'bool';
}

/**
 * Runs one pickle from `start` to its STOP: the value and where the next byte is. `storages` holds
 * every storage named so far by key, shared between the pickles of one file.
 */
export function unpickle(
  bytes: Uint8Array,
  start: number,
  file: string,
  storages = new Map<string, StorageRef>(),
): { value: PickleValue; end: number } {
  const run = new Unpickler(bytes, start, file, storages);
  const value = run.run();
  return { value, end: run.at };
}

class Unpickler {
  private readonly stack: PickleValue[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PickleValue>();

  constructor(
    private readonly pickle: Uint8Array,
    public at: number,
    private readonly file: string,
    private readonly storages: Map<string, StorageRef>,
  ) {}

  run(): PickleValue {
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
        case 0x5d: // EMPTY_LIST
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
        case 0x61: // APPEND
        case 0x65: {
          // APPENDS
          const items = op === 0x61 ? [this.pop()] : this.popMark();
          const list = this.top();
          if (!Array.isArray(list)) throw this.fail(`APPEND to a ${pickleKind(list)}`);
          list.push(...items);
          break;
        }
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
          if (!(dict instanceof Map) || items.length % 2) throw this.fail(`SETITEM on a ${pickleKind(dict)}`);
          for (let i = 0; i < items.length; i += 2) dict.set(items[i] as PickleValue, items[i + 1] as PickleValue);
          break;
        }
        case 0x62: // BUILD: torch sets the OrderedDict's `_metadata` (module versions), which a reader has no use for
          this.pop();
          if (!(this.top() instanceof Map)) throw this.fail(`BUILD on a ${pickleKind(this.top())}`);
          break;
        default:
          throw this.fail(`pickle opcode 0x${op.toString(16)} at byte ${this.at - 1} is not a tensor state dict's`);
      }
    }
  }

  private fail(message: string): ModelFormatError {
    return new ModelFormatError(`${this.file}: ${message}`);
  }

  private take(n: number): Uint8Array {
    if (this.at + n > this.pickle.length) throw new PickleTruncated(`${this.file}: the pickle is truncated`);
    this.at += n;
    return this.pickle.subarray(this.at - n, this.at);
  }

  private uint(width: 1 | 2 | 4): number {
    const b = this.take(width);
    let v = 0;
    for (let i = width - 1; i >= 0; i--) v = v * 256 + (b[i] as number);
    return v;
  }

  /** Past 2^53 a bigint: the legacy format's magic number is one; nothing else may be. */
  private long(): number | bigint {
    const n = this.uint(1);
    if (n > 16) throw this.fail(`pickle integer of ${n} bytes`);
    let v = 0n;
    for (const [i, b] of this.take(n).entries()) v |= BigInt(b) << BigInt(8 * i);
    const value = n === 0 ? 0n : BigInt.asIntN(8 * n, v);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }

  private line(): string {
    const end = this.pickle.indexOf(0x0a, this.at);
    if (end < 0) throw new PickleTruncated(`${this.file}: the pickle is truncated`);
    return new TextDecoder().decode(this.take(end + 1 - this.at)).slice(0, -1);
  }

  private pop(): PickleValue {
    if (this.stack.length <= (this.marks.at(-1) ?? 0)) throw this.fail('pickle stack underflow');
    return this.stack.pop() as PickleValue;
  }

  private top(): PickleValue {
    const v = this.pop();
    this.stack.push(v);
    return v;
  }

  private popMark(): PickleValue[] {
    const mark = this.marks.pop();
    if (mark === undefined) throw this.fail('pickle has no MARK to pop');
    return this.stack.splice(mark);
  }

  private get(index: number): PickleValue {
    if (!this.memo.has(index)) throw this.fail(`pickle memo ${index} is unset`);
    return this.memo.get(index) as PickleValue;
  }

  private global(module: string, name: string): Global {
    const full = `${module}.${name}`;
    if (CALLABLES.has(full)) return new Global(full);
    if (module === 'torch' && Object.hasOwn(STORAGES, name)) return new Global(full, STORAGES[name]);
    if (module === 'torch' && name.endsWith('Storage')) throw this.fail(`tensor storage ${quote(full)} is not of numbers`);
    throw this.fail(`pickle global ${quote(full)} is not a tensor state dict's`);
  }

  /**
   * torch's persistent ids: ('storage', storage type, key, location, element count), and in the
   * legacy format a sixth item, None or a view (view key, offset, size) of the storage.
   */
  private persistentLoad(id: PickleValue): StorageRef {
    const [tag, type, key, , numel, view] = Array.isArray(id) ? id : [];
    const isCount = (n: PickleValue | undefined): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
    if (
      tag !== 'storage' ||
      !(type instanceof Global) ||
      !type.storage ||
      typeof key !== 'string' ||
      !isCount(numel) ||
      !(view === undefined || view === null || Array.isArray(view))
    ) {
      throw this.fail('persistent id is not a tensor storage');
    }
    const known = this.storages.get(key);
    if (known && (known.dtype !== type.storage.dtype || known.numel !== numel))
      throw this.fail(`storage ${quote(key)} is named with two types or sizes`);
    const root = known ?? new StorageRef(key, type.storage.dtype, type.storage.bytes, numel);
    this.storages.set(key, root);
    if (!view) return root;
    const [, offset, size] = view;
    if (!isCount(offset) || !isCount(size) || offset + size > numel)
      throw this.fail(`a view of storage ${quote(key)} lies outside its ${numel} elements`);
    return new StorageRef(key, root.dtype, root.bytes, size, offset);
  }

  private reduce(callable: PickleValue, args: PickleValue): PickleValue {
    if (!Array.isArray(args)) throw this.fail(`REDUCE with ${pickleKind(args)} arguments`);
    const name = callable instanceof Global ? callable.name : `a ${pickleKind(callable)}`;
    if (name === 'collections.OrderedDict' && args.length === 0) return new Map();
    if (name === 'torch._utils._rebuild_tensor_v2' && (args.length === 6 || args.length === 7)) return this.tensor(args);
    if (name === 'torch._utils._rebuild_parameter' && args[0] instanceof TensorRef) return args[0];
    throw this.fail(`pickle calls ${name} with ${args.length} arguments, which a tensor state dict does not`);
  }

  private tensor([storage, offset, size, stride]: PickleValue[]): TensorRef {
    const isCount = (n: PickleValue | undefined) => Number.isSafeInteger(n) && (n as number) >= 0;
    if (
      !(storage instanceof StorageRef) ||
      !isCount(offset) ||
      !Array.isArray(size) ||
      !Array.isArray(stride) ||
      size.length !== stride.length ||
      !size.every(isCount) ||
      !stride.every(isCount)
    ) {
      throw this.fail('_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, ...)');
    }
    const ref = new TensorRef(storage, offset as number, size as number[], stride as number[]);
    const last = ref.shape.reduce((sum, n, d) => sum + (n - 1) * (ref.strides[d] as number), ref.offset);
    if (ref.count > 0 && last >= ref.storage.numel) {
      throw this.fail(
        `tensor [${ref.shape}] at offset ${ref.offset} with strides [${ref.strides}] reads past its ${ref.storage.numel}-element storage`,
      );
    }
    return ref;
  }
}
