// Weight decoder for matmul.wgsl: plain f32, row-major [N, K].
@group(0) @binding(4) var<storage, read> W: array<f32>;

fn weight(n: u32, k: u32) -> f32 {
  return W[n * P.K + k];
}

fn weight4(n: u32, k: u32) -> vec4<f32> {
  let i = n * P.K + k;
  return vec4<f32>(W[i], W[i + 1u], W[i + 2u], W[i + 3u]);
}
