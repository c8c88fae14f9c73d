import { ModelFormatError } from '../errors.js';
import { BlockMemory, type ByteSource, checkShape, decodeToF32, type TensorInfo, type TensorSource } from './safetensors.js';
import { PickleTruncated, type PickleValue, pickleKind, quote, type StorageRef, TensorRef, unpickle } from './torch-pickle.js';
import { entryDataOffset, readExactly, readZipDirectory, uint, type ZipEntry } from './zip-directory.js';

/**
 * A torch.save file of a state dict (pytorch_model.bin, a module's .pt) read tensor by tensor, as
 * SafetensorsReader reads safetensors: the pickle is read once, through torch-pickle's restricted
 * interpreter (no code runs), and each tensor's bytes only when asked for. Both formats torch has
 * written: the zip archive (torch >= 1.6) and the legacy stream of pickles followed by the storages.
 */

/** transformers' pickles are tens of kB; 250k-vocabulary or 28-layer models a few hundred. */
const MAX_PICKLE_BYTES = 64 << 20;
/** torch's zip writer pads each entry's local header to a 64-byte boundary (zip64 fields on top). */
const HEADER_SLACK = 30 + 128;
/** The legacy format's first pickle: torch's magic number, then protocol 1001 and the system's sizes. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

const fail = (file: string, message: string) => new ModelFormatError(`${file}: ${message}`);

/** Where a storage's bytes begin, found on first use: a zip entry's local header, a legacy size record. */
interface StoragePlace {
  /** The first byte to read on first use (a header before the data), and how to find the data in it. */
  prefixAt: number;
  prefixLength: number;
  dataAt(prefix: Uint8Array): number;
}

export class TorchCheckpoint implements TensorSource {
  private readonly starts = new Map<string, number>();
  private readonly blocks = new BlockMemory();
  /** getRows' last strided tensor, gathered whole. */
  private lastGathered?: { name: string; data: Float32Array };

  private constructor(
    private readonly source: ByteSource,
    readonly tensors: ReadonlyMap<string, TensorRef>,
    private readonly places: ReadonlyMap<string, StoragePlace>,
  ) {}

  static async open(source: ByteSource): Promise<TorchCheckpoint> {
    const first = await readExactly(source, 0, Math.min(source.size, 4));
    if (first.length < 4) throw fail(source.name, `truncated file (${source.size} bytes)`);
    if (first[0] === 0x80) return openLegacy(source);
    if (first[0] === 0x50 && first[1] === 0x4b) return openZip(source);
    throw fail(source.name, 'is not a torch.save file (neither a zip archive nor a pickle)');
  }

