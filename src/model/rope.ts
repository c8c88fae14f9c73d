/**
 * Rotary position embedding tables, shared by the CPU forward and the GPU attention kernel:
 * for position p and pair i < headDim / 2, entries 2 (p * headDim / 2 + i) and the next hold
 * cos and sin of p * theta^(-2i / headDim). Computed in f64 and stored in f32, so the GPU never
 * evaluates sin/cos of large arguments (WGSL leaves their accuracy open outside [-pi, pi]).
 */
export function ropeTable(theta: number, headDim: number, positions: number): Float32Array {
  const half = headDim / 2;
  const table = new Float32Array(positions * half * 2);
  for (let i = 0; i < half; i++) {
    const inv = theta ** (-(2 * i) / headDim);
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
