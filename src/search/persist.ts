import { createStore, delMany, get, getMany, keys, set, setMany, type UseStore } from 'idb-keyval';
import { ModelFormatError, StorageQuotaError, UnsupportedError } from '../errors.js';
import { isQuotaError } from '../store/cache.js';
import { concatSegments, type Segment, segmentProblem, withoutDocs } from './segment.js';
import type { IndexSignature } from './types.js';

// One IndexedDB database per index. Segment records are immutable; the single "manifest" record
// lists the live ones. A commit writes its new segments first and then switches the manifest in
// one put, so a reload at any moment finds either the old manifest or the new one, each naming
// only complete segments; segments no manifest names (a commit cut short, or replaced ones whose
// deletion did not finish) are deleted when the index is next opened.
//
// Several engines may hold the same index (one dedicated worker per tab where SharedWorker is
// missing): every commit runs under a Web Lock named after the index, first reloads what another
// engine committed since (the manifest's revision tells), and then tells the others on a
// BroadcastChannel, so concurrent writers lose nothing and readers catch up.
const MANIFEST = 'manifest';
const SEGMENT = 'segment:';
const FORMAT = 1;

interface SegmentRef {
  key: string;
  docs: number;
  /** Ids of its documents removed since it was written (it is rewritten once half are gone). */
  removed: string[];
}

interface Manifest {
  format: typeof FORMAT;
  signature: IndexSignature;
  segments: SegmentRef[];
  /** Number for the next segment key. */
  next: number;
  /** Commits so far (absent in indexes written before it existed: 0). */
  revision?: number;
}

export interface Change {
  /** New documents, as one segment. */
  add: Segment | null;
  /** Ids of stored documents to drop. */
  remove: readonly string[];
  /** Drop every stored document first (clear, import). */
  reset: boolean;
}

const liveDocs = (r: SegmentRef) => r.docs - r.removed.length;

function isManifest(m: unknown): m is Manifest {
  const x = m as Partial<Manifest> | null;
  return (
    typeof x === 'object' && x !== null && x.format === FORMAT && Array.isArray(x.segments) && typeof x.signature === 'object'
  );
}

/** What an index holds in IndexedDB: its signature (null before the first write) and live documents. */
export interface StoredIndex {
  signature: IndexSignature | null;
  segments: Segment[];
}

/** The stored side of an 'indexeddb' index. */
export class SegmentLog {
  /** Ids of each live segment, in row order (removed ones included until it is rewritten). */
  private readonly idsOf = new Map<string, string[]>();
  private readonly segmentOf = new Map<string, string>();
  private manifest: Manifest | null = null;
  private readonly channel: BroadcastChannel | null;
  private readonly listeners = new Set<() => void>();

  private constructor(
    private readonly name: string,
    private readonly db: UseStore,
    private readonly rowWords: (signature: IndexSignature) => number,
  ) {
    this.channel = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(`m3web-index-${name}`);
    this.channel?.addEventListener('message', () => {
      for (const listener of this.listeners) listener();
    });
  }

  /**
   * Opens (or starts) index `name` and reads it. `rowWords` gives the row size of a signature, to
   * check the stored rows.
   */
  static async open(name: string, rowWords: (signature: IndexSignature) => number): Promise<{ log: SegmentLog } & StoredIndex> {
    if (typeof indexedDB === 'undefined') {
      throw new UnsupportedError('store "indexeddb" needs IndexedDB, which this environment lacks; use store: "memory"');
    }
    const log = new SegmentLog(name, createStore(`m3web-index-${name}`, 'data'), rowWords);
    const stored = await log.locked(async () => {
      const read = await log.read();
      await log.removeOrphans();
      return read;
    });
    return { log, ...stored };
  }

  /** Calls `listener` when another engine (another tab's worker) commits to this index. */
  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  /**
   * Runs `job` holding the index's Web Lock, so no other engine commits meanwhile; where the
   * browser has no Web Locks (or in Node), `job` just runs.
   */
  locked<T>(job: () => Promise<T>): Promise<T> {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    return locks ? locks.request(`m3web-index-${this.name}`, job) : job();
  }

  /** True when another engine committed since this log last read or wrote. */
  async changedElsewhere(): Promise<boolean> {
    const stored = (await get<unknown>(MANIFEST, this.db)) ?? null;
    const revision = (m: unknown) => (isManifest(m) ? (m.revision ?? 0) : -1);
    return revision(stored) !== revision(this.manifest);
  }

  /**
   * Deletes segments no manifest names (a commit cut short, or replaced ones whose deletion did
   * not finish). Only under the lock: another engine's commit in progress has written segments
   * its manifest does not name yet.
   */
  private async removeOrphans(): Promise<void> {
    const current = (await get<unknown>(MANIFEST, this.db)) ?? null;
    const named = new Set(isManifest(current) ? current.segments.map((r) => r.key) : []);
    const orphans = (await keys(this.db)).filter((k) => k !== MANIFEST && !named.has(String(k)));
    if (orphans.length) await delMany(orphans, this.db);
  }

