import { transfer } from 'comlink';
import type { Budget } from '../budget/plan.js';
import type { EmbedDepth } from '../engine/encoder-core.js';
import type { Engine, EngineIndexOptions, EngineOptions, IndexLease } from '../engine/engine.js';
import type { EngineRegistry } from '../engine/registry.js';
import { InputError, M3WebError } from '../errors.js';
import type { StaticIndex, VectorIndex } from '../search/types.js';
import type {
  EmbedOptions,
  EmbedResult,
  EncoderInfo,
  EncoderPlan,
  LoadProgress,
  RerankHit,
  RerankOptions,
  SparseEmbedOptions,
  SparseVector,
  TokenEmbedOptions,
} from '../types.js';
import { type HelloReply, type IndexState, whenGone } from './protocol.js';

/** The arrays of lexical weights, whose buffers move to the page instead of being copied. */
const sparseArrays = (vectors: readonly SparseVector[] = []) => vectors.flatMap((v) => [v.indices, v.values]);

/** The index methods a client may call through the host (VectorIndex's, and a static index's stats, by name). */
export type IndexMethod =
  | 'add'
  | 'upsert'
  | 'sync'
  | 'remove'
  | 'search'
  | 'corrections'
  | 'translations'
  | 'clear'
  | 'export'
  | 'import'
  | 'stats';
const WRITES: ReadonlySet<IndexMethod> = new Set(['add', 'upsert', 'sync', 'remove', 'clear', 'import']);

const stateOf = (index: VectorIndex): IndexState => ({
  name: index.name,
  size: index.size,
  backend: index.backend,
  signature: index.signature,
  needsRebuild: index.needsRebuild,
  shallowRows: index.shallowRows,
});

/**
 * Everything one client (a tab's createEncoder, or Node's in-process one) can ask of the engine,
 * over one connection: a port of the shared worker, a dedicated worker, or a direct call in
 * Node. The client's encoder joins the registry's engine for its model; its indexes are leases
 * on that engine's indexes. When the client says goodbye, or its tab closes (its Web Lock is
 * released), everything it held is released and its calls in flight are aborted.
 */
