import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTorchStateDict } from '../../src/checkpoint/torch-state-dict.js';
import { ModelFormatError } from '../../src/errors.js';

// The restricted torch.save reader against test/oracle/make_torch_state_dicts.py (torch 1.13's own files).

const DIR = join(import.meta.dirname, '../oracle/fixtures/torch-state-dicts');
const read = (file: string) => new Uint8Array(readFileSync(join(DIR, file)));
const EXPECTED: Record<string, Record<string, { shape: number[]; values: number[] }>> = JSON.parse(
  readFileSync(join(DIR, 'expected.json'), 'utf8'),
);

/** Runs the reader and returns what it threw: only a ModelFormatError (or nothing) is acceptable. */
async function outcome(bytes: Uint8Array, name: string): Promise<'read' | ModelFormatError> {
  try {
    await readTorchStateDict(bytes, name);
    return 'read';
  } catch (err) {
    if (err instanceof ModelFormatError) return err;
    throw err;
  }
}

const indexOf = (bytes: Uint8Array, pattern: number[]) => Buffer.from(bytes).indexOf(Buffer.from(pattern));

describe('readTorchStateDict', () => {
  it.each(Object.keys(EXPECTED))('reads %s as torch does', async (file) => {
    const tensors = await readTorchStateDict(read(file), file);
    expect([...tensors.keys()]).toEqual(Object.keys(EXPECTED[file] ?? {}));
    for (const [name, { shape, values }] of Object.entries(EXPECTED[file] ?? {})) {
      const t = tensors.get(name);
      expect(t?.shape, `${file} ${name}`).toEqual(shape);
      if (file === 'f64.pt') {
        for (const [i, v] of values.entries())
          expect(Math.abs((t?.data[i] as number) - v)).toBeLessThanOrEqual(1e-7 * Math.abs(v));
        expect(t?.data.length).toBe(values.length);
      } else {
        expect([...(t?.data ?? [])], `${file} ${name}`).toEqual(values);
      }
    }
  });

  it.each([
    ['complex.pt', /^complex\.pt: tensor storage "torch\.ComplexFloatStorage" is not of numbers$/],
    ['evil.pt', /^evil\.pt: pickle global "__builtin__\.print" is not a tensor state dict's$/],
    ['byteorder-big.pt', /^byteorder-big\.pt: .*byteorder "big"/],
    ['bare-tensor.pt', /^bare-tensor\.pt: holds a tensor, not a dict of tensors$/],
  ])('refuses %s', async (file, message) => {
    const run = () => readTorchStateDict(read(file), file);
    await expect(run()).rejects.toThrow(ModelFormatError);
    await expect(run()).rejects.toThrow(message);
  });

  it.each(['linear-f32.pt', 'legacy.pt'])('refuses %s cut short anywhere', async (file) => {
    const bytes = read(file);
    for (let length = 0; length < bytes.length; length += length < 64 ? 1 : 7) {
      expect(await outcome(bytes.subarray(0, length), 'cut.pt'), `${length} bytes`).toBeInstanceOf(ModelFormatError);
    }
  });

  it('never throws anything but ModelFormatError for a corrupt byte anywhere', async () => {
    const bytes = read('linear-f32.pt');
    // data.pkl is the first entry; torch's zip writer follows each entry with a data descriptor.
    const pickleAt = indexOf(bytes, [0x80, 0x02, 0x63]);
    const pickleEnd = Buffer.from(bytes).indexOf('PK\x07\x08', pickleAt);
    expect(pickleEnd - pickleAt).toBe(290);
    let refused = 0;
    let refusedInPickle = 0;
    for (let at = 0; at < bytes.length; at++) {
      for (const change of [(b: number) => b ^ 0xff, (b: number) => b ^ 0x01, () => 0, () => 0x80]) {
        const copy = bytes.slice();
        copy[at] = change(copy[at] as number);
        if ((await outcome(copy, 'flipped.pt')) === 'read') continue;
        refused++;
        if (at >= pickleAt && at < pickleEnd) refusedInPickle++;
      }
    }
    // Flips in padding, timestamps, CRCs and tensor values read fine: most others must be caught.
    expect(refused).toBeGreaterThan(1000);
    expect(refusedInPickle).toBeGreaterThan(500);
  });

  it('never throws anything but ModelFormatError for a corrupt byte anywhere in the legacy format', async () => {
    const bytes = read('legacy.pt');
    let refused = 0;
    for (let at = 0; at < bytes.length; at++) {
      for (const change of [(b: number) => b ^ 0xff, () => 0]) {
        const copy = bytes.slice();
        copy[at] = change(copy[at] as number);
        if ((await outcome(copy, 'flipped.pt')) !== 'read') refused++;
      }
    }
    // The storages' bytes (56 of them) read as other numbers; the pickles and size records are checked.
    expect(refused).toBeGreaterThan(600);
  });

  it('refuses a compressed entry', async () => {
    const bytes = read('linear-f32.pt');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Every central-directory and local header gets method 8 (deflate), as zip tools write.
    for (let at = 0; at + 4 <= bytes.length; at++) {
      const sig = view.getUint32(at, true);
      if (sig === 0x02014b50) view.setUint16(at + 10, 8, true);
      if (sig === 0x04034b50) view.setUint16(at + 8, 8, true);
    }
    const run = () => readTorchStateDict(bytes, 'deflated.pt');
    await expect(run()).rejects.toThrow(ModelFormatError);
    await expect(run()).rejects.toThrow(/^deflated\.pt: zip entry "linear-f32\/data\.pkl" is compressed \(method 8\)/);
  });

  it('refuses a view that reads past its storage', async () => {
    const bytes = read('transposed.pt');
    // The transposed view's size (4, 3), with strides (1, 4), over 12 elements: 4 rows of 4 need element 15.
    const size = indexOf(bytes, [0x4b, 4, 0x4b, 3, 0x86, 0x71]);
    expect(size).toBeGreaterThan(0);
    bytes[size + 3] = 4;
    await expect(readTorchStateDict(bytes, 'past.pt')).rejects.toThrow(
      /^past\.pt: tensor \[4,4\] .* reads past its 12-element storage$/,
    );
  });
});
