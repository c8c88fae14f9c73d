import { InputError, typeName } from '../errors.js';
import type { Fusion } from '../pack/manifest.js';
import { checkText } from '../tokenizer/check-text.js';
import { STANDARD_FUSION } from './fuse.js';
import type { CorrectionOptions, IndexDoc, JsonValue, Meta, MetaFilter, Ranker, SearchMode, SearchOptions } from './types.js';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Throws unless `v` survives JSON and IndexedDB unchanged: plain objects, arrays, strings, finite numbers, booleans, null. */
function checkJson(v: unknown, path: string, seen: Set<object>): asserts v is JsonValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new InputError(`${path} must be a finite number, got ${v}`);
    return;
  }
  if (typeof v !== 'object' || !(Array.isArray(v) || isPlainObject(v))) {
    throw new InputError(
      `${path} must be JSON-serialisable (plain objects, arrays, strings, numbers, booleans, null), got ${typeName(v)}`,
    );
  }
  if (seen.has(v)) throw new InputError(`${path} refers to itself`);
  seen.add(v);
  if (Array.isArray(v)) for (const [i, x] of v.entries()) checkJson(x, `${path}[${i}]`, seen);
  else for (const [key, x] of Object.entries(v)) checkJson(x, `${path}.${key}`, seen);
  seen.delete(v);
}

export function checkMeta(meta: unknown, path: string): asserts meta is Meta {
  if (!isPlainObject(meta)) throw new InputError(`${path} must be a plain object, got ${typeName(meta)}`);
  checkJson(meta, path, new Set());
}

/** Checks a batch for add / upsert; returns copies, so later changes by the caller do not reach the index. */
export function checkDocs(docs: unknown, method: string): IndexDoc[] {
  if (!Array.isArray(docs))
    throw new InputError(`${method} takes an array of { id, text, title?, meta? }, got ${typeName(docs)}`);
  const ids = new Set<string>();
  return docs.map((doc: unknown, i) => {
    const at = `${method}: docs[${i}]`;
    if (!isPlainObject(doc)) throw new InputError(`${at} must be an object { id, text, title?, meta? }, got ${typeName(doc)}`);
    const { id, text, title, meta } = doc;
    if (typeof id !== 'string' || id === '')
      throw new InputError(`${at}.id must be a non-empty string, got ${JSON.stringify(id) ?? typeName(id)}`);
    if (ids.has(id)) throw new InputError(`${at}.id "${id}" appears twice in one call`);
    ids.add(id);
    checkText(text, `${at}.text`);
    if (title !== undefined) checkText(title, `${at}.title`);
    if (meta !== undefined) checkMeta(meta, `${at}.meta`);
    return {
      id,
      text,
      ...(title === undefined ? {} : { title }),
      ...(meta === undefined ? {} : { meta: structuredClone(meta) }),
    };
  });
}

export function checkIds(ids: unknown): string[] {
  if (!Array.isArray(ids)) throw new InputError(`remove takes an array of ids, got ${typeName(ids)}`);
  ids.forEach((id, i) => {
    if (typeof id !== 'string') throw new InputError(`remove: ids[${i}] must be a string, got ${typeName(id)}`);
  });
  return ids as string[];
}

/** Checks a corrections call; returns its `prefix`. */
export function checkCorrections(query: unknown, options: unknown): boolean {
  checkText(query, 'corrections: query');
  if (options !== undefined && !isPlainObject(options))
    throw new InputError(`corrections options must be an object, got ${typeName(options)}`);
  const prefix = (options as CorrectionOptions | undefined)?.prefix ?? false;
  if (typeof prefix !== 'boolean') throw new InputError(`prefix must be a boolean, got ${typeName(prefix)}`);
  return prefix;
}

export interface CheckedSearch {
  k: number;
  filter: MetaFilter | undefined;
  dims: number;
  exact: boolean;
  candidates: number | undefined;
  mode: SearchMode;
  fusion: Fusion;
  prefix: boolean;
  typos: boolean;
  translate: boolean;
  syntax: boolean;
}

const RANKERS: readonly Ranker[] = ['vector', 'lexical', 'sparse'];
const MODES: readonly SearchMode[] = ['hybrid', ...RANKERS];
/**
 * `fusion` over the model's default `base`. A `k` without a method means ranks (it is reciprocal
 * rank fusion's constant, and calls written before fusion by scores pass it so). A call for the
 * other method than the model's starts from that method's standard (equal weights, k 60): weights
 * measured for one method mean nothing to the other.
 */
