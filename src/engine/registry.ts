import type { LoadProgress } from '../types.js';
import { Engine, type EngineOptions } from './engine.js';

interface Entry {
  engine: Promise<Engine>;
  clients: Set<string>;
  /** Progress listeners of clients waiting for the engine to load. */
  progress: Set<(p: LoadProgress) => void>;
}

/** A model folder by its files' paths and sizes (and dates, where they are Files): Blobs have no identity in JSON. */
const modelKey = (model: EngineOptions['model']) =>
  typeof model === 'object' && model !== null && typeof model.files === 'object' && model.files !== null
    ? [model.name, ...Object.entries(model.files).map(([path, f]) => [path, f.size, f instanceof File ? f.lastModified : 0])]
    : // Anything else is keyed as it is; opening it names what is wrong (openModel).
      String(model);

/**
 * The options that decide whether two clients can share an engine (depth loads on demand; a hub
 * token only opens the door, so it does not part two clients).
 */
const engineKey = (o: EngineOptions) =>
  JSON.stringify([
    modelKey(o.model),
    o.revision ?? null,
    o.device ?? 'auto',
    o.activations ?? 'auto',
    o.cache ?? true,
    o.hub?.url ?? null,
    o.dtype ?? null,
    o.dims ?? null,
  ]);

/**
 * The engines of one worker, by model: a client asking for a model that is loaded (or loading)
 * joins its engine instead of loading a second copy; the engine is disposed, and its GPU device
 * freed, when its last client leaves.
 */
export class EngineRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(
    /** Whether clients from several tabs reach this registry (a SharedWorker's). */
    readonly shared: boolean,
  ) {}

  async join(
    client: string,
    options: EngineOptions,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<{ key: string; engine: Engine }> {
    const key = engineKey(options);
    let entry = this.entries.get(key);
    if (!entry) {
      const progress = new Set<(p: LoadProgress) => void>();
      const created: Entry = {
        engine: Engine.open(options, (p) => {
          for (const listener of progress) listener(p);
        }),
        clients: new Set(),
        progress,
      };
      entry = created;
      this.entries.set(key, created);
      // A failed load is forgotten, so the next client tries again instead of inheriting it.
      created.engine.catch(() => {
        if (this.entries.get(key) === created) this.entries.delete(key);
      });
    }
    entry.clients.add(client);
    if (onProgress) entry.progress.add(onProgress);
    try {
      return { key, engine: await entry.engine };
    } catch (err) {
      entry.clients.delete(client);
      throw err;
    } finally {
      if (onProgress) entry.progress.delete(onProgress);
    }
  }

  /** The client is gone (disposed, or its tab closed); the last one out disposes the engine. */
  leave(client: string, key: string): void {
    const entry = this.entries.get(key);
    if (!entry?.clients.delete(client) || entry.clients.size > 0) return;
    this.entries.delete(key);
    void entry.engine.then(
      (e) => e.dispose(),
      () => undefined,
    );
  }

  clients(key: string): number {
    return this.entries.get(key)?.clients.size ?? 0;
  }
}
