import { transferHandlers } from 'comlink';
import * as errors from '../errors.js';
import type { IndexSignature } from '../search/types.js';

// What crosses between a page and its engine's worker, besides the calls themselves (worker/host.ts,
// whose type is the API): the hello handshake, index state, how each side learns the other is
// gone (Web Locks), and typed errors.

/** The worker's answer to hello(). */
export interface HelloReply {
  /** Whether WebGPU exists in the worker (Chromium has none in shared workers on some platforms). */
  gpu: boolean;
  /** A Web Lock the worker holds for its whole life: granted to a waiting client once it is gone. */
  workerLock: string | null;
}

/** What a page-side index proxy shows synchronously, refreshed by every call and change. */
export interface IndexState {
  name: string;
  size: number;
  backend: 'webgpu' | 'cpu';
  signature: IndexSignature;
  needsRebuild: boolean;
  /** VectorIndex.shallowRows: rows still to be embedded again at the index's exit. */
  shallowRows: number;
}

const locks = (): LockManager | undefined => (globalThis.navigator as Navigator | undefined)?.locks;

/** Holds Web Lock `name` until `release` settles; resolves once it is held (at once without Web Locks). */
export function holdLock(name: string, release: Promise<unknown>): Promise<void> {
  const manager = locks();
  if (!manager) return Promise.resolve();
  return new Promise((held) => {
    void manager.request(name, () => {
      held();
      return release.catch(() => undefined);
    });
  });
}

/**
 * Resolves when the context holding Web Lock `name` is gone (a closed tab, a crashed worker),
 * which is when the lock is granted here. Never resolves where Web Locks are missing.
 */
export function whenGone(name: string, signal?: AbortSignal): Promise<void> {
  const manager = locks();
  if (!manager) return new Promise(() => {});
  return new Promise((gone) => {
    manager.request(name, signal ? { signal } : {}, async () => gone()).catch(() => undefined);
  });
}

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
  EngineLostError: errors.EngineLostError,
  ModelNotFoundError: errors.ModelNotFoundError,
  AccessDeniedError: errors.AccessDeniedError,
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
