import { createStore, get, set, type UseStore } from 'idb-keyval';
import type { EncoderBackend } from '../model/encoder.js';
import type { EncoderConfig } from '../weights/config.js';
import { type DeviceProbe, type ProbeTarget, probeCacheKey, probeDevice } from './probe.js';

// A database of its own, so clearing shards or app data never drops probes and the reverse.
const DB_NAME = 'm3web-probe';
const STORE_NAME = 'probes';
/** Browsers and GPU drivers update under a stored probe; re-measuring monthly keeps it honest. */
const MAX_AGE_MS = 30 * 24 * 3600 * 1000;

let store: UseStore | undefined;

/** Timings depend on the layer shapes, not on the vocabulary (gathered on the CPU) or depth (per layer). */
export function modelFingerprint(config: Pick<EncoderConfig, 'hiddenSize' | 'intermediateSize' | 'numHeads'>): string {
  return `h${config.hiddenSize}-i${config.intermediateSize}-a${config.numHeads}`;
}

/** The IndexedDB key of a probe: device, caller's model key, layer shapes. */
export function probeStoreKey(target: ProbeTarget, modelKey: string, config: EncoderConfig): string {
  return `${probeCacheKey(target)}|${modelKey}|${modelFingerprint(config)}`;
}

/**
 * The stored probe for this device and model, or a fresh one (then stored). `modelKey` should name
 * what else changes speed, such as the pack id and its weight quantization. Where there is no
 * IndexedDB (Node) every call probes. The cache only saves time, so a storage failure (private
 * mode, quota) falls back to probing instead of failing the caller's plan.
 */
export async function getOrProbe(backend: EncoderBackend, target: ProbeTarget, modelKey: string): Promise<DeviceProbe> {
  if (typeof indexedDB === 'undefined') return probeDevice(backend, target);
  store ??= createStore(DB_NAME, STORE_NAME);
  const key = probeStoreKey(target, modelKey, backend.config);
  const cached = await get<unknown>(key, store).catch(() => undefined);
  if (isUsable(cached, probeCacheKey(target))) return cached;
  const probe = await probeDevice(backend, target);
  await set(key, probe, store).catch(() => undefined);
  return probe;
}

/** Rejects records from another format version, another device, or too long ago. */
function isUsable(v: unknown, key: string): v is DeviceProbe {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Partial<DeviceProbe>;
  return (
    p.version === 1 &&
    p.key === key &&
    typeof p.createdAt === 'number' &&
    Date.now() - p.createdAt < MAX_AGE_MS &&
    Array.isArray(p.measured) &&
    p.measured.length > 0 &&
    p.measured.every((m) => Number.isFinite(m?.ms) && m.ms >= 0)
  );
}
