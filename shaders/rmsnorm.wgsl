// RMSNorm (Qwen3, Gemma 3) over runs of `width` values, one workgroup per run; run (wid.x, wid.y)
// starts at wid.x * row_stride + offset + wid.y * width, so one dispatch covers every token's
// hidden row (wid.y = 0) or every query or key head of the fused QKV rows. Gamma is the factor
// the norm multiplies by (Gemma's 1 + w folded in by the checkpoint reader). Four forms:
//   main:     X[run] = RMSNorm(X[run]) in place (per-head q/k norms, the final norm);
//   norm_to:  Out[run] = RMSNorm(X[run]), X kept (a pre-norm sub-layer's input: X is the
//             residual stream);
//   norm_add: Out[run] += RMSNorm(X[run]) (Gemma's post norms: a sub-layer's output, normed,
//             joins the residual stream Out);
//   scale_to: Out[run] = X[run] * scale (Gemma's embeddings times sqrt(hidden_size); Gamma unread).
// X holds XElem, Out YElem (see matmul.wgsl); the sums of squares are f32.

struct RmsParams {
  width: u32,
  row_stride: u32,
  offset: u32,
  eps: f32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> P: RmsParams;
@group(0) @binding(1) var<storage, read_write> X: array<XElem>;
@group(0) @binding(2) var<storage, read> Gamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> Out: array<YElem>;

fn run_base(wid: vec3<u32>) -> u32 {
  return wid.x * P.row_stride + P.offset + wid.y * P.width;
}

// 1 / sqrt(mean(x^2) + eps) of the run at `base`.
fn inv_rms(li: u32, base: u32) -> f32 {
  var sq = 0.0;
  for (var c = li; c < P.width; c += REDUCE_THREADS) {
    let v = f32(X[base + c]);
    sq += v * v;
  }
  return inverseSqrt(workgroup_sum(li, sq) / f32(P.width) + P.eps);
}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let base = run_base(wid);
  // Each invocation rewrites only the values it read, so no barrier is needed in between.
  let inv = inv_rms(li, base);
  for (var c = li; c < P.width; c += REDUCE_THREADS) {
    X[base + c] = XElem(f32(X[base + c]) * inv * Gamma[c]);
  }
}

@compute @workgroup_size(64)
fn norm_to(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let base = run_base(wid);
  let inv = inv_rms(li, base);
  for (var c = li; c < P.width; c += REDUCE_THREADS) {
    Out[base + c] = YElem(f32(X[base + c]) * inv * Gamma[c]);
  }
}

@compute @workgroup_size(64)
fn norm_add(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let base = run_base(wid);
  let inv = inv_rms(li, base);
  for (var c = li; c < P.width; c += REDUCE_THREADS) {
    Out[base + c] = YElem(f32(Out[base + c]) + f32(X[base + c]) * inv * Gamma[c]);
  }
}

@compute @workgroup_size(64)
fn scale_to(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let base = run_base(wid);
  for (var c = li; c < P.width; c += REDUCE_THREADS) {
    Out[base + c] = YElem(f32(X[base + c]) * P.scale);
  }
}
