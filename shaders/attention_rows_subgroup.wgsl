// attention.wgsl on CPU adapters, which load memory lane by lane inside loops even where every
// lane wants the same address: lanes 0-3 of each subgroup read one component each and broadcast
// them through registers (as matmul_rows_subgroup.wgsl does for X).
enable subgroups;

fn head4(base: u32, pos: u32, c: u32, lane: u32, rotate: bool) -> vec4<f32> {
  let x = head_value(base, pos, c + (lane & 3u), rotate);
  return vec4<f32>(subgroupBroadcast(x, 0u), subgroupBroadcast(x, 1u), subgroupBroadcast(x, 2u), subgroupBroadcast(x, 3u));
}

@compute @workgroup_size(64)
fn main(
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  attend(li, wid, lane);
}
