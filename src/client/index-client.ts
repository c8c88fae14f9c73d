import { DisposedError, InputError } from '../errors.js';
import { rerankedSearch } from '../search/rerank.js';
import type {
  CorrectionOptions,
  IndexDoc,
  IndexOptions,
  IndexSignature,
  SearchHit,
  SearchOptions,
  StaticIndex,
  StaticIndexOptions,
  StaticIndexStats,
  SyncReport,
  VectorIndex,
} from '../search/types.js';
import type { IndexMethod } from '../worker/host.js';
import type { IndexState } from '../worker/protocol.js';

/** Whoever carries an IndexClient's calls to the engine (the EncoderClient that opened it). */
export interface IndexOwner {
  /** True where the engine runs in this thread, so a function filter can reach it. */
  readonly local: boolean;
  indexCall(index: IndexClient, method: IndexMethod, args: unknown[]): Promise<{ result: unknown; state: IndexState }>;
  closeIndex(index: IndexClient): void;
}

/**
 * The page's handle on an index that lives in the engine: every method is a call there; the
 * synchronous fields show the state the last call (or another tab's change) reported.
 */
export class IndexClient implements VectorIndex {
  private closed = false;

  constructor(
    private readonly owner: IndexOwner,
    readonly options: Omit<IndexOptions, 'encoder'> | Omit<StaticIndexOptions, 'encoder'>,
    private remoteId: number,
    private state: IndexState,
    private opened: number,
  ) {}

  get id(): number {
    return this.remoteId;
  }
  /** The owner's connection this handle was opened on. */
  get generation(): number {
    return this.opened;
  }
  get name(): string {
    return this.state.name;
  }
  get size(): number {
    return this.state.size;
  }
  get backend(): 'webgpu' | 'cpu' {
    return this.state.backend;
  }
  get signature(): IndexSignature {
    return { ...this.state.signature };
  }
  get needsRebuild(): boolean {
    return this.state.needsRebuild;
  }
  /** As the last call, or the engine's last word on the index (each re-embedded slice), reported it. */
  get shallowRows(): number {
    return this.state.shallowRows;
  }

  update(state: IndexState): void {
    this.state = state;
  }

  rebind(id: number, state: IndexState, generation: number): void {
    this.remoteId = id;
    this.state = state;
    this.opened = generation;
  }

  add(docs: IndexDoc[]): Promise<void> {
    return this.call('add', [docs]) as Promise<void>;
  }
  upsert(docs: IndexDoc[]): Promise<void> {
    return this.call('upsert', [docs]) as Promise<void>;
  }
  sync(docs: IndexDoc[]): Promise<SyncReport> {
    return this.call('sync', [docs]) as Promise<SyncReport>;
  }
  remove(ids: string[]): Promise<number> {
    return this.call('remove', [ids]) as Promise<number>;
  }
  async search(query: string, options?: SearchOptions): Promise<SearchHit[]> {
    if (typeof options?.filter === 'function' && !this.owner.local) {
      throw new InputError(
        'a function filter cannot reach the index in the worker; use an object filter (documents whose meta has every key: { lang: "de" })',
      );
    }
    // A reranker stays on this side: the index in the engine answers the first stage.
    return rerankedSearch(query, options, (q, o) => this.call('search', [q, o]) as Promise<SearchHit[]>);
  }
  corrections(query: string, options?: CorrectionOptions): Promise<Record<string, string[]>> {
    return this.call('corrections', [query, options]) as Promise<Record<string, string[]>>;
  }
  translations(query: string): Promise<Record<string, string[]>> {
    return this.call('translations', [query]) as Promise<Record<string, string[]>>;
  }
  clear(): Promise<void> {
    return this.call('clear', []) as Promise<void>;
  }
  export(): Promise<Uint8Array> {
    return this.call('export', []) as Promise<Uint8Array>;
  }
  import(data: Uint8Array): Promise<void> {
    return this.call('import', [data]) as Promise<void>;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.owner.closeIndex(this);
  }

  protected async call(method: IndexMethod, args: unknown[]): Promise<unknown> {
    if (this.closed) throw new DisposedError(`Index "${this.name}"`);
    const { result, state } = await this.owner.indexCall(this, method, args);
    this.state = state;
    return result;
  }
}

/** The page's handle on a static index in the engine. */
export class StaticIndexClient extends IndexClient implements StaticIndex {
  stats(): Promise<StaticIndexStats> {
    return this.call('stats', []) as Promise<StaticIndexStats>;
  }
}
