// Workgroup-wide sum for 64-invocation workgroups, prepended to kernels that reduce a row.
const REDUCE_THREADS: u32 = 64u;
var<workgroup> reduce_scratch: array<f32, REDUCE_THREADS>;

// Every invocation of the workgroup must call this (it holds barriers); all get the total.
fn workgroup_sum(li: u32, v: f32) -> f32 {
  reduce_scratch[li] = v;
  workgroupBarrier();
  for (var stride = REDUCE_THREADS / 2u; stride > 0u; stride /= 2u) {
    if (li < stride) {
      reduce_scratch[li] += reduce_scratch[li + stride];
    }
    workgroupBarrier();
  }
  let total = reduce_scratch[0];
  workgroupBarrier();
  return total;
}
