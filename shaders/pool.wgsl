// One workgroup per text: pool its real tokens (mean over the mask, the first or the last token),
// keep the first `dims` numbers (Matryoshka truncation), optionally L2-normalise, and write
// the vector to row `out_row0 + row` of the call's output, so every batch of a call lands in
// one buffer and is read back once. Hidden holds XElem (see matmul.wgsl); the sums and Out are f32.

struct PoolParams {
  S: u32,
  H: u32,
  dims: u32,
  out_row0: u32,
  // 0: first token, 1: mean, 2: last real token.
  mode: u32,
  normalize: u32,
}

@group(0) @binding(0) var<uniform> P: PoolParams;
@group(0) @binding(1) var<storage, read> Hidden: array<XElem>;
@group(0) @binding(2) var<storage, read> Lengths: array<u32>;
@group(0) @binding(3) var<storage, read_write> Out: array<f32>;


@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let row = wid.x;
  let len = Lengths[row];
  let base = row * P.S * P.H;
  let out_base = (P.out_row0 + row) * P.dims;
  var sq = 0.0;
  for (var c = li; c < P.dims; c += REDUCE_THREADS) {
    let row0 = select(0u, len - 1u, P.mode == 2u);
    var v = f32(Hidden[base + row0 * P.H + c]);
    if (P.mode == 1u) {
      for (var t = 1u; t < len; t++) {
        v += f32(Hidden[base + t * P.H + c]);
      }
      v /= f32(len);
    }
    Out[out_base + c] = v;
    sq += v * v;
  }
  if (P.normalize == 0u) {
    return;
  }
  let total = workgroup_sum(li, sq);
  let inv = 1.0 / max(sqrt(total), 1e-12);
  for (var c = li; c < P.dims; c += REDUCE_THREADS) {
    Out[out_base + c] *= inv;
  }
}