  /** Used by the two openers only. */
  static of(source: ByteSource, tensors: Map<string, TensorRef>, places: Map<string, StoragePlace>): TorchCheckpoint {
    return new TorchCheckpoint(source, tensors, places);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  names(): Iterable<string> {
    return this.tensors.keys();
  }

  shape(name: string): readonly number[] | undefined {
    return this.tensors.get(name)?.shape;
  }

  async get(name: string, shape: readonly number[]): Promise<Float32Array> {
    const ref = checkShape(this.source.name, name, this.tensors.get(name), shape);
    if (ref.contiguous) return decodeToF32(info(ref), await this.readElements(ref, ref.offset, ref.count), name);
    return this.gathered(ref);
  }

  async getRows(name: string, shape: readonly number[], from: number, to: number): Promise<Float32Array> {
    const ref = checkShape(this.source.name, name, this.tensors.get(name), shape);
    const rows = ref.shape[0] ?? 1;
    if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to <= rows))
      throw new RangeError(`${this.source.name}: rows ${from}..${to} of tensor "${name}" outside 0..${rows}`);
    const row = rows === 0 ? 0 : ref.count / rows;
    if (!ref.contiguous) {
      // A conversion reads a large one block by block: it is gathered once.
      if (this.lastGathered?.name !== name) this.lastGathered = { name, data: await this.gathered(ref) };
      return this.lastGathered.data.subarray(from * row, to * row);
    }
    return this.blocks.decode(info(ref), name, (into) =>
      this.readElements(ref, ref.offset + from * row, (to - from) * row, into),
    );
  }

  /** A strided view (a transposed weight saved as it was): the storage span it covers, then its elements in order. */
  private async gathered(ref: TensorRef): Promise<Float32Array> {
    if (ref.count === 0) return new Float32Array(0);
    const lowest = ref.offset;
    const highest = ref.shape.reduce((sum, n, d) => sum + (n - 1) * (ref.strides[d] as number), ref.offset);
    const span = decodeToF32(info(ref), await this.readElements(ref, lowest, highest + 1 - lowest), ref.storage.key);
    return gather(span, 0, ref.shape, ref.strides, ref.count);
  }

  /** `count` elements of the tensor's storage from element `at`, as bytes. */
  private async readElements(ref: TensorRef, at: number, count: number, into?: Uint8Array): Promise<Uint8Array> {
    const { storage } = ref;
    const offset = (storage.base + at) * storage.bytes;
    const length = count * storage.bytes;
    const known = this.starts.get(storage.key);
    if (known !== undefined) return readExactly(this.source, known + offset, length, into);
    // First use of this storage: its header comes in the same request as the bytes asked for when
    // they begin the storage (as a tensor's first block does), else on its own.
    const place = this.places.get(storage.key) as StoragePlace;
    const end = Math.min(this.source.size, place.prefixAt + place.prefixLength + (offset === 0 ? length : 0));
    const prefix = await readExactly(this.source, place.prefixAt, end - place.prefixAt);
    const start = place.dataAt(prefix);
    this.starts.set(storage.key, start);
    const from = start + offset - place.prefixAt;
    if (from + length <= prefix.length) return prefix.subarray(from, from + length);
    return readExactly(this.source, start + offset, length, into);
  }
}

const info = (ref: TensorRef): TensorInfo => ({
  dtype: ref.storage.dtype,
  shape: [...ref.shape],
  begin: 0,
  end: ref.count * ref.storage.bytes,
});

