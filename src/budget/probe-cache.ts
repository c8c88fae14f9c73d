import { createStore, get, set, type UseStore } from 'idb-keyval';
import type { GpuAdapterSummary } from '../gpu/device.js';
import type { Elem } from '../gpu/resources.js';
import type { EncoderBackend } from '../model/encoder.js';
import type { EncoderConfig } from '../weights/config.js';
import { type ActivationsProbe, probeActivations } from './activations.js';
import type { BackendProbes } from './backend-choice.js';
import { type DeviceProbe, type ProbeTarget, probeBoth, probeCacheKey, probeDevice } from './probe.js';

// A database of its own, so clearing shards or app data never drops probes and the reverse.
const DB_NAME = 'm3web-probe';
const STORE_NAME = 'probes';
/** Browsers and GPU drivers update under a stored probe; re-measuring monthly keeps it honest. */
const MAX_AGE_MS = 30 * 24 * 3600 * 1000;

/** A key-value store of probe records. */
export interface ProbeStore {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string' && typeof window === 'undefined';

function idbStore(): ProbeStore {
  const db: UseStore = createStore(DB_NAME, STORE_NAME);
  return { get: (key) => get<unknown>(key, db), set: (key, value) => set(key, value, db) };
}

function memoryStore(): ProbeStore {
  const memory = new Map<string, unknown>();
  return { get: async (key) => memory.get(key), set: async (key, value) => void memory.set(key, value) };
}

/**
 * `disk` behind the process's memory: a record read or written once is served from memory after,
 * and one the disk would not take (a read-only cache folder) still lasts as long as the process.
 */
function withMemory(disk: ProbeStore): ProbeStore {
  const memory = new Map<string, unknown>();
  return {
    async get(key) {
      if (memory.has(key)) return memory.get(key);
      const value = await disk.get(key);
      if (value !== undefined) memory.set(key, value);
      return value;
    },
    async set(key, value) {
      memory.set(key, value);
      await disk.set(key, value);
    },
  };
}

/**
 * src/node/probe-folder.ts, imported by a computed name so that browser bundlers never pull
 * node:fs into the worker (and typed here, since a type import of it would close a cycle).
 */
const folderStore = () =>
  (import(/* @vite-ignore */ ['..', 'node', 'probe-folder.js'].join('/')) as Promise<{ folderProbeStore(): ProbeStore }>).then(
    (m) => m.folderProbeStore(),
  );

let store: Promise<ProbeStore> | undefined;

/**
 * Where probes are kept: IndexedDB in a page or worker; in Node, files under the cache folder
 * (M3WEB_CACHE_DIR) behind the process's memory, so each machine, not each process, measures
 * once; elsewhere the process's memory.
 */
function probeStore(): Promise<ProbeStore> {
  store ??=
    typeof indexedDB !== 'undefined'
      ? Promise.resolve(idbStore())
      : isNode
        ? folderStore().then(withMemory, () => memoryStore())
        : Promise.resolve(memoryStore());
  return store;
}

/** Timings depend on the layer shapes, not on the vocabulary (gathered on the CPU) or depth (per layer). */
export function modelFingerprint(config: Pick<EncoderConfig, 'hiddenSize' | 'intermediateSize' | 'numHeads' | 'moe'>): string {
  const { moe } = config;
  return `h${config.hiddenSize}-i${config.intermediateSize}-a${config.numHeads}${moe ? `-e${moe.experts}x${moe.everyN}` : ''}`;
}

/** The stored key of a probe: device, caller's model key, layer shapes. */
export function probeStoreKey(target: ProbeTarget, modelKey: string, config: EncoderConfig): string {
  return `${probeCacheKey(target)}|${modelKey}|${modelFingerprint(config)}`;
}

/**
 * The stored value under `key` if `usable` accepts it, else `measure()`'s (then stored, unless
 * `keep` is false). The cache only saves time, so a storage failure (private mode, quota, a
 * read-only disk) falls back to measuring instead of failing the caller.
 */
async function cached<T>(key: string, usable: (v: unknown) => v is T, measure: () => Promise<T>, keep = true): Promise<T> {
  const hit = await stored(key, usable);
  if (hit !== null) return hit;
  const value = await measure();
  if (keep) await (await probeStore()).set(key, value).catch(() => undefined);
  return value;
}

/** The stored value under `key` if `usable` accepts it, else null (a storage failure included). */
async function stored<T>(key: string, usable: (v: unknown) => v is T): Promise<T | null> {
  const hit = await (await probeStore()).get(key).catch(() => undefined);
  return usable(hit) ? hit : null;
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

/** The key and validity check of device 'auto''s record of both probes for an adapter and model. */
function bothRecord(config: EncoderConfig, gpu: ProbeTarget, modelKey: string) {
  const cpuKey = probeCacheKey({ kind: 'cpu', adapter: null });
  const gpuKey = probeCacheKey(gpu);
  return {
    key: `auto|${probeStoreKey(gpu, modelKey, config)}`,
    usable: (v: unknown): v is BackendProbes =>
      typeof v === 'object' &&
      v !== null &&
      isUsable((v as BackendProbes).cpu, cpuKey) &&
      isUsable((v as BackendProbes).webgpu, gpuKey, true),
  };
}

/**
 * The stored probes of both backends for device 'auto' on this adapter and model, or null; it
 * measures nothing, so a caller can learn before making a WebGPU backend whether one is needed.
 */
export function storedProbes(config: EncoderConfig, gpu: ProbeTarget, modelKey: string): Promise<BackendProbes | null> {
  const { key, usable } = bothRecord(config, gpu, modelKey);
  return stored(key, usable);
}

/**
 * The stored probes of both backends for device 'auto' on this adapter and model, or fresh ones
 * (probeBoth, then stored; `measured` says which). `settled` is WebGPU's call still running when
 * a fresh probe stopped at its time budget: await it before using or disposing that backend.
 */
export async function getOrProbeBoth(
  cpu: EncoderBackend,
  gpu: { backend: EncoderBackend; target: ProbeTarget },
  modelKey: string,
): Promise<{ probes: BackendProbes; settled: Promise<void>; measured: boolean }> {
  let settled: Promise<void> = Promise.resolve();
  let measured = false;
  const { key, usable } = bothRecord(cpu.config, gpu.target, modelKey);
  const probes = await cached(
    key,
    usable,
    async () => {
      const both = await probeBoth(cpu, gpu);
      settled = both.webgpu.settled;
      measured = true;
      return { cpu: both.cpu, webgpu: both.webgpu.probe };
    },
    fullProbe(cpu),
  );
  return { probes, settled, measured };
}

/** The key and validity check of the activations record for an adapter and model. */
function activationsRecord(config: EncoderConfig, adapter: GpuAdapterSummary, modelKey: string) {
  const target = { kind: 'webgpu' as const, adapter };
  const key = probeCacheKey(target);
  const timed = (ms: unknown) => Number.isFinite(ms) && (ms as number) >= 0;
  return {
    key: `activations|${probeStoreKey(target, modelKey, config)}`,
    usable: (v: unknown): v is ActivationsProbe => {
      const p = v as Partial<ActivationsProbe> | null;
      return recent(v, 1, key) && timed(p?.ms?.f32) && (p?.ms?.f16 === null || timed(p?.ms?.f16));
    },
  };
}

/** The stored timings of f32 and f16 activations on `adapter` for this model, or null; measures nothing. */
export function storedActivations(
  config: EncoderConfig,
  adapter: GpuAdapterSummary,
  modelKey: string,
): Promise<ActivationsProbe | null> {
  const { key, usable } = activationsRecord(config, adapter, modelKey);
  return stored(key, usable);
}

/**
 * The stored timings of f32 and f16 activations on `adapter` for this model, or fresh ones
 * (probeActivations over the backends `make` builds, then stored): what activations 'auto'
 * decides by, once per adapter and model.
 */
export function getOrProbeActivations(
  config: EncoderConfig,
  adapter: GpuAdapterSummary,
  modelKey: string,
  make: (activations: Elem) => Promise<EncoderBackend>,
): Promise<ActivationsProbe> {
  const { key, usable } = activationsRecord(config, adapter, modelKey);
  return cached(key, usable, () => probeActivations(make, adapter));
}

/** Whether `v` is a record of format `version` for `key`, made within MAX_AGE_MS. */
function recent(v: unknown, version: number, key: string): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as { version?: unknown; key?: unknown; createdAt?: unknown };
  return p.version === version && p.key === key && typeof p.createdAt === 'number' && Date.now() - p.createdAt < MAX_AGE_MS;
}

/** Rejects records from another format version, another device, or too long ago. */
function isUsable(v: unknown, key: string, bounded = false): v is DeviceProbe {
  if (!recent(v, 2, key)) return false;
  const p = v as Partial<DeviceProbe>;
  return (
    Array.isArray(p.measured) &&
    // A bounded probe (probeAgainst) may have stopped before its first shape.
    (bounded || p.measured.length > 0) &&
    // A bounded probe times WebGPU, whose every call waits for a readback: a stored 0 ms is a call
    // its budget cut off that earlier builds kept as a timing, so it is measured again.
    p.measured.every((m) => Number.isFinite(m?.ms) && (bounded ? m.ms > 0 : m.ms >= 0))
  );
}
