// SPLADE pooling (sentence-transformers' SpladePooling): one invocation per vocabulary entry v,
// over a chunk of a batch's token rows whose masked-LM logits sit in Logits [rows, V] (the decoder
// matmul's output, bias added): w = log(1 + relu(logit)), a second log(1 + w) for OpenSearch's
// log1p_relu, then the max (or the sum) into its text's row of Out [batch texts, V]. Padding rows (past
// a text's length) are skipped; Out starts zeroed, so a text's first chunk needs no other start.
// Consecutive invocations read consecutive logits of one row: the chunk streams once.

struct SpladeParams {
  // Padded length of the batch's texts: token row t is text t / S, position t % S.
  S: u32,
  V: u32,
  // The chunk's first token row within the batch, and its number of rows.
  row0: u32,
  rows: u32,
  // 0: max over tokens, 1: sum.
  sum: u32,
  // 1: log1p twice (log1p_relu).
  twice: u32,
}

@group(0) @binding(0) var<uniform> P: SpladeParams;
@group(0) @binding(1) var<storage, read> Logits: array<f32>;
@group(0) @binding(2) var<storage, read> Lengths: array<u32>;
@group(0) @binding(3) var<storage, read_write> Out: array<f32>;

// log(1 + x) without the rounding of 1 + x swallowing a small x (WGSL has no log1p).
fn log1p(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) {
    return x;
  }
  return log(u) * (x / (u - 1.0));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let v = gid.x;
  if (v >= P.V) {
    return;
  }
  for (var r = 0u; r < P.rows; r++) {
    let t = P.row0 + r;
    let text = t / P.S;
    if (t % P.S >= Lengths[text]) {
      continue;
    }
    let logit = Logits[r * P.V + v];
    if (!(logit > 0.0)) {
      continue;
    }
    var w = log1p(logit);
    if (P.twice == 1u) {
      w = log1p(w);
    }
    let at = text * P.V + v;
    if (P.sum == 1u) {
      Out[at] += w;
    } else {
      Out[at] = max(Out[at], w);
    }
  }
}
