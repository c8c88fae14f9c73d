// In place: X[row] = LayerNorm(X[row] + Residual[row]) * gamma + beta, one workgroup per row.
// Fusing the residual add saves a full read and write of the activations per sub-layer.

struct NormParams {
  H: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> P: NormParams;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read> Residual: array<f32>;
@group(0) @binding(3) var<storage, read> Gamma: array<f32>;
@group(0) @binding(4) var<storage, read> Beta: array<f32>;

// 0 for the embedding LayerNorm, which has no residual branch.
override HAS_RESIDUAL: u32 = 1u;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let base = wid.x * P.H;
  var sum = 0.0;
  for (var c = li; c < P.H; c += REDUCE_THREADS) {
    var v = X[base + c];
    if (HAS_RESIDUAL == 1u) {
      v += Residual[base + c];
      X[base + c] = v;
    }
    sum += v;
  }
  let mean = workgroup_sum(li, sum) / f32(P.H);
  // Two-pass variance: the one-pass E[x^2] - mean^2 form loses digits on large activations.
  var sq = 0.0;
  for (var c = li; c < P.H; c += REDUCE_THREADS) {
    let t = X[base + c] - mean;
    sq += t * t;
  }
  let inv = inverseSqrt(workgroup_sum(li, sq) / f32(P.H) + P.eps);
  for (var c = li; c < P.H; c += REDUCE_THREADS) {
    X[base + c] = (X[base + c] - mean) * inv * Gamma[c] + Beta[c];
  }
}
