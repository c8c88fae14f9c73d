// Multi-head scaled dot-product attention over right-padded rows, one invocation per query.
// QKV is the fused projection output [rows * S, 3H] (query | key | value per token). Keys are
// streamed through workgroup memory a tile at a time with an online (running-max) softmax, so
// the S x S score matrix never exists and long rows cost no extra memory. Keys at or past the
// row's length are masked out; every row has at least one real token, so the sum is never 0.

struct AttentionParams {
  S: u32,
  H: u32,
  head_dim: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> P: AttentionParams;
@group(0) @binding(1) var<storage, read> QKV: array<f32>;
@group(0) @binding(2) var<storage, read> Lengths: array<u32>;
@group(0) @binding(3) var<storage, read_write> Out: array<f32>;

const QUERIES: u32 = 64u;
const MAX_HEAD_DIM: u32 = 128u;
// Keys per tile: 2048 floats each for K and V stays inside the 16 KiB workgroup-memory minimum.
override KEY_TILE: u32 = 32u;
const TILE_FLOATS: u32 = 2048u;

var<workgroup> k_tile: array<f32, TILE_FLOATS>;
var<workgroup> v_tile: array<f32, TILE_FLOATS>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let row = wid.z;
  let head = wid.y;
  let qi = wid.x * QUERIES + li;
  let len = Lengths[row];
  let d = P.head_dim;
  let stride = 3u * P.H;
  let q_active = qi < P.S;
  let q_base = (row * P.S + min(qi, P.S - 1u)) * stride + head * d;

  var q: array<f32, MAX_HEAD_DIM>;
  var acc: array<f32, MAX_HEAD_DIM>;
  for (var c = 0u; c < d; c++) {
    q[c] = QKV[q_base + c] * P.scale;
    acc[c] = 0.0;
  }
  var running_max = -3.4e38;
  var running_sum = 0.0;
  var scores: array<f32, 64>;

  for (var j0 = 0u; j0 < len; j0 += KEY_TILE) {
    let tile_len = min(KEY_TILE, len - j0);
    for (var i = li; i < tile_len * d; i += QUERIES) {
      let j = i / d;
      let c = i % d;
      let k_base = (row * P.S + j0 + j) * stride + head * d;
      k_tile[i] = QKV[k_base + P.H + c];
      v_tile[i] = QKV[k_base + 2u * P.H + c];
    }
    workgroupBarrier();

    var tile_max = running_max;
    for (var j = 0u; j < tile_len; j++) {
      var s = 0.0;
      for (var c = 0u; c < d; c++) {
        s += q[c] * k_tile[j * d + c];
      }
      scores[j] = s;
      tile_max = max(tile_max, s);
    }
    // Rescale what was accumulated under the old maximum once per tile, not once per key.
    let correction = exp(running_max - tile_max);
    running_sum *= correction;
    for (var c = 0u; c < d; c++) {
      acc[c] *= correction;
    }
    for (var j = 0u; j < tile_len; j++) {
      let p = exp(scores[j] - tile_max);
      running_sum += p;
      for (var c = 0u; c < d; c++) {
        acc[c] += p * v_tile[j * d + c];
      }
    }
    running_max = tile_max;
    workgroupBarrier();
  }

  if (q_active) {
    let o_base = (row * P.S + qi) * P.H + head * d;
    let inv = 1.0 / running_sum;
    for (var c = 0u; c < d; c++) {
      Out[o_base + c] = acc[c] * inv;
    }
  }
}
