import { GpuError } from '../errors.js';
import { missingVulkanDriver } from './vulkan-drivers.js';

export interface GpuAdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for CPU implementations (SwiftShader, lavapipe, llvmpipe): correct but slow. */
  isFallback: boolean;
}

export interface GpuContext {
  device: GPUDevice;
  adapter: GpuAdapterSummary;
  features: { shaderF16: boolean; timestampQuery: boolean; subgroups: boolean };
  /** Settles when the device is lost (driver reset, tab backgrounded too long, destroy()). */
  lost: Promise<GPUDeviceLostInfo>;
  /** True where awaiting GPU work polls on this thread (Dawn in Node): see CompletionPacer. */
  waitPolls: boolean;
}

/** WebGPU's entry point, or why there is none here (for GpuError and `fallbackReason`). */
type GpuOrReason = { gpu: GPU; reason?: undefined } | { gpu?: undefined; reason: string };

/**
 * navigator.gpu in browsers and workers; in Node the `webgpu` package (Dawn). The module name
 * is held in a variable so bundlers leave the Node-only import alone.
 */
let nodeGpu: Promise<GpuOrReason> | undefined;

function getGpu(): Promise<GpuOrReason> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return Promise.resolve({ gpu: nav.gpu });
  if (typeof process === 'undefined' || !process.versions?.node) {
    return Promise.resolve({ reason: 'WebGPU is not available in this environment' });
  }
  // One Dawn instance per process, held here: if the instance object is garbage-collected,
  // dawn.node tears down the native instance under live devices and the process crashes.
  nodeGpu ??= createNodeGpu();
  return nodeGpu;
}

async function createNodeGpu(): Promise<GpuOrReason> {
  // M3WEB_DAWN_FLAGS="backend=opengles" and the like pick Dawn's backend in Node.
  const flags = (process.env.M3WEB_DAWN_FLAGS ?? '').split(/\s+/).filter(Boolean);
  if (process.platform === 'linux' && !flags.some((f) => f.startsWith('backend=') && f !== 'backend=vulkan')) {
    const fs = process.getBuiltinModule('node:fs');
    const missing = missingVulkanDriver(process.env, {
      listDir: (dir) => {
        try {
          return fs.readdirSync(dir);
        } catch {
          return [];
        }
      },
      exists: (path) => fs.existsSync(path),
    });
    if (missing) return { reason: missing };
  }
  const dawnModule = 'webgpu';
  try {
    const dawn = (await import(/* @vite-ignore */ dawnModule)) as {
      create(flags: string[]): GPU;
      globals: Record<string, unknown>;
    };
    for (const [k, v] of Object.entries(dawn.globals)) {
      if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    }
    return { gpu: dawn.create(flags) };
  } catch (cause) {
    return { reason: `the webgpu package (Dawn) could not be loaded: ${cause instanceof Error ? cause.message : String(cause)}` };
  }
}

/**
 * How kernels read values that every lane needs at the same time (matmul's rows of X,
 * attention's keys and values). `direct`: each lane loads them, which GPUs serve as one broadcast
 * from cache. `subgroup`: lanes 0-3 of each subgroup load one value each and share them through
 * subgroup broadcasts; for CPU adapters (lavapipe, SwiftShader), which run a subgroup's lanes as
 * one SIMD vector and, inside loops, load memory lane by lane even where every lane wants the
 * same address. Measurements in matmul.ts and attention.ts.
 */
export type SharedReads = 'direct' | 'subgroup';

export function sharedReads(gpu: Pick<GpuContext, 'adapter' | 'features'>): SharedReads {
  return gpu.features.subgroups && gpu.adapter.isFallback ? 'subgroup' : 'direct';
}

export interface GpuContextOptions {
  powerPreference?: GPUPowerPreference;
}

export async function createGpuContext(options: GpuContextOptions = {}): Promise<GpuContext> {
  const { gpu, reason } = await getGpu();
  if (!gpu) throw new GpuError('GPU_UNAVAILABLE', reason);
  const compat = typeof process !== 'undefined' && /backend=opengl/.test(process.env?.M3WEB_DAWN_FLAGS ?? '');
  const adapter = await gpu.requestAdapter({
    powerPreference: options.powerPreference ?? 'high-performance',
    ...(compat ? { featureLevel: 'compatibility' } : {}),
  });
  if (!adapter) throw new GpuError('GPU_UNAVAILABLE', 'WebGPU is present but no GPU adapter was found');
  const has = (f: string) => adapter.features.has(f);
  const requiredFeatures: GPUFeatureName[] = [];
  if (has('shader-f16')) requiredFeatures.push('shader-f16');
  if (has('timestamp-query')) requiredFeatures.push('timestamp-query');
  if (has('subgroups')) requiredFeatures.push('subgroups');
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredFeatures,
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
        maxStorageBuffersPerShaderStage: Math.min(adapter.limits.maxStorageBuffersPerShaderStage, 8),
      },
    });
  } catch (cause) {
    throw new GpuError('GPU_UNAVAILABLE', `requesting a WebGPU device failed: ${String(cause)}`, { cause });
  }
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const description = info.description ?? '';
  return {
    device,
    adapter: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description,
      isFallback:
        (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
        /swiftshader|llvmpipe|lavapipe|software/i.test(`${description} ${info.vendor} ${info.architecture}`),
    },
    features: { shaderF16: has('shader-f16'), timestampQuery: has('timestamp-query'), subgroups: has('subgroups') },
    lost: device.lost,
    waitPolls: gpu !== (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu,
  };
}
