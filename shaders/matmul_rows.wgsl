// matmul.wgsl's few-rows tiling on adapters without subgroups, and on GPUs: X[row, k .. k + 3]
// is read by every thread at the same address, which GPUs broadcast.
fn row_values(row: u32, k: u32, lane: u32) -> vec4<f32> {
  return x4(row, k);
}

@compute @workgroup_size(FEW_THREADS)
fn few_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  few_rows_block(gid.x * 4u, wid.y * FEW_ROWS, 0u);
}
