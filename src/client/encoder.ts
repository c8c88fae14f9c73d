import { proxy } from 'comlink';
import type { Budget } from '../budget/plan.js';
import { DisposedError, EngineLostError, InputError, M3WebError, typeName } from '../errors.js';
import type { IndexOptions, StaticIndexOptions, VectorIndex } from '../search/types.js';
import { parseHubId } from '../source/hub-id.js';
import type {
  EmbedOptions,
  EmbedResult,
  EncoderInfo,
  EncoderOptions,
  EncoderPlan,
  RerankHit,
  RerankOptions,
  SparseEmbedOptions,
  SparseVector,
  TokenEmbedOptions,
} from '../types.js';
import type { IndexMethod } from '../worker/host.js';
import type { IndexState } from '../worker/protocol.js';
import { type Connection, connect, inPage } from './connection.js';
import { IndexClient, type IndexOwner, StaticIndexClient } from './index-client.js';

type RemoteIndexOptions = Omit<IndexOptions, 'encoder'> | Omit<StaticIndexOptions, 'encoder'>;

/** What createEncoder returns, in the page (a worker does the work) and in Node (in-process). */
export interface Encoder {
  /** One vector per text, in input order; texts past the model's limit are truncated. */
  embed(texts: string[], options?: EmbedOptions): Promise<Float32Array[]>;
  /**
   * The same, plus each text's token count, whether it was truncated, and the exit its vector
   * came from (`layers`: where each text stopped with `layers: 'adaptive'`, else the layers
   * asked for, or shallower only while a progressive start downloads).
   */
  embedDetailed(texts: string[], options?: EmbedOptions): Promise<EmbedResult>;
  /**
   * A cross-encoder's (a reranker's, `info().model.crossEncoder`) scores of `query` against each
   * document, best first; an embedding model refuses with UNSUPPORTED (and a cross-encoder refuses
   * `embed`).
   */
  rerank(query: string, documents: string[], options?: RerankOptions): Promise<RerankHit[]>;
  /**
   * A late-interaction (ColBERT) model's token vectors (`info().model.lateInteraction`): per text,
   * its tokens' L2-normalised vectors of `dim` numbers side by side, read as a query (`kind:
   * 'query'`: cut and expanded to the query length) or a document (default); `maxSim(query,
   * document, dim)` scores them as `rerank` does. Other models refuse with UNSUPPORTED.
   */
  embedTokens(texts: string[], options?: TokenEmbedOptions): Promise<Float32Array[]>;
  /**
   * A model's lexical weights (`info().model.sparse`: BGE-M3's sparse output): per text, the token
   * ids that weigh, ascending, and their weights; `sparseScore(a, b)` scores two of them, as
   * FlagEmbedding's compute_lexical_matching_score does. Other models refuse with UNSUPPORTED.
   */
  embedSparse(texts: string[], options?: SparseEmbedOptions): Promise<SparseVector[]>;
  info(): Promise<EncoderInfo>;
  /**
   * The (layers, dims) with the best measured quality whose predicted latency, memory and bytes per
   * vector fit `budget` on this device; `fits: false` with the cheapest plan when nothing does.
   * `backend` is the backend calls of the budget's size run on, whose timings predicted latency.
   */
  plan(budget?: Budget): Promise<EncoderPlan>;
  /**
   * Destroys the GPU device as a driver reset or a long background tab would. The call in flight
   * rejects with GPU_DEVICE_LOST and the next one creates a new device (for the encoder and its
   * indexes alike): lets an app test its recovery path.
   */
  simulateDeviceLoss(): Promise<void>;
  /**
   * Gives up this encoder's share of the engine: the engine (worker, GPU device) goes when its
   * last client does. Later calls reject with DisposedError.
   */
  dispose(): Promise<void>;
}

const abortError = () => new M3WebError('ABORTED', 'the call was aborted');

/** A call's options: an object, or nothing (the engine checks the keys). */
const isOptions = (o: unknown): boolean => o === undefined || o === null || (typeof o === 'object' && !Array.isArray(o));

