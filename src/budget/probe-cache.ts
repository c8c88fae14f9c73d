import { createStore, get, set, type UseStore } from 'idb-keyval';
import type { EncoderBackend } from '../model/encoder.js';
import type { EncoderConfig } from '../weights/config.js';
import type { BackendProbes } from './backend-choice.js';
import { type DeviceProbe, type ProbeTarget, probeBoth, probeCacheKey, probeDevice } from './probe.js';

// A database of its own, so clearing shards or app data never drops probes and the reverse.
const DB_NAME = 'm3web-probe';
const STORE_NAME = 'probes';
/** Browsers and GPU drivers update under a stored probe; re-measuring monthly keeps it honest. */
const MAX_AGE_MS = 30 * 24 * 3600 * 1000;

let store: UseStore | undefined;
/** Where there is no IndexedDB (Node), probes last as long as the process: one probe per device and model. */
const memory = new Map<string, unknown>();

/** Timings depend on the layer shapes, not on the vocabulary (gathered on the CPU) or depth (per layer). */
export function modelFingerprint(config: Pick<EncoderConfig, 'hiddenSize' | 'intermediateSize' | 'numHeads'>): string {
  return `h${config.hiddenSize}-i${config.intermediateSize}-a${config.numHeads}`;
}

/** The IndexedDB key of a probe: device, caller's model key, layer shapes. */
export function probeStoreKey(target: ProbeTarget, modelKey: string, config: EncoderConfig): string {
  return `${probeCacheKey(target)}|${modelKey}|${modelFingerprint(config)}`;
}

/**
 * The stored value under `key` if `usable` accepts it, else `measure()`'s (then stored, unless
 * `keep` is false). The cache only saves time, so a storage failure (private mode, quota) falls
 * back to measuring instead of failing the caller.
 */
async function cached<T>(key: string, usable: (v: unknown) => v is T, measure: () => Promise<T>, keep = true): Promise<T> {
  if (typeof indexedDB === 'undefined') {
    const hit = memory.get(key);
    if (usable(hit)) return hit;
    const value = await measure();
    if (keep) memory.set(key, value);
    return value;
  }
  store ??= createStore(DB_NAME, STORE_NAME);
  const hit = await get<unknown>(key, store).catch(() => undefined);
  if (usable(hit)) return hit;
  const value = await measure();
  if (keep) await set(key, value, store).catch(() => undefined);
  return value;
}

/**
 * Whether a probe of `backend` may be stored: one timed at a single depth while the model has
 * more layers (a progressive start, or `layers: 1`) cannot tell the per-layer cost from the
 * fixed one, so it serves this backend set only and is measured again once two layers are loaded.
 */
const fullProbe = (backend: EncoderBackend) => backend.loadedLayers >= Math.min(2, backend.config.numLayers);

/**
 * The stored probe for this device and model, or a fresh one (then stored). `modelKey` should name
 * what else changes speed, such as the pack id and its weight quantization.
 */
export function getOrProbe(backend: EncoderBackend, target: ProbeTarget, modelKey: string): Promise<DeviceProbe> {
  const key = probeCacheKey(target);
  return cached(
    probeStoreKey(target, modelKey, backend.config),
    (v): v is DeviceProbe => isUsable(v, key),
    () => probeDevice(backend, target),
    fullProbe(backend),
  );
}

/**
 * The stored probes of both backends for device 'auto' on this adapter and model, or fresh ones
 * (probeBoth, then stored). `settled` is WebGPU's call still running when a fresh probe stopped
 * at its time budget: await it before using or disposing that backend.
 */
export async function getOrProbeBoth(
  cpu: EncoderBackend,
  gpu: { backend: EncoderBackend; target: ProbeTarget },
  modelKey: string,
): Promise<{ probes: BackendProbes; settled: Promise<void> }> {
  let settled: Promise<void> = Promise.resolve();
  const cpuKey = probeCacheKey({ kind: 'cpu', adapter: null });
  const gpuKey = probeCacheKey(gpu.target);
  const probes = await cached(
    `auto|${probeStoreKey(gpu.target, modelKey, cpu.config)}`,
    (v): v is BackendProbes =>
      typeof v === 'object' &&
      v !== null &&
      isUsable((v as BackendProbes).cpu, cpuKey) &&
      isUsable((v as BackendProbes).webgpu, gpuKey, true),
    async () => {
      const both = await probeBoth(cpu, gpu);
      settled = both.webgpu.settled;
      return { cpu: both.cpu, webgpu: both.webgpu.probe };
    },
    fullProbe(cpu),
  );
  return { probes, settled };
}

/** Rejects records from another format version, another device, or too long ago. */
function isUsable(v: unknown, key: string, bounded = false): v is DeviceProbe {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Partial<DeviceProbe>;
  return (
    p.version === 2 &&
    p.key === key &&
    typeof p.createdAt === 'number' &&
    Date.now() - p.createdAt < MAX_AGE_MS &&
    Array.isArray(p.measured) &&
    // A bounded probe (probeAgainst) may have stopped before its first shape.
    (bounded || p.measured.length > 0) &&
    p.measured.every((m) => Number.isFinite(m?.ms) && m.ms >= 0)
  );
}
