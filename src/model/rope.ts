import type { RopeSpec } from '../weights/config.js';

/** RoPE's inverse frequencies theta^(-2i / headDim), one per pair i < headDim / 2. */
export function inverseFrequencies(theta: number, headDim: number): Float64Array {
  return Float64Array.from({ length: headDim / 2 }, (_, i) => theta ** (-(2 * i) / headDim));
}

/**
 * GTE's frequencies (new-impl's NTKScalingRotaryEmbedding, equations from kexue.fm/archives/9706):
 * fixed NTK raises the base to theta x factor and divides every frequency by factor^(2 / headDim);
 * mixed NTK keeps the base and divides pair i's by exp(a (i + 1)^b), a = ln(factor) / (headDim / 2)^b.
 */
export function ropeFrequencies(spec: RopeSpec, headDim: number): Float64Array {
  const { ropeTheta, ntk } = spec;
  if (!ntk) return inverseFrequencies(ropeTheta, headDim);
  const { factor, mixedB } = ntk;
  if (mixedB === null) return inverseFrequencies(ropeTheta * factor, headDim).map((f) => f / factor ** (2 / headDim));
  const a = Math.log(factor) / (headDim / 2) ** mixedB;
  return inverseFrequencies(ropeTheta, headDim).map((f, i) => f / Math.exp(a * (i + 1) ** mixedB));
}

/** The table of ropeTable(theta, ...) for the frequencies of ropeFrequencies. */
export function ropeSpecTable(spec: RopeSpec, headDim: number, positions: number): Float32Array {
  return frequencyTable(ropeFrequencies(spec, headDim), positions);
}

/**
 * Rotary position embedding tables, shared by the CPU forward and the GPU attention kernel:
 * for position p and pair i < headDim / 2, entries 2 (p * headDim / 2 + i) and the next hold
 * cos and sin of p * theta^(-2i / headDim). Computed in f64 and stored in f32, so the GPU never
 * evaluates sin/cos of large arguments (WGSL leaves their accuracy open outside [-pi, pi]).
 */
export function ropeTable(theta: number, headDim: number, positions: number): Float32Array {
  return frequencyTable(inverseFrequencies(theta, headDim), positions);
}

function frequencyTable(frequencies: Float64Array, positions: number): Float32Array {
  const half = frequencies.length;
  const table = new Float32Array(positions * half * 2);
  for (let i = 0; i < half; i++) {
    const inv = frequencies[i] as number;
    for (let p = 0; p < positions; p++) {
      const a = p * inv;
      table[(p * half + i) * 2] = Math.cos(a);
      table[(p * half + i) * 2 + 1] = Math.sin(a);
    }
  }
  return table;
}

/** The tables of a ModernBERT's global and local layers: one array when the thetas agree. */
export function ropeTables(
  thetas: { globalRopeTheta: number; localRopeTheta: number },
  headDim: number,
  positions: number,
): { global: Float32Array; local: Float32Array } {
  const global = ropeTable(thetas.globalRopeTheta, headDim, positions);
  const local = thetas.localRopeTheta === thetas.globalRopeTheta ? global : ropeTable(thetas.localRopeTheta, headDim, positions);
  return { global, local };
}
