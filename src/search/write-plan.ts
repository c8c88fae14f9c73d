import type { Collection } from './collection.js';
import { jsonEqual } from './filter.js';
import type { Segment } from './segment.js';
import type { IndexDoc } from './types.js';

/** What storing a batch of documents takes, against what the collection holds now. */
export interface WritePlan {
  /** New documents, and stored ones whose text (or chunk budget) changed: they are embedded. */
  embed: IndexDoc[];
  /** docHash of each `embed` document. */
  hashes: string[];
  /** Stored documents with the same text and other meta: their rows are kept, with the new meta. */
  meta: IndexDoc[];
  /** Stored documents equal to the given ones: nothing to do. */
  unchanged: number;
}

/** Splits `docs` (with `hashes[i]` the docHash of docs[i]) by what storing them takes. */
export function planWrite(docs: readonly IndexDoc[], hashes: readonly string[], collection: Collection): WritePlan {
  const plan: WritePlan = { embed: [], hashes: [], meta: [], unchanged: 0 };
  docs.forEach((doc, i) => {
    const stored = collection.stored(doc.id);
    const hash = hashes[i] as string;
    if (stored?.hash !== hash) {
      plan.embed.push(doc);
      plan.hashes.push(hash);
    } else if (!jsonEqual(stored.meta ?? {}, doc.meta ?? {})) plan.meta.push(doc);
    else plan.unchanged++;
  });
  return plan;
}

/** The stored rows of the `meta` documents, as a segment carrying their new meta. */
export function metaSegment(docs: readonly IndexDoc[], collection: Collection): Segment {
  const segment = collection.segment(docs.map((d) => d.id));
  return {
    ...segment,
    docs: segment.docs.map((record, i) => {
      const { meta: _old, ...rest } = record;
      const meta = docs[i]?.meta;
      return meta ? { ...rest, meta } : rest;
    }),
  };
}