/** An AbortSignal, by what `abortable` uses of one (a signal from another realm included). */
const isAbortSignal = (s: unknown): s is AbortSignal =>
  typeof s === 'object' &&
  s !== null &&
  typeof (s as AbortSignal).aborted === 'boolean' &&
  typeof (s as AbortSignal).addEventListener === 'function' &&
  typeof (s as AbortSignal).removeEventListener === 'function';

/** Rejects as soon as `signal` aborts, even while the engine is still busy with the call. */
function abortable<T>(call: Promise<T>, signal: AbortSignal | undefined, onAbort: () => void): Promise<T> {
  if (!signal) return call;
  if (signal.aborted) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    const stop = () => {
      onAbort();
      reject(abortError());
    };
    signal.addEventListener('abort', stop, { once: true });
    call.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}

/** Input that structured cloning refuses (functions, class instances with methods) is the caller's error. */
function asInputError(err: unknown): unknown {
  if (err instanceof Error && err.name === 'DataCloneError') {
    return new InputError(`an argument cannot be sent to the m3web worker (${err.message}); pass plain data`);
  }
  return err;
}

type EngineOptions = Omit<EncoderOptions, 'onProgress' | 'onUpgrade' | 'shared'>;

/**
 * The client side of an engine. Every call goes over the connection; when the engine's worker
 * dies, calls in flight reject with ENGINE_LOST and the next call connects again (a new engine,
 * the model from the offline cache), reopening stored indexes on it.
 */
export class EncoderClient implements Encoder, IndexOwner {
  private nextCall = 1;
  private disposed = false;
  /** Bumped on every new connection: index proxies opened on an older one must reopen. */
  private generation = 0;
  private reconnecting: Promise<Connection> | null = null;

  private constructor(
    private conn: Connection | null,
    private readonly options: EncoderOptions,
  ) {
    if (conn) this.watch(conn);
  }

  get local(): boolean {
    return this.conn?.local ?? !inPage();
  }

  static async create(options: EncoderOptions): Promise<EncoderClient> {
    const conn = await EncoderClient.open(options);
    return new EncoderClient(conn, options);
  }

  private static async open(options: EncoderOptions): Promise<Connection> {
    const { onProgress, onUpgrade, shared, ...rest } = options;
    const conn = await connect({ ...(shared === undefined ? {} : { shared }), ...(rest.device ? { device: rest.device } : {}) });
    try {
      // A pack URL is resolved against the page, since the worker has another base; a hub id is not a URL.
      const model =
        typeof rest.model === 'string' && typeof location !== 'undefined' && !parseHubId(rest.model)
          ? new URL(rest.model, location.href).href
          : rest.model;
      const engineOptions: EngineOptions = { ...rest, model };
      const progress = onProgress ? proxy(onProgress) : undefined;
      await Promise.race([conn.api.open(engineOptions, progress, onUpgrade ? proxy(onUpgrade) : undefined), conn.lost]);
      return conn;
    } catch (err) {
      conn.close();
      throw err;
    }
  }

  async embed(texts: string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    if (isOptions(options) && options?.sparse)
      throw new InputError('embed returns vectors only: pass sparse: true to embedDetailed (or call embedSparse)');
    return (await this.embedDetailed(texts, options)).vectors;
  }

  embedDetailed(texts: string[], options: EmbedOptions = {}): Promise<EmbedResult> {
    if (!isOptions(options)) return Promise.reject(new InputError(`embed options must be an object, got ${typeName(options)}`));
    const { signal, ...rest } = options ?? {};
    return this.abortableCall(signal, (api, id) => api.embedDetailed(id, texts, rest));
  }

  rerank(query: string, documents: string[], options: RerankOptions = {}): Promise<RerankHit[]> {
    if (!isOptions(options)) return Promise.reject(new InputError(`rerank options must be an object, got ${typeName(options)}`));
    const { signal, ...rest } = options ?? {};
    return this.abortableCall(signal, (api, id) => api.rerank(id, query, documents, rest));
  }

  embedTokens(texts: string[], options: TokenEmbedOptions = {}): Promise<Float32Array[]> {
    if (!isOptions(options))
      return Promise.reject(new InputError(`embedTokens options must be an object, got ${typeName(options)}`));
    const { signal, ...rest } = options ?? {};
    return this.abortableCall(signal, (api, id) => api.embedTokens(id, texts, rest));
  }