function checkFusion(fusion: unknown, base: Fusion): Fusion {
  if (fusion === undefined) return base;
  if (!isPlainObject(fusion)) throw new InputError(`fusion must be an object { method?, k?, weights? }, got ${typeName(fusion)}`);
  const baseMethod = base.method ?? 'ranks';
  const method = fusion.method ?? (fusion.k === undefined ? baseMethod : 'ranks');
  if (method !== 'ranks' && method !== 'scores')
    throw new InputError(`fusion.method must be "ranks" or "scores", got ${JSON.stringify(method)}`);
  if (method === 'scores' && fusion.k !== undefined)
    throw new InputError("fusion.k is reciprocal rank fusion's constant: method 'scores' takes none");
  const from = method === baseMethod ? base : STANDARD_FUSION;
  const k = fusion.k ?? ('k' in from ? from.k : STANDARD_FUSION.k);
  if (typeof k !== 'number' || !Number.isFinite(k) || k < 0)
    throw new InputError(`fusion.k must be a number >= 0, got ${JSON.stringify(k)}`);
  const w = fusion.weights ?? {};
  if (!isPlainObject(w))
    throw new InputError(`fusion.weights must be an object { vector?, lexical?, sparse? }, got ${typeName(w)}`);
  const weights = { ...from.weights };
  for (const [ranker, v] of Object.entries(w)) {
    if (!RANKERS.includes(ranker as Ranker))
      throw new InputError(`fusion.weights: unknown ranker "${ranker}" (${RANKERS.join(', ')})`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new InputError(`fusion.weights.${ranker} must be a number >= 0, got ${JSON.stringify(v)}`);
    weights[ranker as keyof typeof weights] = v;
  }
  return method === 'scores' ? { method, weights } : { k, weights };
}

/** Checks a search call; `fusion` is the model's default for hybrid ranking, `mode` the index's default ranking. */
export function checkSearch(
  query: unknown,
  options: unknown,
  indexDims: number,
  modelDims: readonly number[],
  fusion: Fusion = STANDARD_FUSION,
  defaultMode: SearchMode = 'hybrid',
): CheckedSearch {
  checkText(query, 'search: query');
  if (options !== undefined && !isPlainObject(options))
    throw new InputError(`search options must be an object, got ${typeName(options)}`);
  const o = (options ?? {}) as SearchOptions;
  const k = o.k ?? 10;
  if (!Number.isInteger(k) || k < 1) throw new InputError(`k must be a positive integer, got ${JSON.stringify(k)}`);
  const dims = o.dims ?? indexDims;
  if (!modelDims.includes(dims) || dims > indexDims) {
    const allowed = modelDims.filter((d) => d <= indexDims);
    throw new InputError(
      `dims must be one of the model's widths up to the index's ${indexDims} (${allowed.join(', ')}), got ${JSON.stringify(dims)}`,
    );
  }
  if (o.filter !== undefined && typeof o.filter !== 'function') checkMeta(o.filter, 'filter');
  if (o.exact !== undefined && typeof o.exact !== 'boolean')
    throw new InputError(`exact must be a boolean, got ${typeName(o.exact)}`);
  const c = o.candidates;
  if (c !== undefined && (!Number.isInteger(c) || c < k))
    throw new InputError(`candidates must be an integer >= k (${k}), got ${JSON.stringify(c)}`);
  const mode = o.mode ?? defaultMode;
  if (!MODES.includes(mode)) throw new InputError(`mode must be ${MODES.join(', ')} or left out, got ${JSON.stringify(mode)}`);
  if (o.prefix !== undefined && typeof o.prefix !== 'boolean')
    throw new InputError(`prefix must be a boolean, got ${typeName(o.prefix)}`);
  const prefix = o.prefix ?? false;
  if (o.typos !== undefined && typeof o.typos !== 'boolean')
    throw new InputError(`typos must be a boolean, got ${typeName(o.typos)}`);
  if (o.syntax !== undefined && typeof o.syntax !== 'boolean')
    throw new InputError(`syntax must be a boolean, got ${typeName(o.syntax)}`);
  if (o.translate !== undefined && typeof o.translate !== 'boolean')
    throw new InputError(`translate must be a boolean, got ${typeName(o.translate)}`);
  return {
    k,
    filter: o.filter,
    dims,
    exact: o.exact ?? false,
    candidates: c,
    mode,
    fusion: checkFusion(o.fusion, fusion),
    prefix,
    typos: o.typos ?? true,
    syntax: o.syntax ?? true,
    translate: o.translate ?? true,
  };
}
