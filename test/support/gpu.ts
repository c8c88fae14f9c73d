import { createGpuContext, type GpuContext } from '../../src/gpu/device.js';
import { UniformArena, uploadBuffer } from '../../src/gpu/resources.js';

let context: Promise<GpuContext> | undefined;

const LAVAPIPE = '/usr/share/vulkan/icd.d/lvp_icd.json';
const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * In Node, has Dawn use the Vulkan driver `icd` where it is installed. Call it before the file's
 * first GPU device: the Vulkan loader reads VK_ICD_FILENAMES when Dawn's instance is made, and
 * each test file runs in a process of its own.
 */
function useIcd(icd: string): void {
  if (typeof process === 'undefined' || !process.versions?.node) return;
  const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  if (fs.existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
}

/** Mesa's lavapipe (shader-f16), for test files of f16 activations, whatever ICD the run picked. */
export const preferLavapipe = () => useIcd(LAVAPIPE);

/** Chromium's SwiftShader (no shader-f16), for test files of what an adapter without it does. */
export const preferSwiftShader = () => useIcd(SWIFTSHADER);

const inNode = typeof process !== 'undefined' && Boolean(process.versions?.node);

/**
 * Whole-model parity runs every exit of every weight format in the Node project (lavapipe). The
 * browser project runs the same WGSL again on a second driver, Chromium's SwiftShader (~40x
 * slower here), for what a driver or Chromium's WebGPU can get wrong: every model's kernels once.
 * So there hidden states are read at the embeddings, the first layer and the last (a layer's
 * kernels are the same at every depth, and the last exit's states pass through every layer's
 * weights: a wrong layer still shows, and the Node project names it), and formats beyond f32
 * only where `everyFormat` says (BERT in parity.test.ts: the weight decoding is one matmul kernel
 * for every architecture).
 */
export function parityExits(layers: number): number[] {
  const all = Array.from({ length: layers + 1 }, (_, l) => l);
  return inNode ? all : all.filter((l) => l <= 1 || l === layers);
}

/** The exits pooled outputs are checked at: the first and the last; in the browser project the first (its pooling kernel; the last exit's states are checked as hidden states). */
export function parityPooledExits(layers: number): number[] {
  return inNode ? [...new Set([1, layers])] : [1];
}

/** How a test's title names the exits parityExits reads: 'every exit', or 'exits 0, 1 and 4'. */
export function exitsNamed(layers: number): string {
  const exits = parityExits(layers);
  return exits.length === layers + 1 ? 'every exit' : `exits ${exits.slice(0, -1).join(', ')} and ${exits.at(-1)}`;
}

/**
 * The weight formats a parity test runs in this project (see parityExits); none in the browser
 * project for a model whose kernels another fixture there runs already (`kernelsSeen`).
 */
export function parityQuants<Q extends string>(quants: readonly Q[], everyFormat = false, kernelsSeen = false): Q[] {
  if (inNode || everyFormat) return [...quants];
  return kernelsSeen ? [] : quants.filter((q) => q === 'f32');
}

/** One device per test file (Node worker or browser page), shared by its tests. */
export function testGpu(): Promise<GpuContext> {
  context ??= createGpuContext();
  return context;
}

/** A storage buffer holding `data` that tests can also read back. */
export function storage(device: GPUDevice, data: ArrayBufferView): GPUBuffer {
  return uploadBuffer(device, 'test', data, GPUBufferUsage.COPY_SRC);
}

export function empty(device: GPUDevice, floats: number): GPUBuffer {
  return storage(device, new Float32Array(floats));
}

/** Encodes one compute pass, submits it, and reads `floats` values of `result` back. */
export async function runPass(
  device: GPUDevice,
  result: GPUBuffer,
  floats: number,
  encode: (pass: GPUComputePassEncoder, uniforms: UniformArena) => void,
): Promise<Float32Array> {
  const uniforms = new UniformArena(device);
  uniforms.begin(8);
  const readback = device.createBuffer({ size: floats * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  device.pushErrorScope('validation');
  encode(pass, uniforms);
  pass.end();
  encoder.copyBufferToBuffer(result, 0, readback, 0, floats * 4);
  uniforms.flush();
  device.queue.submit([encoder.finish()]);
  const error = await device.popErrorScope();
  if (error) throw new Error(`validation error: ${error.message}`);
  await readback.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(readback.getMappedRange().slice(0));
  readback.destroy();
  uniforms.destroy();
  return out;
}