export function createHost(registry: EngineRegistry, workerLock: string | null, ready: Promise<void> = Promise.resolve()) {
  let client: string | null = null;
  let joined: { key: string; engine: Engine } | null = null;
  let closed = false;
  /** Whether this client asked for a progressive start: its calls run at the depth loaded. */
  let depth: EmbedDepth = 'asked';
  let stopUpgrades = () => {};
  const calls = new Map<number, AbortController>();
  /** Runs a call the page may abort by its id (abort below) while it runs. */
  const abortable = async <T>(callId: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const controller = new AbortController();
    calls.set(callId, controller);
    try {
      return await run(controller.signal);
    } finally {
      calls.delete(callId);
    }
  };
  const indexes = new Map<number, IndexLease>();
  let nextIndex = 1;

  const engine = (): Engine => {
    if (closed) throw new M3WebError('DISPOSED', 'This encoder was disposed; create a new one');
    if (!joined) throw new InputError('the encoder has no model yet');
    return joined.engine;
  };
  const lease = (id: number): IndexLease => {
    const l = indexes.get(id);
    if (!l) throw new M3WebError('DISPOSED', 'This index was closed; open it again with createIndex');
    return l;
  };
  const info = (): EncoderInfo => {
    const e = engine();
    const key = (joined as { key: string }).key;
    return { ...e.core.info(), engine: { shared: registry.shared, clients: registry.clients(key) } };
  };

  const goodbye = (): void => {
    if (closed) return;
    closed = true;
    for (const c of calls.values()) c.abort();
    calls.clear();
    for (const l of indexes.values()) l.release();
    indexes.clear();
    stopUpgrades();
    if (joined && client) registry.leave(client, joined.key);
    joined = null;
  };

  return {
    /**
     * First call of a connection. `clientLock` is a Web Lock the client holds for as long as it
     * lives; the reply names the one this worker holds for as long as it lives, so each side
     * learns when the other is gone.
     */
    async hello(clientId: string, clientLock: string | null): Promise<HelloReply> {
      await ready;
      client = clientId;
      if (clientLock) void whenGone(clientLock).then(goodbye);
      const gpu = typeof navigator !== 'undefined' && 'gpu' in navigator && navigator.gpu != null;
      return { gpu, workerLock };
    },

    async open(
      options: EngineOptions,
      onProgress?: (p: LoadProgress) => void,
      onUpgrade?: (layers: number) => void,
    ): Promise<EncoderInfo> {
      if (joined) throw new InputError('this connection already holds an encoder');
      if (!client) throw new InputError('hello() first');
      joined = await registry.join(client, options, onProgress);
      if (closed) registry.leave(client, joined.key);
      if (options.progressive) depth = 'loaded';
      if (onUpgrade) stopUpgrades = joined.engine.onUpgrade(onUpgrade);
      return info();
    },

    embedDetailed(callId: number, texts: unknown, options: Omit<EmbedOptions, 'signal'>): Promise<EmbedResult> {
      return abortable(callId, async (signal) => {
        const result = await engine().core.embedDetailed(texts, { ...options, signal }, depth);
        return transfer(result, [
          ...new Set([...result.vectors, ...sparseArrays(result.sparse)].map((v) => v.buffer as ArrayBuffer)),
        ]);
      });
    },

    async rerank(
      callId: number,
      query: unknown,
      documents: unknown,
      options: Omit<RerankOptions, 'signal'>,
    ): Promise<RerankHit[]> {
      return abortable(callId, (signal) => engine().core.rerank(query, documents, { ...options, signal }));
    },

    embedTokens(callId: number, texts: unknown, options: Omit<TokenEmbedOptions, 'signal'>): Promise<Float32Array[]> {
      return abortable(callId, async (signal) => {
        const vectors = await engine().core.embedTokens(texts, { ...options, signal });
        return transfer(vectors, [...new Set(vectors.map((v) => v.buffer as ArrayBuffer))]);
      });
    },

    embedSparse(callId: number, texts: unknown, options: Omit<SparseEmbedOptions, 'signal'>): Promise<SparseVector[]> {
      return abortable(callId, async (signal) => {
        const vectors = await engine().core.embedSparse(texts, { ...options, signal });
        return transfer(vectors, [...new Set(sparseArrays(vectors).map((v) => v.buffer as ArrayBuffer))]);
      });
    },

    abort(callId: number): void {
      calls.get(callId)?.abort();
    },

    info,

    plan(budget: Budget): Promise<EncoderPlan> {
      return engine().core.plan(budget);
    },

    simulateDeviceLoss(): Promise<void> {
      return engine().core.simulateDeviceLoss();
    },

    /** Opens an index on the engine; `onChange` hears of changes any client makes to it. */
    async openIndex(
      options: EngineIndexOptions,
      onChange?: (state: IndexState) => void,
    ): Promise<{ id: number; state: IndexState }> {
      const l = await engine().openIndex(options);
      if (closed) {
        l.release();
        throw new M3WebError('DISPOSED', 'This encoder was disposed; create a new one');
      }
      const id = nextIndex++;
      indexes.set(id, l);
      if (onChange) l.onChange(() => onChange(stateOf(l.index)));
      return { id, state: stateOf(l.index) };
    },

    async index(id: number, method: IndexMethod, args: unknown[]): Promise<{ result: unknown; state: IndexState }> {
      const l = lease(id);
      const call = (l.index as Partial<StaticIndex>)[method] as ((...a: unknown[]) => Promise<unknown>) | undefined;
      if (!call) throw new InputError(`${method}: index "${l.index.name}" has no such method`);
      const result = await call.apply(l.index, args);
      if (WRITES.has(method)) l.changed();
      const state = stateOf(l.index);
      return result instanceof Uint8Array ? transfer({ result, state }, [result.buffer as ArrayBuffer]) : { result, state };
    },

    closeIndex(id: number): void {
      indexes.get(id)?.release();
      indexes.delete(id);
    },

    /** The client is done: releases its encoder (the engine goes when its last client does) and indexes. */
    goodbye,

    /** Stops this worker at once, as a crash would: for tests of recovery. */
    crash(): void {
      (globalThis as { close?: () => void }).close?.();
    },
  };
}

export type EngineApi = ReturnType<typeof createHost>;
