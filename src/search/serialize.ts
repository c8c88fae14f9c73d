import { InputError } from '../errors.js';
import { codec } from './codec.js';
import { type DocRecord, type Segment, segmentProblem } from './segment.js';
import type { IndexSignature } from './types.js';

// export() bytes: "M3IX", u32 format version, u32 header length, the UTF-8 JSON header
// { signature, docs }, zero padding to 4 bytes, then the rows' u32 words and their f32 scales,
// little-endian. Version 2 is version 1 with documents whose rows are of a shallower exit
// (DocRecord.exits, an export made during a progressive start): written only then, so a reader
// that would take those rows for the index's exit refuses them instead.
const MAGIC = 'M3IX';
const VERSION = 1;
const VERSION_EXITS = 2;
const VECTOR_TYPES = ['f32', 'int8', 'binary'];

interface Header {
  signature: IndexSignature;
  docs: DocRecord[];
}

export function serializeIndex(signature: IndexSignature, segment: Segment): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify({ signature, docs: segment.docs } satisfies Header));
  const dataStart = Math.ceil((12 + header.length) / 4) * 4;
  const out = new Uint8Array(dataStart + segment.words.byteLength + segment.scales.byteLength);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(4, segment.docs.some((d) => d.exits) ? VERSION_EXITS : VERSION, true);
  view.setUint32(8, header.length, true);
  out.set(header, 12);
  const scalesStart = dataStart + segment.words.byteLength;
  for (let i = 0; i < segment.words.length; i++) view.setUint32(dataStart + i * 4, segment.words[i] as number, true);
  for (let i = 0; i < segment.scales.length; i++) view.setFloat32(scalesStart + i * 4, segment.scales[i] as number, true);
  return out;
}

function isSignature(s: unknown): s is IndexSignature {
  const x = s as Partial<IndexSignature> | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.model === 'string' &&
    (x.fingerprint === undefined || typeof x.fingerprint === 'string') &&
    Number.isInteger(x.layers) &&
    Number.isInteger(x.dims) &&
    // 0: a SPLADE model's index, whose rows hold its weights and no vector.
    ((x.dims as number) > 0 || (x.dims === 0 && x.sparse === true)) &&
    VECTOR_TYPES.includes(x.vector as string) &&
    (x.symmetric === undefined || x.symmetric === true) &&
    (x.sparse === undefined || x.sparse === true)
  );
}

export function parseIndex(bytes: unknown): { signature: IndexSignature; segment: Segment } {
  if (!(bytes instanceof Uint8Array)) throw new InputError('import takes the Uint8Array that export() returned');
  const bad = (why: string) => new InputError(`import: not an m3web index export (${why})`);
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) throw bad('no M3IX header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== VERSION && version !== VERSION_EXITS)
    throw bad(`format version ${version}, this m3web reads ${VERSION} and ${VERSION_EXITS}`);
  const headerLength = view.getUint32(8, true);
  if (12 + headerLength > bytes.length) throw bad('truncated header');
  let header: Partial<Header>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  } catch {
    throw bad('header is not JSON');
  }
  if (!isSignature(header.signature) || !Array.isArray(header.docs)) throw bad('header lacks a signature or documents');
  const { signature, docs } = header as Header;
  const rowWords = codec(signature.vector, signature.dims).rowWords;
  const rows = docs.reduce((n, d) => n + (Array.isArray(d?.chunks) ? d.chunks.length : 0), 0);
  const dataStart = Math.ceil((12 + headerLength) / 4) * 4;
  if (bytes.length !== dataStart + rows * (rowWords + 1) * 4)
    throw bad(`${bytes.length} bytes, expected ${dataStart + rows * (rowWords + 1) * 4} for ${rows} vectors`);
  const words = Uint32Array.from({ length: rows * rowWords }, (_, i) => view.getUint32(dataStart + i * 4, true));
  const scalesStart = dataStart + rows * rowWords * 4;
  const scales = Float32Array.from({ length: rows }, (_, i) => view.getFloat32(scalesStart + i * 4, true));
  const segment = { docs, words, scales };
  const problem = segmentProblem(segment, rowWords);
  if (problem) throw bad(`the data ${problem}`);
  if (docs.some((d) => d.exits?.some((e) => e > signature.layers))) throw bad(`a row deeper than its ${signature.layers} layers`);
  return { signature, segment };
}
