import { expose } from 'comlink';
import { EngineRegistry } from '../engine/registry.js';
import { createHost } from './host.js';
import { holdLock, installErrorTransfer } from './protocol.js';

// The engine's worker: a SharedWorker that every tab of the origin connects to (one port per
// client), or a dedicated worker that serves one page. Either way one registry: one engine per
// model, whose device and indexes its clients share.

installErrorTransfer();

const shared = typeof (globalThis as { onconnect?: unknown }).onconnect !== 'undefined';
const registry = new EngineRegistry(shared);
const workerLock = `m3web-worker-${crypto.randomUUID()}`;
// Clients learn of this worker's death (a crash, an out-of-memory kill) when this lock frees.
const locked = holdLock(workerLock, new Promise(() => {}));
const haveLocks = typeof navigator !== 'undefined' && 'locks' in navigator;

// Exposed at once (a dedicated worker drops messages that arrive before a listener); hello()
// waits for the lock.
const serve = (endpoint: MessagePort | typeof globalThis) =>
  expose(createHost(registry, haveLocks ? workerLock : null, locked), endpoint as MessagePort);

if (shared) {
  (globalThis as unknown as { onconnect: (e: MessageEvent) => void }).onconnect = (e) => serve(e.ports[0] as MessagePort);
} else {
  serve(globalThis);
}
