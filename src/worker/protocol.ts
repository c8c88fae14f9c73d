import { transferHandlers } from 'comlink';
import * as errors from '../errors.js';

type Thrown = { value: unknown };
type WireError = {
  m3web: true;
  name: string;
  code: errors.M3WebErrorCode;
  message: string;
  stack?: string;
  bytesNeeded?: number;
};

const CLASSES: Record<string, { prototype: errors.M3WebError }> = {
  InputError: errors.InputError,
  ModelFormatError: errors.ModelFormatError,
  UnsupportedError: errors.UnsupportedError,
  GpuError: errors.GpuError,
  DisposedError: errors.DisposedError,
  NetworkError: errors.NetworkError,
  IntegrityError: errors.IntegrityError,
  StorageQuotaError: errors.StorageQuotaError,
  M3WebError: errors.M3WebError,
};

let installed = false;

/**
 * Comlink sends thrown errors as plain { name, message }: the class and `code` a caller branches
 * on would be lost at the worker boundary. This wraps its 'throw' handler so M3WebErrors arrive as
 * the same subclass with the same code. Both sides must call it (the worker and the page).
 */
export function installErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const original = transferHandlers.get('throw') as {
    canHandle(v: unknown): boolean;
    serialize(v: unknown): [unknown, Transferable[]];
    deserialize(v: unknown): unknown;
  };
  transferHandlers.set('throw', {
    canHandle: (v: unknown): v is Thrown => original.canHandle(v),
    serialize(thrown: Thrown) {
      const e = thrown.value;
      if (!(e instanceof errors.M3WebError)) return original.serialize(thrown);
      const wire: WireError = { m3web: true, name: e.name, code: e.code, message: e.message };
      if (e.stack) wire.stack = e.stack;
      if (e instanceof errors.StorageQuotaError) wire.bytesNeeded = e.bytesNeeded;
      return [wire, []];
    },
    deserialize(wire: unknown) {
      const w = wire as WireError;
      if (w?.m3web !== true) return original.deserialize(wire);
      const cls = CLASSES[w.name] ?? errors.M3WebError;
      const err = Object.create(cls.prototype) as errors.M3WebError & { bytesNeeded?: number };
      Object.assign(err, { name: w.name, code: w.code, message: w.message, stack: w.stack ?? '' });
      if (w.bytesNeeded !== undefined) err.bytesNeeded = w.bytesNeeded;
      throw err;
    },
  });
}
