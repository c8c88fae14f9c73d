import type { JsonValue, Meta, MetaFilter } from './types.js';

export function jsonEqual(a: JsonValue | undefined, b: JsonValue): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i] as JsonValue));
  const ao = a as Meta;
  const bo = b as Meta;
  const keys = Object.keys(bo);
  return (
    keys.length === Object.keys(ao).length && keys.every((k) => Object.hasOwn(ao, k) && jsonEqual(ao[k], bo[k] as JsonValue))
  );
}

/** A function filter as is; an object filter keeps meta that has every key with an equal (deep, JSON) value. */
export function metaPredicate(filter: MetaFilter): (meta: Meta) => boolean {
  if (typeof filter === 'function') return filter;
  const wanted = Object.entries(filter);
  return (meta) => wanted.every(([key, value]) => Object.hasOwn(meta, key) && jsonEqual(meta[key], value));
}