function gather(
  storage: Float32Array,
  offset: number,
  shape: readonly number[],
  strides: readonly number[],
  count: number,
): Float32Array {
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

/** A state dict: names to tensors, nothing else. */
function stateDict(result: PickleValue, file: string): Map<string, TensorRef> {
  if (!(result instanceof Map)) throw fail(file, `holds a ${pickleKind(result)}, not a dict of tensors`);
  for (const [key, value] of result) {
    if (typeof key !== 'string') throw fail(file, `has a ${pickleKind(key)} key; a state dict's keys are names`);
    if (!(value instanceof TensorRef)) throw fail(file, `${quote(key)} is a ${pickleKind(value)}, not a tensor`);
  }
  return result as Map<string, TensorRef>;
}

async function openZip(source: ByteSource): Promise<TorchCheckpoint> {
  const file = source.name;
  const entries = await readZipDirectory(source);
  const pkl = [...entries.keys()].find((entry) => /^[^/]+\/data\.pkl$/.test(entry));
  if (!pkl) throw fail(file, 'holds no <archive>/data.pkl: not a torch.save file');
  const prefix = pkl.slice(0, -'data.pkl'.length);
  const order = entries.get(`${prefix}byteorder`);
  if (order) {
    const byteorder = new TextDecoder().decode(await entryBytes(source, `${prefix}byteorder`, order));
    if (byteorder !== 'little') throw fail(file, `storages are saved with byteorder ${quote(byteorder)}; only "little" is read`);
  }
  const pklEntry = entries.get(pkl) as ZipEntry;
  if (pklEntry.size > MAX_PICKLE_BYTES) throw fail(file, `data.pkl holds ${pklEntry.size} bytes, too many for a state dict`);
  const storages = new Map<string, StorageRef>();
  const pickle = await entryBytes(source, pkl, pklEntry);
  const tensors = stateDict(unpickle(pickle, 0, file, storages).value, file);
  const places = new Map<string, StoragePlace>();
  for (const [key, storage] of storages) {
    const name = `${prefix}data/${key}`;
    const entry = entries.get(name);
    if (!entry) throw fail(file, `storage ${quote(key)} is missing from the archive`);
    if (entry.size !== storage.numel * storage.bytes)
      throw fail(file, `storage ${quote(key)} holds ${entry.size} bytes, not ${storage.numel} elements of ${storage.dtype}`);
    if (entry.header + 30 > source.size) throw fail(file, `zip entry ${quote(name)} lies past the end of the file`);
    places.set(key, {
      prefixAt: entry.header,
      prefixLength: HEADER_SLACK + new TextEncoder().encode(name).length,
      dataAt: (header) => {
        const at = entryDataOffset(header, entry, name, file);
        if (at + entry.size > source.size) throw fail(file, `zip entry ${quote(name)} is truncated`);
        return at;
      },
    });
  }
  return TorchCheckpoint.of(source, tensors, places);
}

/** A small entry whole (data.pkl, byteorder): its local header, then its bytes. */
async function entryBytes(source: ByteSource, name: string, entry: ZipEntry): Promise<Uint8Array> {
  const header = await readExactly(source, entry.header, Math.min(30, source.size - entry.header));
  const at = entryDataOffset(header, entry, name, source.name);
  if (at + entry.size > source.size) throw fail(source.name, `zip entry ${quote(name)} is truncated`);
  return readExactly(source, at, entry.size);
}

/**
 * torch.save before 1.6: pickles of the magic number, the protocol, the system's sizes, the state
 * dict, and the storage keys in the order their bytes follow, each an 8-byte element count and
 * the elements. The pickles' length is not recorded: a prefix is read, and a longer one where the
 * pickles run past it.
 */
async function openLegacy(source: ByteSource): Promise<TorchCheckpoint> {
  for (let length = Math.min(source.size, 1 << 20); ; length = Math.min(source.size, MAX_PICKLE_BYTES, length * 4)) {
    const bytes = await readExactly(source, 0, length);
    try {
      return legacyCheckpoint(source, bytes);
    } catch (err) {
      if (!(err instanceof PickleTruncated) || length >= Math.min(source.size, MAX_PICKLE_BYTES)) throw err;
    }
  }
}

function legacyCheckpoint(source: ByteSource, bytes: Uint8Array): TorchCheckpoint {
  const file = source.name;
  const storages = new Map<string, StorageRef>();
  const magic = unpickle(bytes, 0, file, storages);
  if (magic.value !== LEGACY_MAGIC) throw fail(file, 'is a pickle but not a torch.save file (no magic number)');
  const protocol = unpickle(bytes, magic.end, file, storages);
  if (protocol.value !== LEGACY_PROTOCOL) throw fail(file, `torch.save protocol ${String(protocol.value)} is not 1001`);
  const system = unpickle(bytes, protocol.end, file, storages);
  if (!(system.value instanceof Map) || system.value.get('little_endian') !== true)
    throw fail(file, 'was saved on a big-endian machine; only little-endian storages are read');
  const dict = unpickle(bytes, system.end, file, storages);
  const tensors = stateDict(dict.value, file);
  const keys = unpickle(bytes, dict.end, file, storages);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string'))
    throw fail(file, 'the storage keys are not a list of names');
  const places = new Map<string, StoragePlace>();
  let at = keys.end;
  for (const key of keys.value as string[]) {
    const storage = storages.get(key);
    if (!storage) throw fail(file, `storage ${quote(key)} is listed but no tensor names it`);
    if (places.has(key)) throw fail(file, `storage ${quote(key)} is listed twice`);
    const { numel } = storage;
    const recordAt = at;
    places.set(key, {
      prefixAt: recordAt,
      prefixLength: 8,
      dataAt: (record) => {
        if (uint(record, 0, 8, file) !== numel) throw fail(file, `storage ${quote(key)}'s size record is not ${numel}`);
        return recordAt + 8;
      },
    });
    at += 8 + numel * storage.bytes;
  }
  for (const key of storages.keys()) if (!places.has(key)) throw fail(file, `storage ${quote(key)} is not in the file`);
  if (at > source.size) throw fail(file, `truncated file: its storages need ${at} bytes, it has ${source.size}`);
  return TorchCheckpoint.of(source, tensors, places);
}
