// matmul.wgsl's few-rows tiling on CPU adapters (lavapipe, SwiftShader), which run a subgroup's
// lanes as one SIMD vector and, inside loops, load memory lane by lane even when every lane
// wants the same address. So instead of each lane reading X[row, k .. k + 3] itself, lanes 0-3
// of the subgroup (every subgroup has at least 4) read one value each and broadcast them
// through registers: a quarter of the loads. See matmul.ts for the measurements.
enable subgroups;

fn row_values(row: u32, k: u32, lane: u32) -> vec4<f32> {
  let kp = k + (lane & 3u);
  // Past the end of K the weights are zero too, but X there may be another row's values or,
  // at the end of the buffer, a robustness-clamped read: keep it an exact zero.
  let x = select(0.0, f32(X[row * P.K + min(kp, P.K - 1u)]), kp < P.K);
  return vec4<f32>(subgroupBroadcast(x, 0u), subgroupBroadcast(x, 1u), subgroupBroadcast(x, 2u), subgroupBroadcast(x, 3u));
}

@compute @workgroup_size(FEW_THREADS)
fn subgroup_rows(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  few_rows_block(gid.x * 4u, wid.y * FEW_ROWS, lane);
}