  /**
   * Reads the stored index afresh: its signature and live documents, in order. Call it inside
   * locked(): another engine's commit deletes the segments it replaced right after its manifest.
   */
  async read(): Promise<StoredIndex> {
    const { db, name, rowWords } = this;
    const manifest = (await get<unknown>(MANIFEST, db)) ?? null;
    if (manifest !== null && !isManifest(manifest))
      throw new ModelFormatError(`IndexedDB index "${name}" has a manifest m3web cannot read`);
    const refs = manifest?.segments ?? [];
    const records = await getMany<unknown>(
      refs.map((r) => r.key),
      db,
    );
    this.manifest = manifest;
    this.idsOf.clear();
    this.segmentOf.clear();
    const segments = records.map((record, i) => {
      const ref = refs[i] as SegmentRef;
      const problem = manifest && segmentProblem(record, rowWords(manifest.signature));
      if (problem) throw new ModelFormatError(`IndexedDB index "${name}": segment ${ref.key} ${problem}`);
      const segment = record as Segment;
      this.track(
        ref.key,
        segment.docs.map((d) => d.id),
        new Set(ref.removed),
      );
      return withoutDocs(segment, new Set(ref.removed), rowWords((manifest as Manifest).signature));
    });
    return { signature: manifest?.signature ?? null, segments };
  }

  close(): void {
    this.listeners.clear();
    this.channel?.close();
  }

  /**
   * Stores `change` under `signature`. `read` returns documents already stored (in memory, in the
   * given order), for segments this commit rewrites or merges. Throws without changing the
   * stored index when a write fails.
   */
  async commit(change: Change, signature: IndexSignature, read: (ids: string[]) => Segment): Promise<void> {
    const old = change.reset ? [] : (this.manifest?.segments ?? []);
    const refs = old.map((r) => ({ ...r, removed: [...r.removed] }));
    const byKey = new Map(refs.map((r) => [r.key, r]));
    for (const id of change.remove) byKey.get(this.segmentOf.get(id) ?? '')?.removed.push(id);
    let next = this.manifest?.next ?? 0;
    const pending = new Map<string, Segment>();
    const fresh = (segment: Segment): SegmentRef => {
      const key = `${SEGMENT}${next++}`;
      pending.set(key, segment);
      return { key, docs: segment.docs.length, removed: [] };
    };
    const contents = (r: SegmentRef) => pending.get(r.key) ?? read(this.liveIds(r));

    // Segments with half their documents removed are rewritten; emptied ones just go.
    const kept = refs.flatMap((r) => (liveDocs(r) === 0 ? [] : r.removed.length * 2 < r.docs ? [r] : [fresh(contents(r))]));
    if (change.add?.docs.length) kept.push(fresh(change.add));
    // Merge the last two while the newer is at least as large: like a binary counter, this
    // keeps O(log n) segments and rewrites each document O(log n) times.
    while (kept.length >= 2 && liveDocs(kept.at(-2) as SegmentRef) <= liveDocs(kept.at(-1) as SegmentRef)) {
      const b = kept.pop() as SegmentRef;
      const a = kept.pop() as SegmentRef;
      kept.push(fresh(concatSegments([contents(a), contents(b)])));
    }

    const revision = (this.manifest?.revision ?? 0) + 1;
    const manifest: Manifest = { format: FORMAT, signature, segments: kept, next, revision };
    const writes = kept.flatMap((r): [string, Segment][] => {
      const s = pending.get(r.key);
      return s ? [[r.key, s]] : [];
    });
    try {
      if (writes.length) await setMany(writes, this.db);
      await set(MANIFEST, manifest, this.db);
    } catch (err) {
      if (!isQuotaError(err)) throw err;
      const bytes = writes.reduce((n, [, s]) => n + s.words.byteLength + s.scales.byteLength, 0);
      throw new StorageQuotaError(
        bytes,
        `the browser refused to store index "${this.name}" (about ${(bytes / 2 ** 20).toFixed(1)} MiB more): storage is full; the index is unchanged`,
        { cause: err },
      );
    }
    this.channel?.postMessage({ revision });

    const live = new Set(kept.map((r) => r.key));
    const dropped = (this.manifest?.segments ?? []).map((r) => r.key).filter((k) => !live.has(k));
    if (change.reset) this.segmentOf.clear();
    for (const id of change.remove) this.segmentOf.delete(id);
    for (const k of dropped) this.idsOf.delete(k);
    for (const [key, segment] of writes)
      this.track(
        key,
        segment.docs.map((d) => d.id),
        new Set(),
      );
    this.manifest = manifest;
    // Best effort: whatever is left over, the next open deletes.
    if (dropped.length) await delMany(dropped, this.db).catch(() => undefined);
  }

  private liveIds(r: SegmentRef): string[] {
    const removed = new Set(r.removed);
    return (this.idsOf.get(r.key) ?? []).filter((id) => !removed.has(id));
  }

  private track(key: string, ids: string[], removed: ReadonlySet<string>): void {
    this.idsOf.set(key, ids);
    for (const id of ids) if (!removed.has(id)) this.segmentOf.set(id, key);
  }
}