  embedSparse(texts: string[], options: SparseEmbedOptions = {}): Promise<SparseVector[]> {
    if (!isOptions(options))
      return Promise.reject(new InputError(`embedSparse options must be an object, got ${typeName(options)}`));
    const { signal, ...rest } = options ?? {};
    return this.abortableCall(signal, (api, id) => api.embedSparse(id, texts, rest));
  }

  /**
   * An engine call under a fresh call id, which `signal` aborts there too; a signal aborted
   * already starts nothing.
   */
  private abortableCall<T>(signal: unknown, job: (api: Connection['api'], id: number) => Promise<T>): Promise<T> {
    if (signal !== undefined && !isAbortSignal(signal)) {
      return Promise.reject(new InputError(`signal must be an AbortSignal, got ${typeName(signal)}`));
    }
    if (signal?.aborted) return Promise.reject(abortError());
    const id = this.nextCall++;
    return this.call((api, conn) => abortable(job(api, id), signal, () => void conn.api.abort(id).catch(() => undefined)));
  }

  info(): Promise<EncoderInfo> {
    return this.call((api) => api.info());
  }

  plan(budget: Budget = {}): Promise<EncoderPlan> {
    return this.call((api) => api.plan(budget));
  }

  simulateDeviceLoss(): Promise<void> {
    return this.call((api) => api.simulateDeviceLoss());
  }

  /** Stops this worker at once, as a crash would (tests of recovery). */
  simulateCrash(): Promise<void> {
    return this.call(async (api) => {
      await api.crash().catch(() => undefined);
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.conn?.close();
    this.conn = null;
  }

  /** Opens an index that lives in the engine, next to the model, scoring on its device. */
  async openIndex(options: RemoteIndexOptions): Promise<VectorIndex> {
    const generation = this.generation;
    const { id, state } = await this.openRemoteIndex(options, (s) => index.update(s));
    const Client = options.url === undefined ? IndexClient : StaticIndexClient;
    const index: IndexClient = new Client(this, options, id, state, generation);
    return index;
  }

  /** Calls index method `method` for `index`, reopening it first if the engine was replaced. */
  async indexCall(index: IndexClient, method: IndexMethod, args: unknown[]): Promise<{ result: unknown; state: IndexState }> {
    return this.call(async (api) => {
      if (index.generation !== this.generation) {
        // A stored index, or a static one (its files are cached), opens again; a memory one is gone.
        if (index.options.store !== 'indexeddb' && index.options.url === undefined) {
          throw new EngineLostError(
            `in-memory index "${index.name}" was lost with its engine (the worker stopped); create it again`,
          );
        }
        const { id, state } = await this.openRemoteIndex(index.options, (s) => index.update(s));
        index.rebind(id, state, this.generation);
      }
      return api.index(index.id, method, args);
    });
  }

  closeIndex(index: IndexClient): void {
    if (index.generation === this.generation) void this.conn?.api.closeIndex(index.id).catch(() => undefined);
  }

  private openRemoteIndex(
    options: RemoteIndexOptions,
    onChange: (s: IndexState) => void,
  ): Promise<{ id: number; state: IndexState }> {
    return this.call((api) => api.openIndex(options, proxy(onChange)));
  }

  private async call<T>(job: (api: Connection['api'], conn: Connection) => Promise<T>): Promise<T> {
    if (this.disposed) throw new DisposedError('This encoder');
    const conn = await this.live();
    try {
      return await Promise.race([job(conn.api, conn), conn.lost]);
    } catch (err) {
      throw asInputError(err);
    }
  }

  /** The connection, made anew when the last one was lost. */
  private async live(): Promise<Connection> {
    if (this.conn) return this.conn;
    this.reconnecting ??= EncoderClient.open(this.options).then(
      (conn) => {
        this.reconnecting = null;
        if (this.disposed) {
          conn.close();
          throw new DisposedError('This encoder');
        }
        this.conn = conn;
        this.generation++;
        this.watch(conn);
        return conn;
      },
      (err) => {
        this.reconnecting = null;
        throw err;
      },
    );
    return this.reconnecting;
  }

  private watch(conn: Connection): void {
    conn.lost.catch(() => {
      if (this.conn !== conn) return;
      this.conn = null;
      conn.close();
    });
  }
}
