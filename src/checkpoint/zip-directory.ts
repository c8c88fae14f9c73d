import { ModelFormatError } from '../errors.js';
import type { ByteSource } from './safetensors.js';

/**
 * The central directory of a zip archive read from its end, as a torch.save file (torch >= 1.6)
 * is one: entries by name, each placed by its local header. Entries are located, never
 * decompressed: torch stores them as they are.
 */
export interface ZipEntry {
  /** Offset of the local header, whose own name and extra lengths (torch pads there) place the data. */
  header: number;
  size: number;
  compressed: number;
  method: number;
  flags: number;
}

const END = 0x06054b50;
const END64 = 0x06064b50;
const END64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_COMMENT = 0xffff;
/** A 250k-vocabulary model has a few hundred entries; a directory this large is corrupt. */
const MAX_DIRECTORY_BYTES = 64 << 20;

const fail = (file: string, message: string) => new ModelFormatError(`${file}: ${message}`);

/** A little-endian unsigned integer of `width` bytes at `at`; a read past the end is a corrupt archive. */
export function uint(bytes: Uint8Array, at: number, width: 1 | 2 | 4 | 8, file: string): number {
  if (at < 0 || at + width > bytes.length) throw fail(file, 'truncated or corrupt zip archive');
  let v = 0;
  for (let i = width - 1; i >= 0; i--) v = v * 256 + (bytes[at + i] as number);
  if (!Number.isSafeInteger(v)) throw fail(file, 'corrupt zip archive (an offset past 2^53)');
  return v;
}

/** Reads the archive's directory: the end record, zip64's where the plain one overflows, then every entry. */
export async function readZipDirectory(source: ByteSource): Promise<Map<string, ZipEntry>> {
  const { size, name: file } = source;
  const tailStart = Math.max(0, size - 22 - MAX_COMMENT - 20);
  const tail = await readExactly(source, tailStart, size - tailStart);
  let end = -1;
  // The end record closes the file, though a comment of up to 64 KiB may follow it.
  for (let at = tail.length - 22; at >= 0; at--) {
    if (uint(tail, at, 4, file) === END && at + 22 + uint(tail, at + 20, 2, file) === tail.length) {
      end = at;
      break;
    }
  }
  if (end < 0) throw fail(file, 'is not a zip archive (torch.save writes one since 1.6)');
  let count = uint(tail, end + 10, 2, file);
  let directorySize = uint(tail, end + 12, 4, file);
  let directoryStart = uint(tail, end + 16, 4, file);
  if (count === 0xffff || directorySize === 0xffffffff || directoryStart === 0xffffffff) {
    const locator = end - 20;
    if (locator < 0 || uint(tail, locator, 4, file) !== END64_LOCATOR) throw fail(file, 'zip64 archive without its locator');
    const record = await readExactly(source, uint(tail, locator + 8, 8, file), 56);
    if (uint(record, 0, 4, file) !== END64) throw fail(file, 'corrupt zip64 end record');
    count = uint(record, 32, 8, file);
    directorySize = uint(record, 40, 8, file);
    directoryStart = uint(record, 48, 8, file);
  }
  if (directorySize > MAX_DIRECTORY_BYTES || directoryStart + directorySize > size)
    throw fail(file, 'corrupt zip central directory');
  const directory = await readExactly(source, directoryStart, directorySize);
  const entries = new Map<string, ZipEntry>();
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (uint(directory, at, 4, file) !== CENTRAL) throw fail(file, 'corrupt zip central directory');
    const nameLength = uint(directory, at + 28, 2, file);
    const extraLength = uint(directory, at + 30, 2, file);
    const next = at + 46 + nameLength + extraLength + uint(directory, at + 32, 2, file);
    if (next > directory.length) throw fail(file, 'truncated or corrupt zip archive');
    const entry: ZipEntry = {
      header: uint(directory, at + 42, 4, file),
      size: uint(directory, at + 24, 4, file),
      compressed: uint(directory, at + 20, 4, file),
      method: uint(directory, at + 10, 2, file),
      flags: uint(directory, at + 8, 2, file),
    };
    zip64Fields(directory.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength), entry, file);
    entries.set(new TextDecoder().decode(directory.subarray(at + 46, at + 46 + nameLength)), entry);
    at = next;
  }
  return entries;
}

/** zip64's extra field holds, in this order, each of the three values its plain field overflowed. */
function zip64Fields(extra: Uint8Array, entry: ZipEntry, file: string): void {
  for (let at = 0; at + 4 <= extra.length; at += 4 + uint(extra, at + 2, 2, file)) {
    if (uint(extra, at, 2, file) !== 0x0001) continue;
    let field = at + 4;
    for (const key of ['size', 'compressed', 'header'] as const) {
      if (entry[key] !== 0xffffffff) continue;
      entry[key] = uint(extra, field, 8, file);
      field += 8;
    }
    return;
  }
}

/**
 * Where an entry's stored bytes begin, from its local header (`header` holds at least its first 30
 * bytes); the entry checked to be stored, unencrypted and of the expected size.
 */
export function entryDataOffset(header: Uint8Array, entry: ZipEntry, name: string, file: string): number {
  const quoted = JSON.stringify(name);
  if (entry.method !== 0)
    throw fail(file, `zip entry ${quoted} is compressed (method ${entry.method}); torch.save stores entries uncompressed`);
  if (entry.flags & 1) throw fail(file, `zip entry ${quoted} is encrypted`);
  if (entry.compressed !== entry.size) throw fail(file, `zip entry ${quoted} is stored but its two sizes differ`);
  if (uint(header, 0, 4, file) !== LOCAL) throw fail(file, `zip entry ${quoted} has no local header`);
  return entry.header + 30 + uint(header, 26, 2, file) + uint(header, 28, 2, file);
}

/**
 * `length` bytes at `offset` (read into `into` where it is long enough and the source can), or a
 * ModelFormatError naming the file where it is shorter.
 */
export async function readExactly(source: ByteSource, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
  if (offset < 0 || offset + length > source.size) throw fail(source.name, `truncated file (${source.size} bytes)`);
  const bytes = await source.read(offset, length, into && into.byteLength >= length ? into : undefined);
  if (bytes.length !== length) throw fail(source.name, `truncated file (${source.size} bytes)`);
  return bytes;
}
