import { InputError } from '../errors.js';
import { GpuSession } from '../gpu/session.js';
import { openIndex } from '../search/index.js';
import type { IndexHost, IndexOptions, StaticIndexOptions, VectorIndex } from '../search/types.js';
import { openModel } from '../source/open-model.js';
import type { EncoderOptions, LoadProgress } from '../types.js';
import { firstExit } from '../weights/config.js';
import { EncoderCore } from './encoder-core.js';

/** What identifies an engine: clients asking for the same model this way share one. */
export type EngineOptions = Pick<
  EncoderOptions,
  'model' | 'revision' | 'device' | 'activations' | 'layers' | 'cache' | 'hub' | 'dtype' | 'dims' | 'progressive'
>;

/** A stored or memory index's options, or a static folder's. */
export type EngineIndexOptions = Omit<IndexOptions, 'encoder'> | Omit<StaticIndexOptions, 'encoder'>;
type StoredIndexOptions = Omit<IndexOptions, 'encoder'>;

/** One client's use of an index; the index closes when its last user releases it. */
export interface IndexLease {
  index: VectorIndex;
  /** Called after each change any user makes (size, signature). */
  onChange(listener: () => void): void;
  /** Tells the other users of the index that it changed. */
  changed(): void;
  release(): void;
}

interface SharedIndex {
  index: Promise<VectorIndex>;
  options: StoredIndexOptions;
  users: number;
  listeners: Set<() => void>;
}

/** The options two opens of one stored index must agree on (those given: left out takes the stored ones). */
function sameIndexOptions(a: StoredIndexOptions, b: StoredIndexOptions): boolean {
  const la = a.lexicons && languagesOf(a.lexicons);
  const lb = b.lexicons && languagesOf(b.lexicons);
  return (
    (['dims', 'layers', 'vector', 'device'] as const).every((k) => a[k] === undefined || b[k] === undefined || a[k] === b[k]) &&
    // A second opener asking for lexicons must get them; one asking for none searches with the index's.
    (lb === undefined || la === lb)
  );
}

const languagesOf = (lexicons: unknown) =>
  Array.isArray(lexicons)
    ? lexicons
        .map((l: { language?: unknown } | null) => String(l?.language))
        .sort()
        .join(' ')
    : typeof lexicons;

/** Options as an error message shows them: lexicons by their languages, not their words. */
const shown = (o: StoredIndexOptions) => JSON.stringify(o.lexicons ? { ...o, lexicons: languagesOf(o.lexicons) } : o);

/**
 * A model, the GPU device it runs on and the indexes that score on that same device: what a
 * worker hosts (one per model, shared by every tab of an origin where SharedWorker exists) and
 * what createEncoder runs in-process in Node. Search and embed share the device's one queue, and
 * a lost device is replaced once for both.
 */
export class Engine {
  private readonly indexes = new Map<string, SharedIndex>();
  private readonly upgradeListeners = new Set<(layers: number) => void>();
  private disposed = false;

  private constructor(
    readonly core: EncoderCore,
    readonly session: GpuSession,
  ) {}

  /**
   * Loads the model and makes its encoder. With `progressive` the source opens at one layer (its
   * exits are not known before its manifest is), the first trained exit is loaded, and the engine
   * is ready; the layers up to `layers` (default all) then load in the background. When what
   * came was all from the offline cache, they load now instead: a warm cache starts whole.
   */
  static async open(options: EngineOptions, onProgress?: (p: LoadProgress) => void): Promise<Engine> {
    const { model, device: _device, activations: _activations, progressive, ...source } = options;
    const handle = await openModel(model, {
      ...source,
      ...(progressive ? { layers: 1 } : {}),
      ...(onProgress ? { onProgress } : {}),
    });
    // The caller's depth, checked once the model says how deep it is (sources take any, as a
    // progressive start's one layer).
    const least = firstExit(handle.info.layers);
    if (
      options.layers !== undefined &&
      (!Number.isInteger(options.layers) || options.layers < least || options.layers > handle.info.layers)
    )
      throw new InputError(`layers must be an integer in ${least}..${handle.info.layers}, got ${JSON.stringify(options.layers)}`);
    const target = options.layers ?? handle.info.layers;
    if (progressive) await handle.ensureLayers(handle.fromCache ? target : Math.min(...handle.info.exits));
    const session = new GpuSession();
    let engine: Engine;
    try {
      engine = new Engine(await EncoderCore.create(handle, options.device ?? 'auto', session, options.activations), session);
    } catch (err) {
      session.dispose();
      throw err;
    }
    // Not awaited: a failed or disposed upgrade leaves calls to load what they ask for (upgradeTo).
    if (progressive) void engine.core.upgradeTo(target, (layers) => engine.upgraded(layers)).catch(() => undefined);
    return engine;
  }

