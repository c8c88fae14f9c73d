// A task adapter's low-rank update to a projection (jina-embeddings-v3's LoRA): the projection
// W x + b runs as it was quantized and shared by every task, and these two passes add B (A x)
// for the task a call runs, in f32, before the projection's activation:
//   down: T[m, k] = sum_c A[k, c] X[m, c], one workgroup per token row (the rank is a handful,
//         so each of its sums is a workgroup reduction over the row);
//   up:   Y[m, n] = act(Y[m, n] + sum_k B[n, k] T[m, k]), one invocation per output.
// A is [rank, cols] and B [rows, rank] at the task's offsets into the stacked adapters; B
// carries the adapters' scale. X holds XElem, Y YElem (see matmul.wgsl).

struct LoraParams {
  M: u32,
  cols: u32,
  rows: u32,
  rank: u32,
  downAt: u32,
  upAt: u32,
  // 1: GELU after the update (the feed-forward's input projection, whose matmul then has none).
  gelu: u32,
}

@group(0) @binding(0) var<uniform> P: LoraParams;
@group(0) @binding(1) var<storage, read> X: array<XElem>;
@group(0) @binding(2) var<storage, read> Down: array<f32>;
@group(0) @binding(3) var<storage, read_write> T: array<f32>;
@group(0) @binding(4) var<storage, read> Up: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<YElem>;

@compute @workgroup_size(64)
fn down(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let row = wid.x * P.cols;
  for (var k = 0u; k < P.rank; k++) {
    let a = P.downAt + k * P.cols;
    var sum = 0.0;
    for (var c = li; c < P.cols; c += REDUCE_THREADS) {
      sum += Down[a + c] * f32(X[row + c]);
    }
    let total = workgroup_sum(li, sum);
    if (li == 0u) {
      T[wid.x * P.rank + k] = total;
    }
  }
}

@compute @workgroup_size(64)
fn up(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let m = gid.y;
  if (n >= P.rows) {
    return;
  }
  var sum = 0.0;
  for (var k = 0u; k < P.rank; k++) {
    sum += Up[P.upAt + n * P.rank + k] * T[m * P.rank + k];
  }
  let i = m * P.rows + n;
  let v = f32(Y[i]) + sum;
  Y[i] = YElem(select(v, gelu(v), P.gelu == 1u));
}
