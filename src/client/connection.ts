import { type Remote, releaseProxy, wrap } from 'comlink';
import { EngineLostError, M3WebError } from '../errors.js';
import type { DeviceChoice } from '../types.js';
import type { EngineApi } from '../worker/host.js';
import { type HelloReply, holdLock, installErrorTransfer, whenGone } from '../worker/protocol.js';

/** A client's line to its engine: a shared worker's port, a dedicated worker, or Node's in-process host. */
export interface Connection {
  readonly api: Remote<EngineApi>;
  readonly shared: boolean;
  /** True where the engine runs in this thread (Node): arguments are passed, not cloned. */
  readonly local: boolean;
  /** Rejects with EngineLostError when the engine's worker dies; never resolves. */
  readonly lost: Promise<never>;
  /** Says goodbye (the engine releases this client's share) and lets the worker go. */
  close(): void;
}

export interface ConnectOptions {
  shared?: boolean;
  device?: DeviceChoice;
}

const lostError = () =>
  new EngineLostError('the m3web engine (its worker) stopped; the call was lost, and the next call starts a new engine');

/** Where a page can run workers (Node, and workers themselves, run the engine in-process). */
export const inPage = () => typeof Worker !== 'undefined' && typeof window !== 'undefined';

/** An engine of this client's own, in this thread: Node, or where Worker is missing. */
async function inProcess(): Promise<Connection> {
  const [{ createHost }, { EngineRegistry }] = await Promise.all([import('../worker/host.js'), import('../engine/registry.js')]);
  const host = createHost(new EngineRegistry(false), null);
  await host.hello(crypto.randomUUID(), null);
  // The host's methods called directly, each made async as a worker's would be.
  const api = Object.fromEntries(
    Object.entries(host).map(([name, method]) => [
      name,
      async (...args: unknown[]) => (method as (...a: unknown[]) => unknown)(...args),
    ]),
  ) as unknown as Remote<EngineApi>;
  return {
    api,
    shared: false,
    local: true,
    lost: new Promise<never>(() => {}),
    close: host.goodbye,
  };
}

type WorkerKind = 'shared' | 'dedicated';

/**
 * Starts (or, for a SharedWorker, joins) the engine's worker and says hello. Bundlers find the
 * worker through the literal `new URL(...)` inside each constructor call.
 */
async function viaWorker(
  kind: WorkerKind,
  clientId: string,
  clientLock: string | null,
): Promise<Connection & { hello: HelloReply }> {
  installErrorTransfer();
  const worker =
    kind === 'shared'
      ? new SharedWorker(new URL('../worker/worker.js', import.meta.url), { type: 'module', name: 'm3web' })
      : new Worker(new URL('../worker/worker.js', import.meta.url), { type: 'module', name: 'm3web' });
  // By `kind`, not instanceof: where the browser has no SharedWorker the name does not exist.
  const port = kind === 'shared' ? (worker as SharedWorker).port : (worker as Worker);
  const remote = wrap<EngineApi>(port);
  const stopWatching = new AbortController();
  const failed = new Promise<never>((_, reject) => {
    worker.addEventListener(
      'error',
      (e) =>
        reject(new M3WebError('UNSUPPORTED', `the m3web worker failed to start: ${(e as ErrorEvent).message || 'script error'}`)),
      { once: true },
    );
  });
  failed.catch(() => undefined);
  const end = () => {
    stopWatching.abort();
    remote[releaseProxy]();
    if (kind === 'shared') (worker as SharedWorker).port.close();
    else (worker as Worker).terminate();
  };
  let hello: HelloReply;
  try {
    hello = await Promise.race([remote.hello(clientId, clientLock), failed]);
  } catch (err) {
    end();
    throw err;
  }
  const gone = hello.workerLock ? whenGone(hello.workerLock, stopWatching.signal) : new Promise<void>(() => {});
  const lost = Promise.race([failed.catch(() => undefined), gone]).then(() => {
    throw lostError();
  });
  lost.catch(() => undefined);
  return {
    api: remote,
    shared: kind === 'shared',
    local: false,
    lost,
    hello,
    close() {
      // Goodbye first, then stop watching: a dedicated worker's termination frees its lock too.
      void remote.goodbye().catch(() => undefined);
      end();
    },
  };
}

/**
 * Connects to an engine: in a page, the origin's SharedWorker where the browser has one (and
 * WebGPU inside it, when this page has WebGPU and wants it), else a dedicated worker; elsewhere
 * in-process. The client holds a Web Lock for its life, so the engine learns when its tab closes.
 */
export async function connect(options: ConnectOptions): Promise<Connection> {
  if (!inPage()) return inProcess();
  const clientId = crypto.randomUUID();
  const haveLocks = typeof navigator.locks !== 'undefined';
  const clientLock = haveLocks ? `m3web-client-${clientId}` : null;
  let release = () => {};
  if (clientLock) await holdLock(clientLock, new Promise<void>((r) => (release = r)));
  const withRelease = (c: Connection): Connection => ({
    ...c,
    close() {
      c.close();
      release();
    },
  });
  // A SharedWorker is never cross-origin isolated (no SharedArrayBuffer, no nested workers), so
  // an engine that may run on the CPU ('cpu', or 'auto', which picks the CPU wherever it measures
  // faster) runs threaded on an isolated page only in a dedicated worker of its own: on one thread
  // a 32 × 128 batch took 1.44x as long there (Chromium, SwiftShader, m3-mini).
  const threadedCpu = options.device !== 'webgpu' && globalThis.crossOriginIsolated === true && options.shared !== true;
  try {
    if (options.shared !== false && !threadedCpu && typeof SharedWorker !== 'undefined') {
      const shared = await viaWorker('shared', clientId, clientLock);
      const pageGpu = 'gpu' in navigator && navigator.gpu != null;
      if (shared.hello.gpu || !pageGpu || options.device === 'cpu') return withRelease(shared);
      // Some browsers give shared workers no WebGPU: a dedicated worker has it.
      shared.close();
    }
    return withRelease(await viaWorker('dedicated', clientId, clientLock));
  } catch (err) {
    release();
    throw err;
  }
}
