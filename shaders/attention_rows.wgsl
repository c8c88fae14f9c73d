// attention.wgsl on GPUs and on adapters without subgroups: each invocation reads the four
// components itself, at the same addresses as the rest of the workgroup.
fn head4(base: u32, pos: u32, c: u32, lane: u32, rotate: bool) -> vec4<f32> {
  return vec4<f32>(
    head_value(base, pos, c, rotate),
    head_value(base, pos, c + 1u, rotate),
    head_value(base, pos, c + 2u, rotate),
    head_value(base, pos, c + 3u, rotate),
  );
}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  attend(li, wid, 0u);
}
