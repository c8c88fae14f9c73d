// LayerNorm over rows, one workgroup per row, in two forms:
//   main:    X[row] = LayerNorm(X[row] + Residual[row]) in place (BERT's post-norm sub-layers;
//            fusing the residual add saves a full read and write of the activations);
//   norm_to: Out[row] = LayerNorm(X[row]), X untouched (ModernBERT's pre-norm: the residual
//            stream X must survive its normalised copy).
// X (and Residual) hold XElem, Out YElem (see matmul.wgsl); the statistics are f32.
// A row is H values at row * stride + offset: stride H for whole rows; in main without a residual
// a block of columns of wider rows (jina-bert-v2-qk-post-norm norms the query and the key columns
// of the stacked q/k/v rows in place, so the attention reads them where it always does).

struct NormParams {
  H: u32,
  eps: f32,
  stride: u32,
  offset: u32,
}

@group(0) @binding(0) var<uniform> P: NormParams;
@group(0) @binding(1) var<storage, read_write> X: array<XElem>;
@group(0) @binding(2) var<storage, read> Residual: array<XElem>;
@group(0) @binding(3) var<storage, read> Gamma: array<f32>;
@group(0) @binding(4) var<storage, read> Beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> Out: array<YElem>;

// 0 for the embedding LayerNorm, which has no residual branch.
override HAS_RESIDUAL: u32 = 1u;

// (mean, 1 / sqrt(variance + eps)) of the row of X at `base`. Two-pass variance: the one-pass
// E[x^2] - mean^2 form loses digits on large activations.
fn row_stats(li: u32, base: u32) -> vec2<f32> {
  var sum = 0.0;
  for (var c = li; c < P.H; c += REDUCE_THREADS) {
    sum += f32(X[base + c]);
  }
  let mean = workgroup_sum(li, sum) / f32(P.H);
  var sq = 0.0;
  for (var c = li; c < P.H; c += REDUCE_THREADS) {
    let t = f32(X[base + c]) - mean;
    sq += t * t;
  }
  return vec2(mean, inverseSqrt(workgroup_sum(li, sq) / f32(P.H) + P.eps));
}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let base = wid.x * P.stride + P.offset;
  if (HAS_RESIDUAL == 1u) {
    for (var c = li; c < P.H; c += REDUCE_THREADS) {
      X[base + c] = XElem(f32(X[base + c]) + f32(Residual[base + c]));
    }
  }
  // Each invocation re-reads only the columns it wrote, so no barrier is needed before the stats.
  let s = row_stats(li, base);
  for (var c = li; c < P.H; c += REDUCE_THREADS) {
    X[base + c] = XElem((f32(X[base + c]) - s.x) * s.y * Gamma[c] + Beta[c]);
  }
}

@compute @workgroup_size(64)
fn norm_to(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let base = wid.x * P.stride + P.offset;
  let s = row_stats(li, base);
  for (var c = li; c < P.H; c += REDUCE_THREADS) {
    Out[base + c] = YElem((f32(X[base + c]) - s.x) * s.y * Gamma[c] + Beta[c]);
  }
}