  /** Hears each deeper exit a progressive start makes available; returns the unsubscribe. */
  onUpgrade(listener: (layers: number) => void): () => void {
    this.upgradeListeners.add(listener);
    return () => this.upgradeListeners.delete(listener);
  }

  /**
   * Opens index `options.name` over this engine's encoder, scoring on its device. A stored
   * ('indexeddb') index is one object per name, shared by every client of the engine that opens
   * it with compatible options; a memory or static index belongs to the one client that made it.
   */
  async openIndex(options: EngineIndexOptions): Promise<IndexLease> {
    if (this.disposed) throw new InputError('the engine was disposed');
    const open = (listeners: Set<() => void>) =>
      openIndex({ ...options, encoder: this.core }, this.session, this.indexHost(listeners));
    if (options.store !== 'indexeddb') {
      const listeners = new Set<() => void>();
      const index = await open(listeners);
      return lease(index, listeners, () => index.close());
    }
    let shared = this.indexes.get(options.name);
    if (shared && !sameIndexOptions(shared.options, options)) {
      throw new InputError(
        `index "${options.name}" is already open in this engine (another tab?) with ${shown(shared.options)}; ` +
          `open it with the same options, got ${shown(options)}`,
      );
    }
    if (!shared) {
      const listeners = new Set<() => void>();
      shared = { index: open(listeners), options, users: 0, listeners };
      this.indexes.set(options.name, shared);
    }
    const entry = shared;
    entry.users++;
    let index: VectorIndex;
    try {
      index = await entry.index;
    } catch (err) {
      this.releaseShared(options.name, entry);
      throw err;
    }
    return lease(index, entry.listeners, () => this.releaseShared(options.name, entry));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const shared of this.indexes.values())
      void shared.index.then(
        (i) => i.close(),
        () => undefined,
      );
    this.indexes.clear();
    this.core.dispose();
    this.session.dispose();
  }

  /**
   * What an index of this engine embeds with besides the core, whose own calls run at the depth
   * asked (queries, and rows embedded again): documents at the depth loaded, so an add during a
   * progressive start does not wait for the download (search-index.ts embeds those rows again
   * once the index's exit arrives); `listeners` are its users', told of its background changes.
   */
  private indexHost(listeners: Set<() => void>): IndexHost {
    return {
      embedLoaded: (texts, options) => this.core.embedDetailed(texts, options, 'loaded'),
      upgradeBrings: (layers) => this.core.upgradeBrings(layers),
      onUpgrade: (listener) => this.onUpgrade(listener),
      changed: () => {
        for (const listener of listeners) listener();
      },
    };
  }

  private upgraded(layers: number): void {
    for (const listener of this.upgradeListeners) {
      // A listener's failure (a closed page's proxy, a callback that throws) is its own.
      void Promise.resolve()
        .then(() => listener(layers))
        .catch(() => undefined);
    }
  }

  private releaseShared(name: string, entry: SharedIndex): void {
    if (--entry.users > 0) return;
    if (this.indexes.get(name) === entry) this.indexes.delete(name);
    void entry.index.then(
      (i) => i.close(),
      () => undefined,
    );
  }
}

function lease(index: VectorIndex, listeners: Set<() => void>, close: () => void): IndexLease {
  let released = false;
  const mine = new Set<() => void>();
  return {
    index,
    onChange(listener) {
      mine.add(listener);
      listeners.add(listener);
    },
    changed() {
      for (const listener of listeners) listener();
    },
    release() {
      if (released) return;
      released = true;
      for (const listener of mine) listeners.delete(listener);
      close();
    },
  };
}
